"""``scripts/archive restore``: put a mailbox, or some folders and a date range of it, back into the
live server over IMAP from a server that holds a copy (typically a throw-away Dovecot serving a
Maildir restored from the nightly backup with ``restic restore``).

The copy is toolchain.imapcopy.copy_mailbox: incremental (what the live mailbox still holds is
skipped, so a re-run restores nothing twice), flags and internal dates kept, and every restored
folder checked against its source at the end. Before anything is written the live mailbox must
accept the log-in (a mailbox that does not exist is refused, exit 2, nothing changed) and every
``--folder`` must exist in the copy.
"""

from __future__ import annotations

import argparse
import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from toolchain.imapcheck import AccountResult
from toolchain.imapconn import (
    SECURITIES,
    CopyError,
    Server,
    add_live_server,
    connect,
    logout,
    parse_server,
)
from toolchain.imapcopy import Passwords, Settings, copy_mailbox, missing_folders


class RestoreRefused(Exception):
    """Bad input found before anything was restored: exit 2."""


@dataclass(frozen=True)
class Restore:
    source: Server
    source_user: str
    server: Server
    user: str
    passwords: Passwords
    folders: tuple[str, ...] | None
    since: dt.date | None
    before: dt.date | None
    settings: Settings


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    r = sub.add_parser(
        "restore",
        help="restore a mailbox (or folders and a date range) into the live server over IMAP",
    )
    r.add_argument(
        "--source", required=True, help="IMAP server holding the copy: host[:port] or a preset"
    )
    r.add_argument("--source-security", choices=SECURITIES, help="when the port does not say")
    r.add_argument("--source-cafile", help="CA file for the source's certificate")
    r.add_argument("--source-user", help="the mailbox in the copy (default: --user)")
    add_live_server(r)
    r.add_argument("--user", required=True, help="the live mailbox to restore into (must exist)")
    r.add_argument(
        "--passwords",
        type=Path,
        help="file of 'source|destination <user> <password>' lines, mode 600 (else "
        "HKMAIL_SOURCE_PASSWORD / HKMAIL_DESTINATION_PASSWORD)",
    )
    r.add_argument(
        "--folder",
        action="append",
        help="a folder of the copy to restore (repeatable; default all)",
    )
    r.add_argument("--since", help="first internal date restored, YYYY-MM-DD")
    r.add_argument("--before", help="internal dates before this day, YYYY-MM-DD")


def _day(flag: str, value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise RestoreRefused(
            f"{flag}: {value!r} is not valid; allowed: a date YYYY-MM-DD"
        ) from None


def from_args(args: argparse.Namespace) -> Restore:
    try:
        source = parse_server(args.source, args.source_security, "--source")
        server = parse_server(args.server, args.server_security, "--server")
        passwords = Passwords.load(args.passwords)
    except (CopyError, OSError) as exc:
        raise RestoreRefused(str(exc)) from None
    since, before = _day("--since", args.since), _day("--before", args.before)
    if since and before and since >= before:
        raise RestoreRefused(f"--since {since} is not before --before {before}")
    return Restore(
        source=source,
        source_user=args.source_user or args.user,
        server=server,
        user=args.user,
        passwords=passwords,
        folders=tuple(args.folder) if args.folder else None,
        since=since,
        before=before,
        settings=Settings(source_cafile=args.source_cafile, destination_cafile=args.server_cafile),
    )


def preflight(r: Restore) -> None:
    """Refuse before writing: the live mailbox must exist (accept the log-in) and each folder
    asked for must be in the copy."""
    try:
        dst_pw = r.passwords.get("destination", r.user)
        src_pw = r.passwords.get("source", r.source_user)
    except CopyError as exc:
        raise RestoreRefused(str(exc)) from None
    try:
        live = connect(r.server, r.user, dst_pw, r.settings.destination_cafile, 60.0)
    except CopyError as exc:
        raise RestoreRefused(
            f"--user: {r.user} has no mailbox on {r.server} that accepts the log-in ({exc}); "
            "allowed: an existing mailbox (create it first); nothing restored"
        ) from None
    logout(live)
    try:
        copy = connect(r.source, r.source_user, src_pw, r.settings.source_cafile, 60.0)
    except CopyError as exc:
        raise RestoreRefused(f"--source: {exc}; nothing restored") from None
    unknown, have = missing_folders(copy, r.folders or ())
    if unknown:
        raise RestoreRefused(
            f"--folder: {', '.join(unknown)} not in {r.source_user}'s copy; allowed: "
            f"{', '.join(have)}; nothing restored"
        )


def restore(r: Restore) -> AccountResult:
    preflight(r)
    return copy_mailbox(
        r.source,
        r.server,
        r.source_user,
        r.user,
        r.passwords,
        folders=r.folders,
        since=r.since,
        before=r.before,
        settings=r.settings,
    )
