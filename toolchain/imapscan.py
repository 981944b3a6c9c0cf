"""Reading a folder's messages for the copy: each message's identity (Message-ID, or a digest of
Date, From, Subject, size and internal date), size, flags and internal date, in as few round
trips as IMAP allows (pipelined STATUS, EXAMINE and UID FETCH), large folders 500 at a time."""

from __future__ import annotations

import datetime as dt
import email.parser
import email.policy
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from imapclient.exceptions import IMAPClientError  # type: ignore[import-untyped]
from imapclient.imapclient import as_pairs  # type: ignore[import-untyped]
from imapclient.response_parser import (  # type: ignore[import-untyped]
    parse_fetch_response,
    parse_response,
)

from toolchain.imapconn import reason

HEADER_FIELDS = b"BODY.PEEK[HEADER.FIELDS (MESSAGE-ID DATE FROM SUBJECT)]"
META = [b"UID", b"RFC822.SIZE", b"INTERNALDATE", b"FLAGS", HEADER_FIELDS]
FETCH_BATCH = 500


@dataclass(frozen=True)
class Msg:
    uid: int
    key: str
    size: int
    flags: tuple[bytes, ...]
    internaldate: dt.datetime | None


_HEADERS = email.parser.BytesHeaderParser(policy=email.policy.compat32)


def message_key(headers: bytes, size: int, internaldate: dt.datetime | None) -> str:
    msg = _HEADERS.parsebytes(headers)
    mid = (msg.get("Message-ID") or "").strip()
    if mid:
        return "mid:" + " ".join(mid.split())
    stamp = internaldate.astimezone(dt.UTC).isoformat() if internaldate else ""
    digest = hashlib.sha256()
    for part in (msg.get("Date"), msg.get("From"), msg.get("Subject"), str(size), stamp):
        digest.update((str(part or "")).encode("utf-8", "replace") + b"\0")
    return "hdr:" + digest.hexdigest()[:32]


@dataclass(frozen=True)
class Window:
    """Which source messages to copy: some folders, internal dates in [since, before)."""

    folders: tuple[str, ...] | None = None  # source folder names; None: all
    since: dt.date | None = None
    before: dt.date | None = None

    def criteria(self) -> list[Any]:
        out: list[Any] = []
        if self.since:
            out += [b"SINCE", self.since]
        if self.before:
            out += [b"BEFORE", self.before]
        return out or [b"ALL"]


@dataclass
class Scan:
    uidvalidity: int | None
    messages: list[Msg]


def scan(client: Any, folder: str, readonly: bool = True, window: Window | None = None) -> Scan:
    """The folder's messages. A small folder costs two round trips (SELECT, one UID FETCH 1:*);
    a large one is searched, then fetched 500 at a time, so memory stays bounded."""
    info = client.select_folder(folder, readonly=readonly)
    exists = int(info.get(b"EXISTS", 0))
    validity = info.get(b"UIDVALIDITY")
    criteria = (window or Window()).criteria()
    if exists == 0:
        return Scan(validity, [])
    if exists <= FETCH_BATCH and criteria == [b"ALL"]:
        batches: Iterable[Any] = ["1:*"]
    else:
        uids = client.search(criteria)
        batches = (uids[i : i + FETCH_BATCH] for i in range(0, len(uids), FETCH_BATCH))
    out: list[Msg] = []
    for batch in batches:
        if batch:
            out += _messages(_fetch_all(client) if batch == "1:*" else client.fetch(batch, META))
    return Scan(validity, sorted(out, key=lambda m: m.uid))


def scan_many(client: Any, folders: Sequence[str], window: Window | None = None) -> dict[str, Scan]:
    """Every folder scanned read-only in as few round trips as the protocol allows: one pipelined
    STATUS for all (RFC 3501 allows pipelining), then one pipeline of EXAMINE + UID FETCH 1:* for
    every small folder; a large folder or a date window takes :func:`scan` (batches of 500)."""
    window = window or Window()
    if not folders:
        return {}
    if window.criteria() != [b"ALL"]:
        return {f: scan(client, f, window=window) for f in folders}
    imap = client._imap
    names = {f: _wire(client, f) for f in folders}
    tags = _send(imap, [b"STATUS %s (MESSAGES UIDVALIDITY)" % names[f] for f in folders])
    sizes: dict[str, int | None] = {}
    for f, tag in zip(folders, tags, strict=True):
        imap.untagged_responses = {}
        typ, data = imap._command_complete("STATUS", tag)
        if typ != "OK":
            sizes[f] = None  # let SELECT say what is wrong
            continue
        _typ, data = imap._untagged_response(typ, data, "STATUS")
        items = dict(as_pairs(parse_response([d for d in data if d is not None])[-1]))
        sizes[f] = int(items.get(b"MESSAGES", 0))
    out: dict[str, Scan] = {}
    small = [f for f in folders if sizes[f] is not None and 0 < (sizes[f] or 0) <= FETCH_BATCH]
    meta = b"(" + b" ".join(META) + b")"
    lines = []
    for f in small:
        lines += [b"EXAMINE %s" % names[f], b"UID FETCH 1:* " + meta]
    tags = _send(imap, lines)
    for i, f in enumerate(small):
        imap.untagged_responses = {}
        typ, data = imap._command_complete("EXAMINE", tags[2 * i])
        if typ != "OK":
            raise IMAPClientError(f"EXAMINE {f} failed: {reason(Exception(data))}")
        info = client._process_select_response(imap.untagged_responses)
        typ, data = imap._command_complete("FETCH", tags[2 * i + 1])
        if typ != "OK":
            raise IMAPClientError(f"FETCH in {f} failed: {reason(Exception(data))}")
        _typ, data = imap._untagged_response(typ, data, "FETCH")
        parsed = parse_fetch_response(data, client.normalise_times, True)
        out[f] = Scan(info.get(b"UIDVALIDITY"), _messages(parsed))
    for f in folders:
        if f not in out:
            out[f] = scan(client, f)  # empty (one SELECT for its UIDVALIDITY), large or refused
    return out


def _wire(client: Any, folder: str) -> bytes:
    name = client._normalise_folder(folder)
    return name if isinstance(name, bytes) else str(name).encode()


def _send(imap: Any, lines: Sequence[bytes]) -> list[bytes]:
    """Tagged commands in one write; their answers are read later, in order."""
    tags = [imap._new_tag() for _ in lines]
    if lines:
        imap.send(b"".join(t + b" " + line + b"\r\n" for t, line in zip(tags, lines, strict=True)))
    return tags


def _messages(fetched: Mapping[Any, Mapping[bytes, Any]]) -> list[Msg]:
    out = []
    for uid, data in fetched.items():
        if not isinstance(uid, int):
            continue
        headers = next((v for k, v in data.items() if k.startswith(b"BODY[HEADER")), b"")
        size = int(data.get(b"RFC822.SIZE", 0))
        idate = data.get(b"INTERNALDATE")
        out.append(
            Msg(
                uid,
                message_key(headers or b"", size, idate),
                size,
                tuple(f for f in data.get(b"FLAGS", ()) if f != b"\\Recent"),
                idate,
            )
        )
    return sorted(out, key=lambda m: m.uid)


def _fetch_all(client: Any) -> dict[int, dict[bytes, Any]]:
    """``UID FETCH 1:* META``: imapclient's fetch() keeps only the UIDs it was given by number."""
    imap = client._imap
    tag = imap._command("UID", "FETCH", "1:*", "(" + " ".join(x.decode() for x in META) + ")")
    typ, data = imap._command_complete("FETCH", tag)
    if typ != "OK":
        raise IMAPClientError(f"FETCH failed: {reason(Exception(data))}")
    typ, data = imap._untagged_response(typ, data, "FETCH")
    parsed: dict[int, dict[bytes, Any]] = parse_fetch_response(data, client.normalise_times, True)
    return {uid: d for uid, d in parsed.items() if isinstance(uid, int)}
