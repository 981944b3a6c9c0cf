#!/usr/bin/python3
"""hkmail-ratelimit: per-login sending limits on submission (a Postfix policy service).

A stolen login must not turn the server into a spam cannon: per SASL login, at most N recipients
outside our domain and M messages in any sliding hour. Over a limit Postfix answers 450 (the
client may retry later) and this service logs one ``hkmail-ratelimit: LIMIT`` line naming the
login, the limit and the client address: hkmail-logship ships it to the log store as
``severity: alarm``. On Alibaba Cloud an SLS alert fires on it, with no receiver until an
action policy is chosen in the console; on Tencent Cloud no alarm is created (README, *Server
logs and alarms*).

Postfix asks at RCPT (recipients) and at the end of DATA (messages), on the submission services
only (master.cf). State is in memory: a restart forgets the last hour, which only errs towards
letting mail through.

Usage: hkmail-ratelimit SOCKET DOMAIN RECIPIENTS_PER_HOUR MESSAGES_PER_HOUR
"""

from __future__ import annotations

import collections
import os
import socketserver
import sys
import threading
import time

WINDOW = 3600.0  # seconds: the limits are per sliding hour


class Limits:
    def __init__(self, domain: str, recipients: int, messages: int) -> None:
        self.domain = domain.lower()
        self.limit = {"recipients": recipients, "messages": messages}
        self.seen: dict[tuple[str, str], collections.deque[float]] = {}
        self.lock = threading.Lock()

    def _outside(self, recipient: str) -> bool:
        domain = recipient.rpartition("@")[2].lower()
        return domain != self.domain and not domain.endswith("." + self.domain)

    def decide(self, attrs: dict[str, str]) -> str:
        login = attrs.get("sasl_username", "").lower()
        state = attrs.get("protocol_state", "").upper()
        if not login:
            return "DUNNO"
        if state == "RCPT" and self._outside(attrs.get("recipient", "")):
            kind = "recipients"
        elif state == "END-OF-MESSAGE":
            kind = "messages"
        else:
            return "DUNNO"
        now = time.monotonic()
        with self.lock:
            times = self.seen.setdefault((login, kind), collections.deque())
            while times and times[0] <= now - WINDOW:
                times.popleft()
            if len(times) >= self.limit[kind]:
                print(
                    f"hkmail-ratelimit: LIMIT user={login} kind={kind} "
                    f"limit={self.limit[kind]}/hour client={attrs.get('client_address', '')}",
                    file=sys.stderr,
                    flush=True,
                )
                return (
                    f"450 4.7.1 {login} reached its limit of {self.limit[kind]} {kind} "
                    "per hour; try again later"
                )
            times.append(now)
        return "DUNNO"


def serve(path: str, limits: Limits) -> None:
    class Handler(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            attrs: dict[str, str] = {}
            for raw in self.rfile:
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                if line:
                    name, _, value = line.partition("=")
                    attrs[name] = value
                    continue
                self.wfile.write(f"action={limits.decide(attrs)}\n\n".encode())
                self.wfile.flush()
                attrs = {}

    if os.path.exists(path):
        os.unlink(path)
    os.umask(0o007)  # the socket: owner and group (Postfix is a member) only
    with socketserver.ThreadingUnixStreamServer(path, Handler) as server:
        server.daemon_threads = True
        server.serve_forever()


def main(argv: list[str]) -> int:
    if len(argv) != 5 or not (argv[3].isdigit() and argv[4].isdigit()):
        print(__doc__, file=sys.stderr)
        return 2
    serve(argv[1], Limits(argv[2], int(argv[3]), int(argv[4])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
