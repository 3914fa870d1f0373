"""The plain-Python baseline for `rosterflow-bench notify`: N e-mails through smtplib on one reused connection, or
N signed webhooks through urllib one request at a time. Prints `RATE <messages per second>`."""
import argparse, json, smtplib, time, urllib.request
from email.message import EmailMessage

from standardwebhooks.webhooks import Webhook


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["smtp", "webhook"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--count", type=int, default=10000)
    parser.add_argument("--secret", default="")
    args = parser.parse_args()
    started = time.perf_counter()
    if args.mode == "smtp":
        with smtplib.SMTP("127.0.0.1", args.port) as smtp:
            for i in range(args.count):
                message = EmailMessage()
                message["From"] = "RosterFlow <notify@rosterflow.test>"
                message["To"] = "ana@vendor.test"
                message["Subject"] = f"New integration request: District {i}"
                message["Message-ID"] = f"<py{i}@rosterflow.test>"
                message.set_content(f"District {i} enabled the app in ClassLink.\n")
                message.add_alternative(f"<p>District {i} enabled the app in ClassLink.</p>\n", subtype="html")
                smtp.send_message(message)
    else:
        signer = Webhook(args.secret)
        url = f"http://127.0.0.1:{args.port}/hooks"
        for i in range(args.count):
            body = json.dumps({"type": "rosterflow.notification.integration-requested",
                               "data": {"id": f"py{i}", "values": {"district": f"District {i}"}}})
            now = int(time.time())
            from datetime import datetime, timezone
            signature = signer.sign(f"py{i}", datetime.fromtimestamp(now, tz=timezone.utc), body)
            request = urllib.request.Request(url, data=body.encode(), method="POST", headers={
                "Content-Type": "application/json", "webhook-id": f"py{i}", "webhook-timestamp": str(now),
                "webhook-signature": signature})
            with urllib.request.urlopen(request, timeout=10) as response:
                response.read()
    elapsed = time.perf_counter() - started
    print(f"RATE {args.count / elapsed:.1f}", flush=True)


if __name__ == "__main__":
    main()
