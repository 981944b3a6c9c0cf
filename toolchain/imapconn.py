"""IMAP endpoints for the migration tools: presets, the connection's security, log-in with a short
handshake deadline, and a per-server connection cap that backs off when the server says "too many".

Security is taken from the port only where the port says it (993 implicit TLS, RFC 8314; 143
STARTTLS); any other port needs ``--source-security`` / ``--destination-security``: a plain or
STARTTLS client on an implicit-TLS port waits for a greeting the server never sends.

Hosted suites limit concurrent IMAP sessions. Published figures: Gmail 15 simultaneous IMAP
connections per account (support.google.com/mail/answer/97150, cited in imapsync issue #61);
Dovecot ``mail_max_userip_connections``, 10 by default (``doveconf -d``, Dovecot 2.3.19), per user
and client address, refused with ``NO [LIMIT] Maximum number of connections from user+IP
exceeded`` (Dovecot 2.3.19, seen in tests/test_migrate_parallel.py; ``[UNAVAILABLE]`` in reports
against other versions, e.g. node-imap issue #606). Tencent Exmail and Alibaba Mail publish no
IMAP session limit (not published; searched 2026-12-07). So the copy keeps one session per
account and side, caps the sessions per server, and on a refusal that says the server is busy
(RFC 5530 ``[UNAVAILABLE]``, ``[LIMIT]``, ``[INUSE]``, or "too many ... connections") lowers that
server's cap by one and retries after an exponential back-off, instead of failing the account.
"""

from __future__ import annotations

import argparse
import contextlib
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from imapclient import IMAPClient, SocketTimeout  # type: ignore[import-untyped]
from imapclient.exceptions import IMAPClientError  # type: ignore[import-untyped]

from hkmail.presets import SUITE_IMAP

# name -> (host, port, security); host None: given after the preset name, "hkmail:mail.x.hk".
# The hosted suites' endpoints are hkmail.presets' (implicit TLS, 993 where none is published).
PRESETS: Mapping[str, tuple[str | None, int, str]] = {
    **{
        name: (None, 993, "ssl") if imap is None else (*imap, "ssl")
        for name, imap in SUITE_IMAP.items()
    },
    "tencent-exmail-overseas": ("hwimap.exmail.qq.com", 993, "ssl"),
    "hkmail": (None, 993, "ssl"),  # our private server's Dovecot (hkmail:privateServer hostname)
}
# Where the host of a preset without one comes from (the error when it is missing says so).
HOST_FROM: Mapping[str, str] = {
    "alibaba-mail-hk": "the IMAP host the Alibaba Mail console shows (the vendor publishes none "
    "for its Hong Kong site)",
    "hkmail": "hkmail:privateServer's hostname",
}
SECURITIES = ("ssl", "starttls", "none")
# The ports whose security is not in doubt: IMAPS (RFC 8314 section 3.3) and IMAP (RFC 9051).
PORT_SECURITY: Mapping[int, str] = {993: "ssl", 143: "starttls"}
# Response text of a server that refuses because it is busy, not because the request is wrong.
BUSY_MARKERS = (
    "[UNAVAILABLE]",
    "[LIMIT]",
    "[INUSE]",
    "TOO MANY",
    "MAXIMUM NUMBER OF CONNECTIONS",
    "TRY AGAIN LATER",
    "THROTTL",
)


class CopyError(Exception):
    """The copy could not run (connection, login, arguments): exit 2."""


class ServerBusy(CopyError):
    """The server refused a session or command because of load or a connection limit."""


@dataclass(frozen=True)
class Server:
    host: str
    port: int
    security: str  # ssl | starttls | none

    def __str__(self) -> str:
        return f"{self.host}:{self.port} ({self.security})"


def add_live_server(p: argparse.ArgumentParser) -> None:
    """The live server's options, as restore and drill take them."""
    p.add_argument("--server", required=True, help="the live server: hkmail:<host> or host[:port]")
    p.add_argument("--server-security", choices=SECURITIES, help="when the port does not say")
    p.add_argument("--server-cafile", help="CA file for the live server's certificate")


def _port(option: str, text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise CopyError(f"{option}: port {text!r} is not valid; allowed: 1-65535")
    return int(text)


def parse_server(text: str, security: str | None = None, option: str = "--source") -> Server:
    """``preset``, ``preset:host[:port]``, ``host`` or ``host:port``; ``option`` names the flag
    in errors (its security flag is ``<option>-security``)."""
    if security is not None and security not in SECURITIES:
        raise CopyError(
            f"{option}-security: {security!r} is not valid; allowed: {', '.join(SECURITIES)}"
        )
    name, _, rest = text.partition(":")
    if not name:
        raise CopyError(f"{option}: {text!r} is not valid; allowed: a preset or host[:port]")
    if name in PRESETS:
        host, port, sec = PRESETS[name]
        if host is None:
            if not rest:
                raise CopyError(
                    f"{option}: preset {name} needs the server's host name: {name}:<host>, "
                    f"<host> being {HOST_FROM[name]}"
                )
            host, _, port_text = rest.partition(":")
            port = _port(option, port_text) if port_text else port
        elif rest:
            port = _port(option, rest)
        return Server(host, port, security or sec)
    port = _port(option, rest) if rest else 993
    chosen = security or PORT_SECURITY.get(port)
    if chosen is None:
        raise CopyError(
            f"{option} {text}: port {port} does not say whether the server expects implicit TLS "
            f"or STARTTLS; give {option}-security (allowed: {', '.join(SECURITIES)})"
        )
    return Server(name, port, chosen)


def reason(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text.replace("\r", " ").replace("\n", " ")[:200]


def is_busy(text: str) -> bool:
    upper = text.upper()
    return any(marker in upper for marker in BUSY_MARKERS)


def connect(
    server: Server,
    user: str,
    password: str,
    cafile: str | None,
    timeout: float,
    handshake_timeout: float = 10.0,
) -> Any:
    """A logged-in client. TCP connect, TLS, greeting, STARTTLS and LOGIN must each finish within
    ``handshake_timeout`` (a wrong security choice is an error in seconds, not a hang); every later
    operation gets ``timeout``."""
    context = ssl.create_default_context(cafile=cafile)
    stage = "connect"
    try:
        client = IMAPClient(
            server.host,
            port=server.port,
            ssl=server.security == "ssl",
            ssl_context=context,
            timeout=SocketTimeout(connect=handshake_timeout, read=handshake_timeout),
        )
        if server.security == "starttls":
            stage = "STARTTLS"
            client.starttls(context)
        client.normalise_times = False  # keep the internal dates' own zones
        stage = "login"
        client.login(user, password)
        client.socket().settimeout(timeout)
    except TimeoutError:
        hint = {
            "ssl": "is it a STARTTLS or plain port? set the security option",
            "starttls": "is it an implicit-TLS (IMAPS) port? set the security option to ssl",
            "none": "is it an implicit-TLS (IMAPS) port? set the security option to ssl",
        }[server.security]
        raise CopyError(
            f"{server}: no answer to the {stage} within {handshake_timeout:g} s ({hint})"
        ) from None
    except (OSError, IMAPClientError, ssl.SSLError) as exc:
        text = reason(exc)
        kind = ServerBusy if is_busy(text) else CopyError
        raise kind(f"{server}: cannot log in as {user}: {text}") from None
    return client


def logout(client: Any) -> None:
    with contextlib.suppress(OSError, IMAPClientError, ValueError):
        client.logout()


class ServerSlots:
    """At most ``cap`` sessions to one server; the cap drops by one each time the server says it
    is busy (never below one), so a run settles at what the server accepts."""

    def __init__(self, cap: int) -> None:
        self.cap = max(1, cap)
        self.in_use = 0
        self._cond = threading.Condition()

    def acquire(self) -> None:
        with self._cond:
            while self.in_use >= self.cap:
                self._cond.wait()
            self.in_use += 1

    def release(self) -> None:
        with self._cond:
            self.in_use -= 1
            self._cond.notify_all()

    def busy(self) -> None:
        with self._cond:
            self.cap = max(1, self.cap - 1)


@dataclass
class Backoff:
    """Exponential back-off for a busy server: ``first`` seconds, doubling up to ``longest``,
    giving up once ``give_up_after`` seconds have been spent waiting."""

    first: float = 2.0
    longest: float = 60.0
    give_up_after: float = 600.0


@contextlib.contextmanager
def session(
    server: Server,
    slots: ServerSlots,
    user: str,
    password: str,
    *,
    cafile: str | None,
    timeout: float,
    handshake_timeout: float,
    backoff: Backoff,
    note: Callable[[str], None],
) -> Iterator[Any]:
    """A logged-in client holding one of the server's slots; waits and retries while busy."""
    delay, waited = backoff.first, 0.0
    while True:
        slots.acquire()
        try:
            client = connect(server, user, password, cafile, timeout, handshake_timeout)
            break
        except ServerBusy as exc:
            slots.release()
            slots.busy()
            if waited + delay > backoff.give_up_after:
                raise CopyError(f"{exc} (still busy after {waited:.0f} s of back-off)") from None
            note(f"{exc}; {server.host} busy: retrying in {delay:g} s (cap now {slots.cap})")
            time.sleep(delay)
            waited += delay
            delay = min(delay * 2, backoff.longest)
        except BaseException:
            slots.release()
            raise
    try:
        yield client
    finally:
        logout(client)
        slots.release()
