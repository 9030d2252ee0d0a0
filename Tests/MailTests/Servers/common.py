"""Shared parts of the test SMTP servers (aiosmtpd, from Debian's python3-aiosmtpd).

Each server listens on 127.0.0.1 on a free port, prints "PORT <n>" on its first stdout line, saves
what it accepts into the folder given with --dir, and exits when its stdin closes, so it never
outlives the test that started it.
"""

import argparse
import asyncio
import email
import email.policy
import json
import os
import sys
import threading

from aiosmtpd.smtp import SMTP


def arguments(extra=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", required=True, help="folder for the accepted messages")
    if extra:
        extra(parser)
    return parser.parse_args()


class SavingHandler:
    """Accepts every message and saves it as N.eml (the bytes received, dot-unstuffed) and N.json
    (the envelope, and the message as Python's email package parses it)."""

    def __init__(self, folder):
        self.folder = folder
        self.count = 0

    def save(self, session, envelope):
        self.count += 1
        raw = envelope.original_content
        base = os.path.join(self.folder, str(self.count))
        with open(base + ".eml", "wb") as f:
            f.write(raw)
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        body = parsed.get_content()
        summary = {
            "mail_from": envelope.mail_from,
            "mail_options": envelope.mail_options,
            "rcpt_tos": envelope.rcpt_tos,
            "helo": session.host_name,
            "authenticated": bool(session.authenticated),
            "auth_login": session.auth_data.login.decode() if session.auth_data else None,
            "auth_mechanism": getattr(session, "test_mechanism", None),
            "headers": [[name, str(value)] for name, value in parsed.items()],
            "subject": str(parsed["Subject"]),
            "from": str(parsed["From"]),
            "to": str(parsed["To"]),
            "from_display_name": parsed["From"].addresses[0].display_name if parsed["From"] else None,
            "to_addresses": [a.addr_spec for a in parsed["To"].addresses] if parsed["To"] else [],
            "message_id": str(parsed["Message-ID"]),
            "date": str(parsed["Date"]),
            "date_parsed": parsed["Date"] is not None and parsed["Date"].datetime is not None,
            "content_type": parsed.get_content_type(),
            "charset": parsed.get_content_charset(),
            "transfer_encoding": parsed.get("Content-Transfer-Encoding"),
            "body": body,
            "defects": [type(d).__name__ for d in parsed.defects],
        }
        with open(base + ".json", "w", encoding="utf-8") as f:
            json.dump(summary, f, ensure_ascii=False)
        return f"250 2.0.0 Ok: saved as {self.count}"

    async def handle_DATA(self, server, session, envelope):
        return self.save(session, envelope)


def serve(handler, **smtp_options):
    """Runs the server until stdin closes."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)

    def factory():
        return SMTP(handler, hostname="aiosmtpd.test", loop=loop, **smtp_options)

    server = loop.run_until_complete(loop.create_server(factory, host="127.0.0.1", port=0))
    port = server.sockets[0].getsockname()[1]
    print(f"PORT {port}", flush=True)

    def watch_stdin():
        sys.stdin.buffer.read()
        loop.call_soon_threadsafe(loop.stop)

    threading.Thread(target=watch_stdin, daemon=True).start()
    loop.run_forever()
    server.close()
