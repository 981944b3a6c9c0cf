#!/usr/bin/python3
"""hkmail-from-milter: on submission, the header From must be an address the login owns.

Postfix binds the envelope sender to the SASL login (``reject_sender_login_mismatch``) but never
looks at the header From, which is what recipients see and what DMARC aligns on. This milter
(Debian's python3-milter) refuses, before OpenDKIM signs anything, a message whose From header
is missing, repeated, lists more than one address, or names an address that
``smtpd_sender_login_maps`` (the same file) does not give to the login. Unauthenticated sessions
are refused too: Postfix attaches this milter to the submission services only.

Usage: hkmail-from-milter unix:/path/to/socket /etc/postfix/sender_login
"""

from __future__ import annotations

import email.utils
import os
import sys

import Milter  # type: ignore[import-not-found,unused-ignore]


def owners(path: str) -> dict[str, set[str]]:
    """login -> the addresses it may send as, from a Postfix ``address login[,login]`` map."""
    table: dict[str, set[str]] = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            address, _, logins = line.partition(" ")
            for login in logins.replace(",", " ").split():
                table.setdefault(login.lower(), set()).add(address.lower())
    return table


def judge(login: str | None, from_headers: list[str], table: dict[str, set[str]]) -> str | None:
    """Why the message is refused, or None when its From belongs to the login."""
    if not login:
        return "authentication required"
    if len(from_headers) != 1:
        return "exactly one From header is required"
    addresses = email.utils.getaddresses(from_headers)
    if len(addresses) != 1 or not addresses[0][1]:
        return "the From header must name exactly one address"
    address = addresses[0][1].lower()
    if address not in table.get(login.lower(), set()):
        return f"{login} may not send as {address}"
    return None


SENDER_LOGIN = ""


class FromMilter(Milter.Base):  # type: ignore[misc,unused-ignore]
    def __init__(self) -> None:
        self.login: str | None = None
        self.froms: list[str] = []

    def envfrom(self, mailfrom: str, *params: str) -> int:
        self.login = self.getsymval("{auth_authen}")
        self.froms = []
        return Milter.CONTINUE  # type: ignore[no-any-return]

    def header(self, name: str, value: str) -> int:
        if name.lower() == "from":
            self.froms.append(value)
        return Milter.CONTINUE  # type: ignore[no-any-return]

    def eoh(self) -> int:
        reason = judge(self.login, self.froms, owners(SENDER_LOGIN))
        if reason is None:
            return Milter.CONTINUE  # type: ignore[no-any-return]
        self.setreply("550", "5.7.1", f"header From refused: {reason}")
        return Milter.REJECT  # type: ignore[no-any-return]


def main(argv: list[str]) -> int:
    global SENDER_LOGIN
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    socket, SENDER_LOGIN = argv[1], argv[2]
    owners(SENDER_LOGIN)  # fail at start, not on the first message, if the map is unreadable
    os.umask(0o007)  # the socket: owner and group (Postfix is a member) only
    if socket.startswith("unix:") and os.path.exists(socket[5:]):
        os.unlink(socket[5:])
    Milter.factory = FromMilter
    Milter.set_flags(0)  # never modifies a message
    Milter.runmilter("hkmail-from", socket, 60)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
