"""Checks the sample `rosterflow-bench receiver` kept: each sampled request's Standard Webhooks signature is verified
again with the `standardwebhooks` package, independently of the receiver's own Swift check.

Prints `VERIFIED <verified> <sampled>` (and one line per failure on stderr); exits 1 unless all verify."""
import argparse, base64, json, sys

from standardwebhooks.webhooks import Webhook


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("sample")
    parser.add_argument("--secret", required=True)
    args = parser.parse_args()
    verifier = Webhook(args.secret)
    total = verified = 0
    with open(args.sample, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            record = json.loads(line)
            total += 1
            try:
                verifier.verify(base64.b64decode(record["body_b64"]), record["headers"])
                verified += 1
            except Exception as error:  # noqa: BLE001 - report every failure
                print(f"not verified: {record['headers'].get('webhook-id')}: {error}", file=sys.stderr)
    print(f"VERIFIED {verified} {total}", flush=True)
    sys.exit(0 if total > 0 and verified == total else 1)


if __name__ == "__main__":
    main()
