"""``scripts/migrate copy``: copy every account's mailboxes from the old IMAP server to the new one.

- Accounts file: one ``source-user destination-user`` pair a line (``#`` comments).
- Passwords: ``--passwords FILE`` (lines ``source <user> <password>`` / ``destination <user>
  <password>``; the file must not be readable by group or others), or the environment
  ``HKMAIL_SOURCE_PASSWORD`` / ``HKMAIL_DESTINATION_PASSWORD`` for every account (e.g. a Dovecot
  master user). Passwords are never printed or written anywhere.
- Folders: special-use folders (RFC 6154 flags, or the well-known names, including Tencent Exmail's
  and Alibaba Mail's 已发送 / 草稿箱 / 垃圾邮件 / 已删除) go to the destination's special-use
  folders; others keep their name, with the hierarchy separator translated. Names travel in
  modified UTF-7 (RFC 3501 5.1.3) through imapclient.
- A message is identified by its Message-ID; one without is identified by a digest of its Date,
  From, Subject, size and internal date. Counts are kept as multisets, so duplicates are copied as
  often as they occur and a re-run copies only what the destination lacks: an interrupted run
  resumes where it stopped, and a second run copies nothing. Flags and internal dates are kept.
- Several accounts at once (``--jobs``), one IMAP session per side each, a cap of sessions per
  server that drops when the server says it is busy (toolchain.imapconn). Within an account the
  two sides work at once: the source fetches the next batch while the destination appends this
  one (MULTIAPPEND, else pipelined APPENDs with LITERAL+), batches bounded in bytes.
- At the end every destination folder is checked against its source folders: each source message
  present, with the same size and internal date and its flags; a difference is named (folder,
  Message-ID or digest). Exit 1 when any message is missing or different, 2 when the copy could
  not run. The JSON report (``--report``) is rewritten as each account finishes.

Parts: toolchain.imapconn (servers, log-in, session caps), toolchain.imapscan (reading folders),
toolchain.imapcheck (the closing check), toolchain.imapreport (reports), toolchain.imapprogress
(the progress line); this module maps folders, copies and runs the accounts.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import datetime as dt
import json
import os
import queue
import ssl
import stat
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from imapclient.exceptions import IMAPClientError  # type: ignore[import-untyped]
from imapclient.imapclient import (  # type: ignore[import-untyped]
    datetime_to_INTERNALDATE,
)

from toolchain.imapcheck import AccountResult, FolderResult, compare, record_problems
from toolchain.imapconn import (
    PRESETS,
    SECURITIES,
    Backoff,
    CopyError,
    Server,
    ServerBusy,
    ServerSlots,
    connect,
    logout,
    parse_server,
    reason,
    session,
)
from toolchain.imapprogress import Overall
from toolchain.imapreport import to_json, to_text, uidvalidity_notes, write_report
from toolchain.imapscan import Msg, Scan, Window, scan, scan_many

__all__ = ["PRESETS", "CopyError", "Server", "connect", "copy_mailbox", "parse_server", "run_copy"]

SPECIAL_USE = ("\\Sent", "\\Drafts", "\\Junk", "\\Trash", "\\Archive")
# Well-known folder names -> special use. Tencent Exmail and Alibaba Mail use the Chinese names.
SPECIAL_NAMES: Mapping[str, str] = {
    "已发送": "\\Sent",
    "已发送邮件": "\\Sent",
    "已發送": "\\Sent",
    "sent": "\\Sent",
    "sent items": "\\Sent",
    "sent messages": "\\Sent",
    "草稿箱": "\\Drafts",
    "草稿": "\\Drafts",
    "drafts": "\\Drafts",
    "垃圾邮件": "\\Junk",
    "垃圾箱": "\\Junk",
    "junk": "\\Junk",
    "spam": "\\Junk",
    "junk e-mail": "\\Junk",
    "已删除": "\\Trash",
    "已删除邮件": "\\Trash",
    "已刪除": "\\Trash",
    "trash": "\\Trash",
    "deleted items": "\\Trash",
    "deleted messages": "\\Trash",
}
DEFAULT_SPECIAL_NAMES = {
    "\\Sent": "Sent",
    "\\Drafts": "Drafts",
    "\\Junk": "Junk",
    "\\Trash": "Trash",
    "\\Archive": "Archive",
}
COPY_BATCH_BYTES = 16 * 1024 * 1024


# ---------------------------------------------------------------------------------------------
# Accounts, passwords
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Account:
    source: str
    destination: str


def read_accounts(path: Path) -> list[Account]:
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.replace(",", " ").split()
        if len(parts) != 2:
            raise CopyError(f"{path}:{n}: expected 'source-user destination-user'")
        out.append(Account(parts[0], parts[1]))
    if not out:
        raise CopyError(f"{path}: no accounts")
    return out


@dataclass
class Passwords:
    entries: dict[tuple[str, str], str] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path | None) -> Passwords:
        pw = cls()
        if path is None:
            return pw
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise CopyError(f"{path} is readable by group or others: chmod 600 {path}")
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            parts = line.strip().split(None, 2)
            if len(parts) != 3 or parts[0] not in ("source", "destination"):
                # never show the line: it holds a password
                raise CopyError(f"{path}:{n}: expected 'source|destination <user> <password>'")
            pw.entries[(parts[0], parts[1])] = parts[2]
        return pw

    def get(self, side: str, user: str) -> str:
        found = self.entries.get((side, user)) or os.environ.get(f"HKMAIL_{side.upper()}_PASSWORD")
        if not found:
            raise CopyError(
                f"no {side} password for {user}: add it to --passwords or set "
                f"HKMAIL_{side.upper()}_PASSWORD"
            )
        return found


# ---------------------------------------------------------------------------------------------
# Folders
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Folder:
    name: str  # decoded (Unicode) name
    delimiter: str
    flags: tuple[str, ...]

    @property
    def parts(self) -> list[str]:
        return self.name.split(self.delimiter) if self.delimiter else [self.name]

    @property
    def special(self) -> str | None:
        for flag in self.flags:
            if flag in SPECIAL_USE:
                return flag
        if len(self.parts) == 1:
            return SPECIAL_NAMES.get(self.name.strip().lower())
        return None

    @property
    def selectable(self) -> bool:
        return "\\Noselect" not in self.flags and "\\NonExistent" not in self.flags


def list_folders(client: Any) -> list[Folder]:
    out = []
    for flags, delimiter, name in client.list_folders():
        text = name.decode() if isinstance(name, bytes) else str(name)
        delim = delimiter.decode() if isinstance(delimiter, bytes) else (delimiter or "")
        shown = tuple(f.decode() if isinstance(f, bytes) else str(f) for f in flags)
        out.append(Folder(text, delim, shown))
    return out


def missing_folders(client: Any, wanted: Sequence[str]) -> tuple[list[str], list[str]]:
    """The wanted folders a mailbox lacks, and the selectable ones it has; logs the client out."""
    try:
        have = [f.name for f in list_folders(client) if f.selectable]
    finally:
        logout(client)
    return [f for f in wanted if f not in have], sorted(have)


def map_folders(source: Sequence[Folder], destination: Sequence[Folder]) -> dict[str, str]:
    """Source folder name -> destination folder name."""
    delim = next((f.delimiter for f in destination if f.delimiter), "/")
    dest_special: dict[str, str] = {}
    for f in destination:
        if f.special and f.special not in dest_special and any(x in SPECIAL_USE for x in f.flags):
            dest_special[f.special] = f.name
    for f in destination:  # by name where the server sets no flags
        if f.special and f.special not in dest_special:
            dest_special[f.special] = f.name
    mapping: dict[str, str] = {}
    by_top = {f.parts[0]: f.special for f in source if f.special and len(f.parts) == 1}
    for f in source:
        if not f.selectable:
            continue
        parts = f.parts
        if parts[0].upper() == "INBOX":
            parts = ["INBOX", *parts[1:]]
        elif by_top.get(parts[0]) or f.special:
            role = f.special or by_top[parts[0]]
            assert role is not None
            parts = [dest_special.get(role, DEFAULT_SPECIAL_NAMES[role]), *parts[1:]]
        mapping[f.name] = delim.join(p.replace(delim, "_") for p in parts)
    return mapping


# ---------------------------------------------------------------------------------------------
# The copy
# ---------------------------------------------------------------------------------------------


def _groups(mapping: Mapping[str, str]) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for src, dst in mapping.items():
        groups.setdefault(dst, []).append(src)
    return groups


def _batches(msgs: Sequence[Msg], limit: int = COPY_BATCH_BYTES) -> Iterator[list[Msg]]:
    """Up to 200 messages or ``limit`` bytes a batch; a larger message travels alone."""
    batch: list[Msg] = []
    size = 0
    for m in msgs:
        if batch and (size + m.size > limit or len(batch) >= 200):
            yield batch
            batch, size = [], 0
        batch.append(m)
        size += m.size
    if batch:
        yield batch


Item = tuple[Msg, bytes]


def _append(dst: Any, folder: str, items: Sequence[Item]) -> None:
    """Append a batch in as few round trips as the server allows: MULTIAPPEND (RFC 3502, all or
    nothing, so an interrupted run leaves no half batch; imapclient sends its literals
    non-synchronizing when the server has LITERAL+), else APPENDs pipelined with LITERAL+ /
    LITERAL- (RFC 7888), else one APPEND at a time."""
    if dst.has_capability("MULTIAPPEND") and len(items) > 1:
        dst.multiappend(
            folder,
            [
                {"msg": body, "flags": m.flags}
                | ({"date": m.internaldate} if m.internaldate else {})
                for m, body in items
            ],
        )
    elif dst.has_capability("LITERAL+") or (
        dst.has_capability("LITERAL-") and all(len(b) <= 4096 for _, b in items)
    ):
        _append_pipelined(dst, folder, items)
    else:
        for m, body in items:
            dst.append(folder, body, flags=m.flags, msg_time=m.internaldate)


def _append_pipelined(dst: Any, folder: str, items: Sequence[Item]) -> None:
    imap = dst._imap  # imaplib underneath: imapclient has no pipelining of its own
    name = dst._normalise_folder(folder)
    name = name if isinstance(name, bytes) else name.encode()
    tags = []
    for m, body in items:
        tag = imap._new_tag()
        parts = [tag, b"APPEND", name, b"(" + b" ".join(m.flags) + b")"]
        if m.internaldate:
            parts.append(b'"' + datetime_to_INTERNALDATE(m.internaldate).encode() + b'"')
        imap.send(b" ".join(parts) + b" {%d+}\r\n" % len(body) + body + b"\r\n")
        tags.append(tag)
    failed = []
    for tag in tags:
        typ, data = imap._command_complete("APPEND", tag)
        if typ != "OK":
            failed.append(reason(Exception(data)))
    if failed:
        raise IMAPClientError(f"APPEND refused: {failed[0]}")


def _fetcher(
    src: Any, work: Sequence[tuple[str, list[Msg]]], out: queue.Queue[Any], stop: threading.Event
) -> None:
    """Fetch the bodies batch by batch into ``out`` (bounded: at most two batches wait), while
    the destination appends the previous one."""
    try:
        for index, (folder, msgs) in enumerate(work):
            src.select_folder(folder, readonly=True)
            for batch in _batches(msgs):
                if stop.is_set():
                    return
                bodies = src.fetch([m.uid for m in batch], [b"BODY.PEEK[]"])
                found = [(m, bodies.get(m.uid, {}).get(b"BODY[]")) for m in batch]
                out.put((index, [(m, b) for m, b in found if b is not None]))  # else expunged
        out.put(None)
    except BaseException as exc:  # handed to the appending thread, which raises it
        out.put(exc)


@dataclass
class _Plan:
    result: FolderResult
    sources: dict[str, list[Msg]]
    todo: list[tuple[str, Msg]]


def _scan_both(
    src: Any,
    dst: Any,
    groups: Mapping[str, list[str]],
    existing: set[str],
    window: Window,
) -> tuple[dict[str, Scan], dict[str, Scan]]:
    """Both sides scanned at once, each on its own connection."""
    dst_scans: dict[str, Scan] = {}

    def scan_destination() -> None:
        dst_scans.update(scan_many(dst, [name for name in groups if name in existing]))
        for name in groups:
            dst_scans.setdefault(name, Scan(None, []))

    with ThreadPoolExecutor(1) as pool:
        future = pool.submit(scan_destination)
        src_scans = scan_many(src, [s for ss in groups.values() for s in ss], window)
        future.result()
    return src_scans, dst_scans


def copy_account(
    src: Any,
    dst: Any,
    account: Account,
    *,
    dry_run: bool,
    verify_only: bool,
    progress: Overall,
    window: Window | None = None,
) -> AccountResult:
    window = window or Window()
    result = AccountResult(account.source, account.destination)
    source_folders = list_folders(src)
    dest_folders = list_folders(dst)
    mapping = map_folders(source_folders, dest_folders)
    if window.folders is not None:
        unknown = sorted(set(window.folders) - set(mapping))
        if unknown:
            raise CopyError(f"{account.source}: no folder {', '.join(unknown)} on the source")
        mapping = {k: v for k, v in mapping.items() if k in window.folders}
    existing = {f.name for f in dest_folders}
    groups = dict(sorted(_groups(mapping).items()))
    src_scans, dst_scans = _scan_both(src, dst, groups, existing, window)
    plans: list[_Plan] = []
    for dest_name, sources in groups.items():
        src_msgs = {s: src_scans[s].messages for s in sources}
        dst_msgs = dst_scans[dest_name].messages
        need = collections.Counter(m.key for ms in src_msgs.values() for m in ms)
        need.subtract(collections.Counter(m.key for m in dst_msgs))
        todo: list[tuple[str, Msg]] = []
        for s in sources:
            for m in src_msgs[s]:
                if need[m.key] > 0:
                    need[m.key] -= 1
                    todo.append((s, m))
        fr = FolderResult(
            sorted(sources),
            dest_name,
            sum(len(v) for v in src_msgs.values()),
            len(dst_msgs),
            to_copy=len(todo),
            uidvalidity={f"source:{s}": src_scans[s].uidvalidity for s in sources}
            | {"destination": dst_scans[dest_name].uidvalidity},
        )
        result.folders.append(fr)
        plans.append(_Plan(fr, src_msgs, todo))
    progress.planned(
        0 if dry_run or verify_only else sum(len(p.todo) for p in plans),
        0 if dry_run or verify_only else sum(m.size for p in plans for _, m in p.todo),
    )
    if dry_run:
        for p in plans:
            p.result.missing = len(p.todo)
        return result
    if verify_only:
        for p in plans:
            source = [(s, m) for s, ms in p.sources.items() for m in ms]
            record_problems(p.result, compare(source, dst_scans[p.result.destination].messages))
        return result

    for p in plans:
        if p.todo and p.result.destination not in existing:
            dst.create_folder(p.result.destination)
            existing.add(p.result.destination)
            dst.subscribe_folder(p.result.destination)
    _copy_bodies(src, dst, plans, progress)
    # Flags set on the source since an earlier run are added on the destination; then the
    # closing check of every folder.
    written = [p.result.destination for p in plans if p.result.destination in existing]
    finals = scan_many(dst, written)
    for p in plans:
        if p.result.destination not in existing:
            record_problems(
                p.result, compare([(s, m) for s, ms in p.sources.items() for m in ms], [])
            )
            continue
        dst_msgs = finals[p.result.destination].messages
        p.result.destination_count = len(dst_msgs)
        p.result.flags_updated = _add_flags(dst, p.result.destination, p.sources, dst_msgs)
        if p.result.flags_updated:
            dst_msgs = scan(dst, p.result.destination, readonly=True).messages
        source = [(s, m) for s, ms in p.sources.items() for m in ms]
        record_problems(p.result, compare(source, dst_msgs))
    return result


def _copy_bodies(src: Any, dst: Any, plans: Sequence[_Plan], progress: Overall) -> None:
    work: list[tuple[str, list[Msg]]] = []
    targets: list[FolderResult] = []
    for p in plans:
        by_source: dict[str, list[Msg]] = {}
        for s, m in p.todo:
            by_source.setdefault(s, []).append(m)
        for s, msgs in by_source.items():
            work.append((s, msgs))
            targets.append(p.result)
    if not work:
        return
    bodies: queue.Queue[Any] = queue.Queue(maxsize=2)
    stop = threading.Event()
    fetcher = threading.Thread(target=_fetcher, args=(src, work, bodies, stop), daemon=True)
    fetcher.start()
    try:
        while True:
            got = bodies.get()
            if got is None:
                break
            if isinstance(got, BaseException):
                raise got
            index, batch = got
            if not batch:
                continue
            fr = targets[index]
            _append(dst, fr.destination, batch)
            size = sum(len(b) for _, b in batch)
            fr.copied += len(batch)
            fr.copied_bytes += size
            progress.step(len(batch), size)
    finally:
        stop.set()
        with contextlib.suppress(queue.Empty):
            while True:
                bodies.get_nowait()  # unblock the fetcher
        fetcher.join(timeout=30)


def _add_flags(
    dst: Any, folder: str, sources: Mapping[str, Sequence[Msg]], dst_msgs: Sequence[Msg]
) -> int:
    counts = collections.Counter(m.key for ms in sources.values() for m in ms)
    flags_by_key = {
        m.key: set(m.flags) for ms in sources.values() for m in ms if counts[m.key] == 1
    }
    dst_counts = collections.Counter(m.key for m in dst_msgs)
    updated = 0
    for m in dst_msgs:
        want = flags_by_key.get(m.key)
        if want is not None and dst_counts[m.key] == 1:
            add = want - set(m.flags)
            if add:
                if not updated:
                    dst.select_folder(folder, readonly=False)
                dst.add_flags([m.uid], sorted(add))
                updated += 1
    return updated


# ---------------------------------------------------------------------------------------------
# Many accounts at once
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    source_cafile: str | None = None
    destination_cafile: str | None = None
    timeout: float = 120.0
    handshake_timeout: float = 10.0
    backoff: Backoff = field(default_factory=Backoff)
    retries: int = 2  # further attempts of an account after a dropped connection


# A dropped connection or a busy refusal mid-account: the account is started again (the copy is
# idempotent, so a retry copies only what is still missing).
_RETRYABLE = (OSError, ssl.SSLError, IMAPClientError, ServerBusy)


def _copy_one(
    account: Account,
    source: Server,
    destination: Server,
    passwords: Passwords,
    slots: tuple[ServerSlots, ServerSlots],
    settings: Settings,
    progress: Overall,
    *,
    dry_run: bool,
    verify_only: bool,
    window: Window | None,
) -> AccountResult:
    started = time.monotonic()
    label = f"{account.source} -> {account.destination}"
    attempt = 0
    while True:
        attempt += 1
        try:
            src_pw = passwords.get("source", account.source)
            dst_pw = passwords.get("destination", account.destination)
            common = {
                "timeout": settings.timeout,
                "handshake_timeout": settings.handshake_timeout,
                "backoff": settings.backoff,
                "note": progress.note,
            }
            with (
                session(
                    source,
                    slots[0],
                    account.source,
                    src_pw,
                    cafile=settings.source_cafile,
                    **common,  # type: ignore[arg-type]
                ) as src,
                session(
                    destination,
                    slots[1],
                    account.destination,
                    dst_pw,
                    cafile=settings.destination_cafile,
                    **common,  # type: ignore[arg-type]
                ) as dst,
            ):
                result = copy_account(
                    src,
                    dst,
                    account,
                    dry_run=dry_run,
                    verify_only=verify_only,
                    progress=progress,
                    window=window,
                )
            break
        except CopyError as exc:
            if isinstance(exc, ServerBusy) and attempt <= settings.retries:
                progress.note(f"{label}: {exc}; retrying the account")
                continue
            result = AccountResult(account.source, account.destination, error=str(exc))
            break
        except _RETRYABLE as exc:
            if attempt <= settings.retries:
                progress.note(f"{label}: connection lost ({reason(exc)}); retrying the account")
                time.sleep(settings.backoff.first)
                continue
            result = AccountResult(account.source, account.destination, error=reason(exc))
            break
        except Exception as exc:  # a server answer we could not handle: this account fails,
            # the others go on and the report keeps it
            error = f"{type(exc).__name__}: {reason(exc)}"
            result = AccountResult(account.source, account.destination, error=error)
            break
    result.attempts = attempt
    result.seconds = round(time.monotonic() - started, 3)
    copied = sum(f.copied for f in result.folders)
    size = sum(f.copied_bytes for f in result.folders)
    verdict = (
        f"ERROR {result.error}"
        if result.error
        else f"{copied:,} copied ({size / 1e6:.1f} MB), {result.missing} missing, "
        f"{result.mismatched} differing"
    )
    progress.account_done(f"{label}: {verdict} in {result.seconds:.1f} s", bool(result.error))
    return result


def run_copy(
    accounts: Sequence[Account],
    source: Server,
    destination: Server,
    passwords: Passwords,
    *,
    jobs: int = 4,
    max_connections: int | None = None,
    dry_run: bool = False,
    verify_only: bool = False,
    settings: Settings | None = None,
    progress: bool = True,
    progress_out: TextIO = sys.stderr,
    on_result: Callable[[list[AccountResult | None]], None] | None = None,
    window: Window | None = None,
) -> list[AccountResult]:
    """Copy (or check) every account, ``jobs`` at a time, each with one session per side, at most
    ``max_connections`` (default ``jobs``) sessions per server. ``on_result`` is called with the
    results so far (None for accounts not finished) each time an account finishes."""
    settings = settings or Settings()
    cap = max_connections or jobs
    slots = (ServerSlots(cap), ServerSlots(cap))
    if (source.host, source.port) == (destination.host, destination.port):
        slots = (slots[0], slots[0])  # one server, one cap
    display = Overall(len(accounts), progress_out, progress)
    display.note(
        f"copy: {len(accounts)} account(s), {jobs} at a time, at most {cap} session(s) per "
        f"server; source {source}, destination {destination}"
    )
    results: list[AccountResult | None] = [None] * len(accounts)
    lock = threading.Lock()

    def one(i: int) -> None:
        r = _copy_one(
            accounts[i],
            source,
            destination,
            passwords,
            slots,
            settings,
            display,
            dry_run=dry_run,
            verify_only=verify_only,
            window=window,
        )
        with lock:
            results[i] = r
            if on_result is not None:
                on_result(list(results))

    with ThreadPoolExecutor(max(1, jobs), thread_name_prefix="account") as pool:
        for future in [pool.submit(one, i) for i in range(len(accounts))]:
            future.result()
    display.close()
    return [r for r in results if r is not None]


def copy_mailbox(
    source: Server,
    destination: Server,
    source_user: str,
    destination_user: str,
    passwords: Passwords,
    *,
    folders: Sequence[str] | None = None,
    since: dt.date | None = None,
    before: dt.date | None = None,
    settings: Settings | None = None,
    progress: bool = False,
) -> AccountResult:
    """Copy one mailbox, some of its folders (source names), messages with internal dates in
    [since, before), from one server to another, then check them: the stable entry for a restore.
    Incremental like ``scripts/migrate copy``: what the destination already holds is skipped."""
    [result] = run_copy(
        [Account(source_user, destination_user)],
        source,
        destination,
        passwords,
        jobs=1,
        settings=settings,
        progress=progress,
        window=Window(tuple(folders) if folders is not None else None, since, before),
    )
    return result


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="scripts/migrate copy",
        description="Copy mailboxes from the old IMAP server to the new one, incrementally, "
        "several accounts at once, then check every folder (presence, size, internal date, "
        "flags). Exit 0 all there, 1 something missing or different, 2 could not run (or an "
        "account failed).",
        epilog="Servers: a preset (" + ", ".join(PRESETS) + "; hkmail:<host> is our Dovecot, "
        "alibaba-mail-hk:<host> the IMAP host the Alibaba Mail console shows), "
        "or host[:port]. The security is taken from the port only for 993 (implicit TLS) and "
        "143 (STARTTLS); any other port needs --source-security / --destination-security.",
    )
    ap.add_argument("--accounts", required=True, help="file of 'source-user destination-user'")
    ap.add_argument("--source", required=True, help="old server: preset or host[:port]")
    ap.add_argument("--destination", required=True, help="new server: preset or host[:port]")
    ap.add_argument(
        "--source-security",
        choices=SECURITIES,
        help="ssl (implicit TLS), starttls or none; needed for a port other than 993 or 143",
    )
    ap.add_argument(
        "--destination-security",
        choices=SECURITIES,
        help="as --source-security, for the destination",
    )
    ap.add_argument("--passwords", help="password file (mode 600); else HKMAIL_*_PASSWORD")
    ap.add_argument("--source-cafile", help="CA bundle for the source (default: system CAs)")
    ap.add_argument("--destination-cafile", help="CA bundle for the destination")
    ap.add_argument(
        "--jobs",
        type=int,
        default=4,
        help="accounts copied at once, one IMAP session per side each (default 4)",
    )
    ap.add_argument(
        "--max-connections",
        type=int,
        help="sessions per server at most (default: --jobs); lowered by one each time a server "
        "answers that it is busy ([UNAVAILABLE], too many connections), after a back-off",
    )
    ap.add_argument("--dry-run", action="store_true", help="show what would be copied")
    ap.add_argument(
        "--verify-only", action="store_true", help="only check the destination has everything"
    )
    ap.add_argument("--format", choices=("text", "json"), default="text", help="report format")
    ap.add_argument(
        "--report",
        help="also write the JSON report to this file, updated as each account finishes",
    )
    ap.add_argument("--no-progress", action="store_true", help="no progress display on stderr")
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds per IMAP operation")
    ap.add_argument(
        "--connect-timeout",
        type=float,
        default=10.0,
        help="seconds for each step of connecting: TCP, TLS, greeting, STARTTLS, login "
        "(default 10)",
    )
    return ap


def _positive(name: str, value: float | None, top: float) -> None:
    if value is not None and not 0 < value <= top:
        raise CopyError(f"{name}: {value:g} is not valid; allowed: more than 0, at most {top:g}")


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    mode = "dry-run" if args.dry_run else "verify" if args.verify_only else "copy"
    report = Path(args.report) if args.report else None
    try:
        _positive("--jobs", args.jobs, 64)
        _positive("--max-connections", args.max_connections, 64)
        _positive("--timeout", args.timeout, 3600)
        _positive("--connect-timeout", args.connect_timeout, 300)
        source = parse_server(args.source, args.source_security, "--source")
        destination = parse_server(args.destination, args.destination_security, "--destination")
        accounts = read_accounts(Path(args.accounts))
        passwords = Passwords.load(Path(args.passwords) if args.passwords else None)
        previous = None
        if report is not None and report.exists():
            with contextlib.suppress(ValueError, OSError):
                previous = json.loads(report.read_text(encoding="utf-8"))

        def update(partial: list[AccountResult | None]) -> None:
            for r in partial:
                if r is not None and not r.notes:
                    r.notes = uidvalidity_notes(previous, r)
            if report is not None:
                write_report(report, to_json(partial, mode, complete=False))

        results = run_copy(
            accounts,
            source,
            destination,
            passwords,
            jobs=args.jobs,
            max_connections=args.max_connections,
            dry_run=args.dry_run,
            verify_only=args.verify_only,
            settings=Settings(
                source_cafile=args.source_cafile,
                destination_cafile=args.destination_cafile,
                timeout=args.timeout,
                handshake_timeout=args.connect_timeout,
            ),
            progress=not args.no_progress,
            on_result=update,
        )
    except (CopyError, OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    doc = to_json(results, mode)
    if report is not None:
        write_report(report, doc)
    if args.format == "json":
        sys.stdout.write(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(to_text(results, mode))
    if doc["failed"]:
        return 2
    if mode == "dry-run":
        return 0
    return 1 if doc["missing"] or doc["mismatched"] else 0


if __name__ == "__main__":
    sys.exit(main())
