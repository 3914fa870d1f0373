"""An HTTP webhook receiver for RosterFlow's tests and `rosterflow-bench notify`.

Prints `READY <port>` once it listens on 127.0.0.1. Every request's Standard Webhooks signature is checked with the
`standardwebhooks` package; each request is appended as one JSON line to --out (unless --quiet). Modes:
  ok               200 when the signature verifies, 401 otherwise
  500-then-200     500 for the first attempt of each webhook-id, then as `ok`
  429-then-200     429 with Retry-After: 1 for the first attempt of each webhook-id, then as `ok`
  hang             never answers in time (sleeps --hang seconds)
  400              400 for every request
"""
import argparse, os, json, signal, socket, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--secret", required=True)
    parser.add_argument("--mode", default="ok", choices=["ok", "500-then-200", "429-then-200", "hang", "400"])
    parser.add_argument("--out", default="/dev/null")
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument("--hang", type=float, default=30)
    parser.add_argument("--trust", action="store_true", help="skip signature checks (benchmark throughput only)")
    args = parser.parse_args()
    # A parent may start us with signals blocked (Foundation's Process does): take SIGTERM and SIGINT back.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})
    verifier = Webhook(args.secret)
    seen, lock = {}, threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out as two writes: without this, Nagle holds the body for the client's delayed ACK.
        disable_nagle_algorithm = True

        def log_message(self, *_):
            pass

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            hook_id = self.headers.get("webhook-id", "")
            with lock:
                seen[hook_id] = seen.get(hook_id, 0) + 1
                attempt = seen[hook_id]
            if args.trust:
                verified = True
            else:
                try:
                    verifier.verify(body, {k.lower(): v for k, v in self.headers.items()})
                    verified = True
                except Exception:  # noqa: BLE001 - any failure is a bad signature
                    verified = False
            status, extra = 200, {}
            if args.mode == "hang":
                time.sleep(args.hang)
            if args.mode == "500-then-200" and attempt == 1:
                status = 500
            elif args.mode == "429-then-200" and attempt == 1:
                status, extra = 429, {"Retry-After": "1"}
            elif args.mode == "400":
                status = 400
            elif not verified:
                status = 401
            if not args.quiet:
                record = {"id": hook_id, "attempt": attempt, "verified": verified, "status": status,
                          "timestamp": self.headers.get("webhook-timestamp"), "body": json.loads(body or b"null")}
                with lock, open(args.out, "a", encoding="utf-8") as f:
                    f.write(json.dumps(record) + "\n")
            reply = b'{"ok": true}' if status == 200 else b'{"error": "nope"}'
            self.send_response(status)
            for key, value in extra.items():
                self.send_header(key, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer.request_queue_size = 128
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(f"READY {server.server_address[1]}", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    signal.signal(signal.SIGINT, lambda *_: os._exit(0))
    server.serve_forever()


if __name__ == "__main__":
    main()
