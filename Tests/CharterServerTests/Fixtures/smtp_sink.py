"""A local SMTP server for Charter's email tests, on aiosmtpd.

Listens on 127.0.0.1 (a free port), writes the port to OUT/port once it accepts connections, and writes each
message it accepts to OUT/<n>.json: the envelope, whether TLS and AUTH were used, the headers (decoded), the
body (decoded) and the raw text. Runs until it is terminated.

    smtp_sink.py --out DIR [--tls starttls|tls|none] [--cert-dir DIR] [--user NAME --password SECRET]
                 [--mechanisms PLAIN,LOGIN] [--fail-data N] [--reject ADDRESS ...]

--cert-dir: where to make a self-signed certificate for 127.0.0.1 and localhost (cert.pem, key.pem) with openssl,
  unless one is there; the test trusts cert.pem as its CA file.
--fail-data N: answer the first N DATA commands with 451 (a transient failure), to exercise retries.
--reject ADDRESS: answer RCPT TO for this address with 550 (a permanent failure).
"""

import argparse
import asyncio
import email
import email.policy
import json
import os
import signal
import ssl
import subprocess
import sys

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


class Sink:
    def __init__(self, out, fail_data, reject, tls_mode):
        self.out = out
        self.fail_data = fail_data
        self.reject = set(reject)
        self.tls_mode = tls_mode
        self.count = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.reject:
            return "550 5.1.1 <%s>: no such user here" % address
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.fail_data > 0:
            self.fail_data -= 1
            return "451 4.3.0 try again later"
        raw = envelope.original_content
        message = email.message_from_bytes(raw, policy=email.policy.default)
        self.count += 1
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "tls": self.tls_mode == "tls" or session.ssl is not None,
            "auth_user": session.auth_data if session.authenticated else None,
            "headers": {name: str(value) for name, value in message.items()},
            "content_type": message.get_content_type(),
            "charset": message.get_content_charset(),
            "transfer_encoding": message["Content-Transfer-Encoding"],
            "body": message.get_content(),
            "raw": raw.decode("ascii"),
        }
        path = os.path.join(self.out, "%03d.json" % self.count)
        with open(path + ".tmp", "w", encoding="utf-8") as file:
            json.dump(record, file, ensure_ascii=False)
        os.rename(path + ".tmp", path)
        return "250 2.0.0 accepted"


def certificate(directory):
    cert, key = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
    if not os.path.exists(cert):
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=localhost",
             "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
            check=True, capture_output=True,
        )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


async def main():
    # A parent may start this with signals blocked (Foundation's Process does); SIGTERM must stop it.
    signal.pthread_sigmask(signal.SIG_SETMASK, [])
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--tls", choices=["starttls", "tls", "none"], default="starttls")
    parser.add_argument("--cert-dir")
    parser.add_argument("--user")
    parser.add_argument("--password")
    parser.add_argument("--mechanisms", default="PLAIN,LOGIN")
    parser.add_argument("--fail-data", type=int, default=0)
    parser.add_argument("--reject", action="append", default=[])
    args = parser.parse_args()

    context = certificate(args.cert_dir) if args.tls != "none" else None
    handler = Sink(args.out, args.fail_data, args.reject, args.tls)

    def authenticate(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and auth_data.login.decode() == args.user \
            and auth_data.password.decode() == args.password
        # handled=False: aiosmtpd then answers a failure with 535 itself.
        return AuthResult(success=ok, handled=False, auth_data=auth_data.login.decode() if ok else None)

    excluded = [m for m in ("PLAIN", "LOGIN") if m not in args.mechanisms.split(",")]

    def factory():
        return SMTP(
            handler,
            hostname="sink.test",
            tls_context=context if args.tls == "starttls" else None,
            require_starttls=args.tls == "starttls",
            authenticator=authenticate if args.user else None,
            auth_required=bool(args.user),
            auth_require_tls=args.tls == "starttls",
            auth_exclude_mechanism=excluded,
        )

    loop = asyncio.get_running_loop()
    server = await loop.create_server(factory, "127.0.0.1", 0, ssl=context if args.tls == "tls" else None)
    port_file = os.path.join(args.out, "port")
    with open(port_file + ".tmp", "w", encoding="utf-8") as file:
        file.write(str(server.sockets[0].getsockname()[1]))
    os.rename(port_file + ".tmp", port_file)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
