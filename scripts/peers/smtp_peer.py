"""A real SMTP server (aiosmtpd) for RosterFlow's tests and `rosterflow-bench notify`.

Prints `READY <port>` once it listens on 127.0.0.1. Each accepted message is parsed with Python's email package and
appended as one JSON line to --out (unless --quiet). Modes:
  accept          250 for every message
  451-then-250    451 for the first attempt of each Message-ID, 250 afterwards
  550             550 for every message
--hold-first SECONDS: record the first attempt of each Message-ID as soon as its data has arrived, then wait SECONDS
before replying (the sender has sent the message and not yet heard back: the window a crash can hit).
TLS: --tls-cert/--tls-key with --starttls (STARTTLS offered and required before MAIL) or --implicit-tls (smtps://,
TLS from the first byte). Each record then says whether the session was encrypted ("tls").
AUTH: --auth USER:PASSWORD offers AUTH (only after TLS, unless --auth-without-tls) and accepts only those credentials;
each record then names the login it was sent under ("login", null without AUTH).
"""
import argparse, asyncio, hashlib, os, time, email, email.policy, json, signal, socket, ssl, sys, threading

from aiosmtpd.smtp import SMTP, AuthResult


class Authenticator:
    def __init__(self, credentials):
        self.login, self.password = credentials.split(":", 1)

    def __call__(self, server, session, envelope, mechanism, auth_data):
        login = auth_data.login.decode("utf-8", "replace") if auth_data.login else ""
        password = auth_data.password.decode("utf-8", "replace") if auth_data.password else ""
        ok = login == self.login and password == self.password
        return AuthResult(success=ok, handled=False, auth_data=login if ok else None)


class Handler:
    def __init__(self, mode, out, quiet, hold_first=0.0):
        self.mode, self.out, self.quiet, self.hold_first = mode, out, quiet, hold_first
        self.seen = {}
        self.count = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        message_id = str(message.get("Message-ID", ""))
        with self.lock:
            self.seen[message_id] = self.seen.get(message_id, 0) + 1
            attempt = self.seen[message_id]
            self.count += 1
        if self.mode == "550":
            reply = "550 5.7.1 Recipient refused by policy"
        elif self.mode == "451-then-250" and attempt == 1:
            reply = "451 4.3.0 Try again later"
        else:
            reply = "250 OK queued"
        if not self.quiet:
            tls = session.ssl is not None or server.transport.get_extra_info("ssl_object") is not None
            login = session.auth_data if session.authenticated else None
            record = {"reply": reply, "attempt": attempt, "mail_from": envelope.mail_from, "tls": tls, "login": login,
                      "rcpt_tos": envelope.rcpt_tos, "message_id": message_id,
                      "subject": str(message.get("Subject", "")), "from": str(message.get("From", "")),
                      "to": str(message.get("To", "")), "date": str(message.get("Date", "")),
                      "content_type": message.get_content_type(),
                      "sha256": hashlib.sha256(envelope.content).hexdigest(),
                      "raw_subject": envelope.content.decode("utf-8", "replace").split("\r\nSubject: ", 1)[-1].split("\r\n")[0]}
            if message.is_multipart():
                parts = list(message.iter_parts())
                record["parts"] = [p.get_content_type() for p in parts]
                for p in parts:
                    record[p.get_content_type()] = p.get_content()
            with self.lock, open(self.out, "a", encoding="utf-8") as f:
                f.write(json.dumps(record) + "\n")
        if self.hold_first > 0 and attempt == 1:
            await asyncio.sleep(self.hold_first)
        return reply


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", default="accept", choices=["accept", "451-then-250", "550"])
    parser.add_argument("--out", default="/dev/null")
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument("--hold-first", type=float, default=0.0,
                        help="seconds to wait before replying to the first attempt of each Message-ID (after recording it)")
    parser.add_argument("--tls-cert")
    parser.add_argument("--tls-key")
    parser.add_argument("--starttls", action="store_true", help="offer STARTTLS and require it before MAIL")
    parser.add_argument("--implicit-tls", action="store_true", help="TLS from the first byte (smtps://)")
    parser.add_argument("--auth", help="USER:PASSWORD: offer AUTH and accept only these credentials")
    parser.add_argument("--auth-without-tls", action="store_true", help="offer AUTH on an unencrypted connection too")
    args = parser.parse_args()
    # A parent may start us with signals blocked (Foundation's Process does): take SIGTERM and SIGINT back.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})
    # The listening socket is bound to port 0 and kept: no probe-close-rebind race with other processes.
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    port = listener.getsockname()[1]
    handler = Handler(args.mode, args.out, args.quiet, args.hold_first)
    options, implicit = {}, None
    if args.starttls or args.implicit_tls:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.tls_cert, args.tls_key)
        if args.implicit_tls:
            implicit = context
        else:
            options.update(tls_context=context, require_starttls=True)
    if args.auth:
        options.update(authenticator=Authenticator(args.auth), auth_require_tls=not args.auth_without_tls)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    loop.run_until_complete(loop.create_server(
        lambda: SMTP(handler, hostname="rosterflow-test-peer", **options), sock=listener, ssl=implicit))
    threading.Thread(target=loop.run_forever, daemon=True).start()
    print(f"READY {port}", flush=True)
    # Stop at once on a signal: open client connections (kept alive for reuse) must not hold the exit up.
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    signal.signal(signal.SIGINT, lambda *_: os._exit(0))
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
