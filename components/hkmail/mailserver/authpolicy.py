#!/usr/bin/python3
"""hkmail-authpolicy: Dovecot's authentication policy server, per client address.

A password sprayer with many connections from one address makes Dovecot hash every guess
(ARGON2ID: expensive on purpose) until the auth workers saturate and real users' logins fail.
Dovecot asks this service before checking a password (``command=allow``) and tells it the outcome
afterwards (``command=report``). An address with FAILURES failed logins in the last WINDOW
seconds is refused before its password is hashed, whatever the password, until its failures age
out; one ``hkmail-authpolicy: BLOCK`` line is logged when the block starts. Other addresses are
not affected. IMAP and SMTP AUTH (Postfix asks Dovecot) are both covered.

Listens on 127.0.0.1 only and answers only requests carrying the key Dovecot is given at boot
(auth_policy_server_api_header), so a local user cannot report failures in others' names.

Usage: hkmail-authpolicy PORT KEY_FILE FAILURES [WINDOW_SECONDS]
"""

from __future__ import annotations

import collections
import hmac
import http.server
import json
import sys
import threading
import time
import urllib.parse


class Failures:
    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self.seen: dict[str, collections.deque[float]] = {}
        self.blocked: set[str] = set()
        self.lock = threading.Lock()

    def _recent(self, remote: str, now: float) -> collections.deque[float]:
        times = self.seen.setdefault(remote, collections.deque())
        while times and times[0] <= now - self.window:
            times.popleft()
        return times

    def allow(self, remote: str) -> bool:
        with self.lock:
            times = self._recent(remote, time.monotonic())
            if len(times) < self.limit:
                self.blocked.discard(remote)
                return True
            if remote not in self.blocked:
                self.blocked.add(remote)
                print(
                    f"hkmail-authpolicy: BLOCK remote={remote} failures={len(times)} "
                    f"window={int(self.window)}s",
                    file=sys.stderr,
                    flush=True,
                )
            return False

    def report(self, remote: str, success: bool, policy_reject: bool) -> None:
        if success or policy_reject:  # a refused attempt tried no password
            return
        with self.lock:
            now = time.monotonic()
            self._recent(remote, now).append(now)


MAX_BODY = 64 * 1024  # Dovecot's requests are a few hundred bytes


def handler(key: str, failures: Failures) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        # Keep-alive: Dovecot reuses its connections instead of opening one per login.
        protocol_version = "HTTP/1.1"
        timeout = 30  # an idle kept-alive connection gives its thread back

        def log_message(self, format: str, *args: object) -> None:
            pass  # one line per login would flood the journal

        def _answer(self, code: int, body: dict[str, object]) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            # The body is read before any answer: on a kept-alive connection an unread body
            # would be parsed as the next request.
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                length = -1
            if not 0 <= length <= MAX_BODY:
                self.close_connection = True
                self._answer(400, {"status": 0, "msg": "bad request"})
                return
            body = self.rfile.read(length)
            given = self.headers.get("X-API-Key", "").strip()
            if not hmac.compare_digest(given.encode(), key.encode()):
                self._answer(403, {"status": 0, "msg": "forbidden"})
                return
            try:
                request = json.loads(body or b"{}")
            except ValueError:
                self._answer(400, {"status": 0, "msg": "bad request"})
                return
            if not isinstance(request, dict):
                self._answer(400, {"status": 0, "msg": "bad request"})
                return
            command = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query).get(
                "command", [""]
            )[0]
            remote = str(request.get("remote", ""))
            if command == "report":
                failures.report(
                    remote, request.get("success") is True, request.get("policy_reject") is True
                )
                self._answer(200, {"status": 0})
            elif failures.allow(remote):
                self._answer(200, {"status": 0})
            else:
                self._answer(200, {"status": -1, "msg": "too many failed logins, try later"})

    return Handler


class Server(http.server.ThreadingHTTPServer):
    # A sprayer's 50 parallel logins are 50 policy requests at once. socketserver's default
    # backlog of 5 drops the rest of the SYNs; their retries outlast Dovecot's 2 s policy timeout,
    # the requests fail open (auth_policy_reject_on_fail = no) and the failures go uncounted.
    request_queue_size = 1024
    daemon_threads = True


def main(argv: list[str]) -> int:
    if len(argv) not in (4, 5) or not all(a.isdigit() for a in (argv[1], argv[3], *argv[4:])):
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[2], encoding="utf-8") as f:
        key = f.read().strip()
    window = float(argv[4]) if len(argv) == 5 else 600.0
    failures = Failures(int(argv[3]), window)
    server = Server(("127.0.0.1", int(argv[1])), handler(key, failures))
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
