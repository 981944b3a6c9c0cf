#!/usr/bin/python3
"""hkmail-journal-milter: one exact copy of every accepted message, spooled before Postfix says 250.

Postfix calls this milter last, on port 25 (inbound for our mailboxes) and on submission
(authenticated users), so it sees only what every earlier check let through. At the end of DATA
it writes the message (headers as received, folding kept, CRLF line ends, the body's bytes) and
its envelope (sender, recipients, time, client, authenticated user, queue id) to the spool on the
encrypted data disk, fsyncs both, and only then lets Postfix accept the message. A spool it cannot
write tempfails the message (the sender retries): a message is never accepted without its copy.
hkmail-journal-upload moves the spool to the archive bucket; mail never waits for the bucket.

Debian's python3-milter; standard library otherwise.

Usage: hkmail-journal-milter unix:/path/to/socket /var/vmail/.hkmail-journal
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import uuid
from typing import Any

import Milter  # type: ignore[import-not-found,unused-ignore]

SPOOL = ""


def spool_entry(spool: str, message: bytes, envelope: dict[str, Any]) -> str:
    """Write ``<id>.eml`` and ``<id>.json`` into ``spool/new`` durably; the JSON (renamed last)
    marks the entry complete. Returns the id."""
    now = dt.datetime.now(dt.UTC)
    ident = f"{now:%Y%m%dT%H%M%S%fZ}-{uuid.uuid4().hex}"
    envelope = {**envelope, "id": ident, "receivedAt": now.isoformat(timespec="microseconds")}
    tmp, new = os.path.join(spool, "tmp"), os.path.join(spool, "new")
    for name, data in (
        (f"{ident}.eml", message),
        (f"{ident}.json", json.dumps(envelope, sort_keys=True).encode()),
    ):
        path = os.path.join(tmp, name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
    os.rename(os.path.join(tmp, f"{ident}.eml"), os.path.join(new, f"{ident}.eml"))
    os.rename(os.path.join(tmp, f"{ident}.json"), os.path.join(new, f"{ident}.json"))
    dirfd = os.open(new, os.O_RDONLY)
    try:
        os.fsync(dirfd)
    finally:
        os.close(dirfd)
    return ident


def _crlf(value: bytes) -> bytes:
    """Postfix hands folded header lines joined by LF; on the wire they were CRLF."""
    return value.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


@Milter.header_leading_space  # type: ignore[misc,unused-ignore]
class JournalMilter(Milter.Base):  # type: ignore[misc,unused-ignore]
    def __init__(self) -> None:
        self.client: dict[str, str | None] = {}
        self._reset()

    def _reset(self) -> None:
        self.sender = ""
        self.recipients: list[str] = []
        self.headers: list[bytes] = []
        self.chunks: list[bytes] = []
        self.user: str | None = None

    def connect(self, hostname: str, family: int, hostaddr: Any) -> int:
        address = hostaddr[0] if isinstance(hostaddr, tuple) and hostaddr else None
        self.client = {"name": hostname, "address": address, "helo": None}
        return Milter.CONTINUE  # type: ignore[no-any-return]

    def hello(self, heloname: str) -> int:
        self.client["helo"] = heloname
        return Milter.CONTINUE  # type: ignore[no-any-return]

    def envfrom(self, mailfrom: str, *params: str) -> int:
        self._reset()
        self.sender = mailfrom.strip("<>")
        self.user = self.getsymval("{auth_authen}")
        return Milter.CONTINUE  # type: ignore[no-any-return]

    def envrcpt(self, to: str, *params: str) -> int:
        self.recipients.append(to.strip("<>"))
        return Milter.CONTINUE  # type: ignore[no-any-return]

    @Milter.decode("bytes")  # type: ignore[misc,untyped-decorator,unused-ignore]  # raw value
    def header(self, name: str, value: bytes) -> int:
        self.headers.append(name.encode("ascii", "surrogateescape") + b":" + _crlf(value) + b"\r\n")
        return Milter.CONTINUE  # type: ignore[no-any-return]

    def body(self, chunk: bytes) -> int:
        self.chunks.append(chunk)
        return Milter.CONTINUE  # type: ignore[no-any-return]

    def eom(self) -> int:
        message = b"".join(self.headers) + b"\r\n" + b"".join(self.chunks)
        envelope = {
            "mailFrom": self.sender.encode("utf-8", "surrogateescape").decode("utf-8", "replace"),
            "rcptTo": self.recipients,
            "authUser": self.user,
            "client": self.client,
            "queueId": self.getsymval("{i}"),
            "service": "submission" if self.user else "inbound",
        }
        try:
            spool_entry(SPOOL, message, envelope)
        except OSError as exc:
            # Never accept what the journal could not keep: the sender's MTA (or client) retries.
            print(f"hkmail-journal-milter: spool write failed: {exc}", file=sys.stderr)
            self.setreply("451", "4.3.0", "journal unavailable, try again later")
            return Milter.TEMPFAIL  # type: ignore[no-any-return]
        finally:
            self._reset()
        return Milter.ACCEPT  # type: ignore[no-any-return]

    def abort(self) -> int:
        self._reset()
        return Milter.CONTINUE  # type: ignore[no-any-return]


def main(argv: list[str]) -> int:
    global SPOOL
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    socket, SPOOL = argv[1], argv[2]
    for sub in ("tmp", "new"):
        os.makedirs(os.path.join(SPOOL, sub), mode=0o700, exist_ok=True)
    os.umask(0o007)  # the socket: owner and group (Postfix is a member) only
    if socket.startswith("unix:") and os.path.exists(socket[5:]):
        os.unlink(socket[5:])
    Milter.factory = JournalMilter
    Milter.set_flags(0)  # never modifies a message
    Milter.runmilter("hkmail-journal", socket, 60)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
