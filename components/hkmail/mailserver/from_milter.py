#!/usr/bin/python3
"""hkmail-from-milter: on submission, the header From must be an address the login owns.

Postfix binds the envelope sender to the SASL login (``reject_sender_login_mismatch``) but never
looks at the header From, which is what recipients see and what DMARC aligns on. This milter
(Debian's python3-milter) refuses, before OpenDKIM signs anything, a message whose From header
is missing, repeated, lists more than one address, or names an address that
``smtpd_sender_login_maps`` (the same file) does not give to the login. The display name may not
look like another address (``"compliance@bank.hk" <ops@bank.hk>``, encoded words decoded first),
and Sender, Resent-From and Resent-Sender, where present, must name the login's own addresses
too: mail clients show them in place of, or beside, the From. Unauthenticated sessions are
refused too: Postfix attaches this milter to the submission services only.

Usage: hkmail-from-milter unix:/path/to/socket /etc/postfix/sender_login
"""

from __future__ import annotations

import email.header
import email.utils
import os
import re
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


# Something a reader takes for an address: local@domain.tld, with or without angle brackets.
_ADDRESS_LIKE = re.compile(r"[^\s<>\"@]+@[^\s<>\"@]+\.[^\s<>\"@]+")
# Headers that name the author or sender besides From (RFC 5322 3.6.2, 3.6.6).
SENDER_HEADERS = ("sender", "resent-from", "resent-sender")


def _decoded(text: str) -> str:
    """The text a mail client displays: RFC 2047 encoded words decoded."""
    try:
        return str(email.header.make_header(email.header.decode_header(text)))
    except (ValueError, LookupError, UnicodeDecodeError):
        return text


def judge(
    login: str | None,
    from_headers: list[str],
    table: dict[str, set[str]],
    others: dict[str, list[str]] | None = None,
) -> str | None:
    """Why the message is refused, or None when its From (and Sender, Resent-From,
    Resent-Sender: ``others`` by lower-case name) belongs to the login."""
    if not login:
        return "authentication required"
    if len(from_headers) != 1:
        return "exactly one From header is required"
    addresses = email.utils.getaddresses(from_headers)
    if len(addresses) != 1 or not addresses[0][1]:
        return "the From header must name exactly one address"
    owned = table.get(login.lower(), set())
    name, address = addresses[0][0], addresses[0][1].lower()
    if address not in owned:
        return f"{login} may not send as {address}"
    for shown in _ADDRESS_LIKE.findall(_decoded(name)):
        if shown.lower() != address:
            return f"the display name shows another address ({shown})"
    for header, values in (others or {}).items():
        for _, other in email.utils.getaddresses(values):
            if other.lower() not in owned:
                return f"{header} names {other or 'no address'}, not an address of {login}"
    return None


SENDER_LOGIN = ""


class FromMilter(Milter.Base):  # type: ignore[misc,unused-ignore]
    def __init__(self) -> None:
        self.login: str | None = None
        self.froms: list[str] = []
        self.others: dict[str, list[str]] = {}

    def envfrom(self, mailfrom: str, *params: str) -> int:
        self.login = self.getsymval("{auth_authen}")
        self.froms = []
        self.others = {}
        return Milter.CONTINUE  # type: ignore[no-any-return]

    def header(self, name: str, value: str) -> int:
        if name.lower() == "from":
            self.froms.append(value)
        elif name.lower() in SENDER_HEADERS:
            self.others.setdefault(name.lower(), []).append(value)
        return Milter.CONTINUE  # type: ignore[no-any-return]

    def eoh(self) -> int:
        reason = judge(self.login, self.froms, owners(SENDER_LOGIN), self.others)
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
