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
- At the end every destination folder is checked against its source folders; exit 1 when any
  message is missing, 2 when the copy could not run.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import datetime as dt
import email.parser
import email.policy
import hashlib
import json
import os
import ssl
import stat
import sys
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from imapclient import IMAPClient  # type: ignore[import-untyped]
from imapclient.exceptions import IMAPClientError  # type: ignore[import-untyped]

# name -> (host, port, security); host None: given after the preset name, "hkmail:mail.x.hk".
PRESETS: Mapping[str, tuple[str | None, int, str]] = {
    "tencent-exmail": ("imap.exmail.qq.com", 993, "ssl"),
    "tencent-exmail-overseas": ("hwimap.exmail.qq.com", 993, "ssl"),
    "alibaba-mail": ("imap.qiye.aliyun.com", 993, "ssl"),
    "hkmail": (None, 993, "ssl"),  # our private server's Dovecot (hkmail:privateServer hostname)
}
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
HEADER_FIELDS = b"BODY.PEEK[HEADER.FIELDS (MESSAGE-ID DATE FROM SUBJECT)]"
META = [b"UID", b"RFC822.SIZE", b"INTERNALDATE", b"FLAGS", HEADER_FIELDS]
FETCH_BATCH = 500
COPY_BATCH_BYTES = 16 * 1024 * 1024


class CopyError(Exception):
    """The copy could not run (connection, login, arguments): exit 2."""


# ---------------------------------------------------------------------------------------------
# Endpoints, accounts, passwords
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Server:
    host: str
    port: int
    security: str  # ssl | starttls | none

    def __str__(self) -> str:
        return f"{self.host}:{self.port} ({self.security})"


def parse_server(text: str, security: str | None = None) -> Server:
    """``preset``, ``preset:host``, ``host`` or ``host:port``."""
    name, _, rest = text.partition(":")
    if name in PRESETS:
        host, port, sec = PRESETS[name]
        if host is None:
            if not rest:
                raise CopyError(f"preset {name} needs the server's host name: {name}:<host>")
            host, _, port_text = rest.partition(":")
            port = int(port_text) if port_text else port
        elif rest:
            port = int(rest)
        return Server(host, port, security or sec)
    port = int(rest) if rest else 993
    return Server(name, port, security or ("ssl" if port == 993 else "starttls"))


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


def connect(server: Server, user: str, password: str, cafile: str | None, timeout: float) -> Any:
    context = ssl.create_default_context(cafile=cafile)
    try:
        client = IMAPClient(
            server.host,
            port=server.port,
            ssl=server.security == "ssl",
            ssl_context=context,
            timeout=timeout,
        )
        if server.security == "starttls":
            client.starttls(context)
        client.normalise_times = False  # keep the internal dates' own zones
        client.login(user, password)
    except (OSError, IMAPClientError, ssl.SSLError) as exc:
        raise CopyError(f"{server}: cannot log in as {user}: {_reason(exc)}") from None
    return client


def _reason(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text.replace("\r", " ").replace("\n", " ")[:200]


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
# Messages
# ---------------------------------------------------------------------------------------------


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


def scan(client: Any, folder: str, readonly: bool = True) -> list[Msg]:
    client.select_folder(folder, readonly=readonly)
    uids = client.search(["ALL"])
    out = []
    for i in range(0, len(uids), FETCH_BATCH):
        batch = uids[i : i + FETCH_BATCH]
        for uid, data in client.fetch(batch, META).items():
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


# ---------------------------------------------------------------------------------------------
# Progress and reports
# ---------------------------------------------------------------------------------------------


class Progress:
    """One bar per account on stderr (redrawn in place on a terminal, every 10% otherwise)."""

    def __init__(self, label: str, total: int, total_bytes: int, out: TextIO, enabled: bool):
        self.label, self.total, self.total_bytes = label, total, total_bytes
        self.done = self.bytes = 0
        self.out, self.enabled = out, enabled
        self.tty = enabled and out.isatty()
        self.started = time.monotonic()
        self.last_decile = -1
        self.folder = ""

    def step(self, size: int, folder: str) -> None:
        self.done += 1
        self.bytes += size
        self.folder = folder
        self.draw()

    def draw(self, final: bool = False) -> None:
        if not self.enabled:
            return
        frac = self.done / self.total if self.total else 1.0
        decile = int(frac * 10)
        if not self.tty and not final and decile == self.last_decile:
            return
        self.last_decile = decile
        width = 30
        bar = "#" * int(frac * width) + "-" * (width - int(frac * width))
        rate = self.done / max(time.monotonic() - self.started, 1e-6)
        line = (
            f"{self.label} [{bar}] {self.done}/{self.total} msgs "
            f"{self.bytes / 1e6:.1f}/{self.total_bytes / 1e6:.1f} MB {rate:.0f} msg/s"
        )
        if self.tty:
            self.out.write("\r" + line[:160] + ("\n" if final else ""))
        else:
            self.out.write(line + "\n")
        self.out.flush()


@dataclass
class FolderResult:
    source: list[str]
    destination: str
    source_count: int
    destination_count: int = 0
    to_copy: int = 0
    copied: int = 0
    copied_bytes: int = 0
    flags_updated: int = 0
    missing: int = 0


@dataclass
class AccountResult:
    source: str
    destination: str
    folders: list[FolderResult] = field(default_factory=list)
    error: str = ""

    @property
    def missing(self) -> int:
        return sum(f.missing for f in self.folders)


# ---------------------------------------------------------------------------------------------
# The copy
# ---------------------------------------------------------------------------------------------


def _groups(mapping: Mapping[str, str]) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for src, dst in mapping.items():
        groups.setdefault(dst, []).append(src)
    return groups


def _batches(msgs: Sequence[Msg]) -> Iterator[list[Msg]]:
    batch: list[Msg] = []
    size = 0
    for m in msgs:
        if batch and (size + m.size > COPY_BATCH_BYTES or len(batch) >= 200):
            yield batch
            batch, size = [], 0
        batch.append(m)
        size += m.size
    if batch:
        yield batch


def copy_account(
    src: Any,
    dst: Any,
    account: Account,
    *,
    dry_run: bool,
    verify_only: bool,
    progress_out: TextIO,
    progress: bool,
) -> AccountResult:
    result = AccountResult(account.source, account.destination)
    source_folders = list_folders(src)
    dest_folders = list_folders(dst)
    mapping = map_folders(source_folders, dest_folders)
    existing = {f.name for f in dest_folders}
    plans: list[tuple[FolderResult, dict[str, list[Msg]], list[tuple[str, Msg]]]] = []
    for dest_name, sources in sorted(_groups(mapping).items()):
        src_msgs = {s: scan(src, s) for s in sources}
        dst_msgs = scan(dst, dest_name) if dest_name in existing else []
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
        )
        result.folders.append(fr)
        plans.append((fr, src_msgs, todo))
    if dry_run or verify_only:
        for fr, _, todo in plans:
            fr.missing = len(todo)
        return result

    bar = Progress(
        f"{account.source} -> {account.destination}",
        sum(len(t) for _, _, t in plans),
        sum(m.size for _, _, t in plans for _, m in t),
        progress_out,
        progress,
    )
    multiappend = dst.has_capability("MULTIAPPEND")
    for fr, _src_msgs, todo in plans:
        if fr.destination not in existing:
            dst.create_folder(fr.destination)
            existing.add(fr.destination)
            dst.subscribe_folder(fr.destination)
        by_source: dict[str, list[Msg]] = {}
        for s, m in todo:
            by_source.setdefault(s, []).append(m)
        for s, msgs in by_source.items():
            src.select_folder(s, readonly=True)
            for batch in _batches(msgs):
                bodies = src.fetch([m.uid for m in batch], [b"BODY.PEEK[]"])
                found = [(m, bodies.get(m.uid, {}).get(b"BODY[]")) for m in batch]
                ready = [(m, body) for m, body in found if body is not None]  # else expunged
                if multiappend and len(ready) > 1:
                    # RFC 3502: one command for the batch, all or nothing (an interrupted run
                    # leaves no half batch behind)
                    dst.multiappend(
                        fr.destination,
                        [
                            {"msg": body, "flags": m.flags}
                            | ({"date": m.internaldate} if m.internaldate else {})
                            for m, body in ready
                        ],
                    )
                else:
                    for m, body in ready:
                        dst.append(fr.destination, body, flags=m.flags, msg_time=m.internaldate)
                for _m, body in ready:
                    fr.copied += 1
                    fr.copied_bytes += len(body)
                    bar.step(len(body), fr.destination)
    bar.draw(final=True)
    # Flags changed on the source since an earlier run are added on the destination, and the
    # closing check: every source message is on the destination, per folder.
    for fr, src_msgs, _ in plans:
        dst_msgs = scan(dst, fr.destination, readonly=False)
        fr.destination_count = len(dst_msgs)
        flags_by_key: dict[str, set[bytes]] = {}
        counts = collections.Counter(m.key for ms in src_msgs.values() for m in ms)
        for ms in src_msgs.values():
            for m in ms:
                if counts[m.key] == 1:
                    flags_by_key[m.key] = set(m.flags)
        dst_counts = collections.Counter(m.key for m in dst_msgs)
        for m in dst_msgs:
            want = flags_by_key.get(m.key)
            if want is not None and dst_counts[m.key] == 1:
                add = want - set(m.flags)
                if add:
                    dst.add_flags([m.uid], sorted(add))
                    fr.flags_updated += 1
        missing = counts.copy()
        missing.subtract(dst_counts)
        fr.missing = sum(v for v in missing.values() if v > 0)
    return result


def run_copy(
    accounts: Sequence[Account],
    source: Server,
    destination: Server,
    passwords: Passwords,
    *,
    dry_run: bool = False,
    verify_only: bool = False,
    source_cafile: str | None = None,
    destination_cafile: str | None = None,
    timeout: float = 120.0,
    progress: bool = True,
    progress_out: TextIO = sys.stderr,
) -> list[AccountResult]:
    results = []
    for account in accounts:
        src = connect(
            source, account.source, passwords.get("source", account.source), source_cafile, timeout
        )
        try:
            dst = connect(
                destination,
                account.destination,
                passwords.get("destination", account.destination),
                destination_cafile,
                timeout,
            )
            try:
                results.append(
                    copy_account(
                        src,
                        dst,
                        account,
                        dry_run=dry_run,
                        verify_only=verify_only,
                        progress_out=progress_out,
                        progress=progress,
                    )
                )
            finally:
                _logout(dst)
        finally:
            _logout(src)
    return results


def _logout(client: Any) -> None:
    with contextlib.suppress(OSError, IMAPClientError):
        client.logout()


def to_json(results: Iterable[AccountResult], mode: str) -> dict[str, Any]:
    accounts = list(results)
    return {
        "mode": mode,
        "missing": sum(a.missing for a in accounts),
        "copied": sum(f.copied for a in accounts for f in a.folders),
        "copiedBytes": sum(f.copied_bytes for a in accounts for f in a.folders),
        "accounts": [
            {
                "source": a.source,
                "destination": a.destination,
                "missing": a.missing,
                "folders": [
                    {
                        "source": f.source,
                        "destination": f.destination,
                        "sourceMessages": f.source_count,
                        "destinationMessages": f.destination_count,
                        "toCopy": f.to_copy,
                        "copied": f.copied,
                        "copiedBytes": f.copied_bytes,
                        "flagsUpdated": f.flags_updated,
                        "missing": f.missing,
                    }
                    for f in a.folders
                ],
            }
            for a in accounts
        ],
    }


def to_text(results: Iterable[AccountResult], mode: str) -> str:
    lines = []
    accounts = list(results)
    for a in accounts:
        lines.append(f"{a.source} -> {a.destination}")
        for f in a.folders:
            verdict = "OK" if not f.missing else f"MISSING {f.missing}"
            if mode == "dry-run":
                verdict = f"would copy {f.to_copy}"
            lines.append(
                f"  {' + '.join(f.source)} -> {f.destination}: {f.source_count} on source, "
                f"{f.destination_count} on destination, copied {f.copied}: {verdict}"
            )
    missing = sum(a.missing for a in accounts)
    copied = sum(f.copied for a in accounts for f in a.folders)
    if mode == "dry-run":
        todo = sum(f.to_copy for a in accounts for f in a.folders)
        lines.append(f"dry run: {todo} message(s) would be copied; nothing was written")
    elif missing:
        lines.append(f"FAILED: {missing} source message(s) are not on the destination")
    else:
        lines.append(
            f"all {sum(f.source_count for a in accounts for f in a.folders)} source messages are "
            f"on the destination ({copied} copied in this run)"
        )
    return "\n".join(lines) + "\n"


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="scripts/migrate copy",
        description="Copy mailboxes from the old IMAP server to the new one, incrementally, then "
        "check every folder. Exit 0 all there, 1 something missing, 2 could not run.",
        epilog="Servers: a preset (" + ", ".join(PRESETS) + "; hkmail:<host> is our Dovecot), "
        "or host[:port].",
    )
    ap.add_argument("--accounts", required=True, help="file of 'source-user destination-user'")
    ap.add_argument("--source", required=True, help="old server: preset or host[:port]")
    ap.add_argument("--destination", required=True, help="new server: preset or host[:port]")
    ap.add_argument("--source-security", choices=("ssl", "starttls", "none"))
    ap.add_argument("--destination-security", choices=("ssl", "starttls", "none"))
    ap.add_argument("--passwords", help="password file (mode 600); else HKMAIL_*_PASSWORD")
    ap.add_argument("--source-cafile", help="CA bundle for the source (default: system CAs)")
    ap.add_argument("--destination-cafile", help="CA bundle for the destination")
    ap.add_argument("--dry-run", action="store_true", help="show what would be copied")
    ap.add_argument(
        "--verify-only", action="store_true", help="only check the destination has everything"
    )
    ap.add_argument("--format", choices=("text", "json"), default="text")
    ap.add_argument("--report", help="also write the JSON report to this file")
    ap.add_argument("--no-progress", action="store_true", help="no progress bars on stderr")
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds per IMAP operation")
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    mode = "dry-run" if args.dry_run else "verify" if args.verify_only else "copy"
    try:
        accounts = read_accounts(Path(args.accounts))
        passwords = Passwords.load(Path(args.passwords) if args.passwords else None)
        source = parse_server(args.source, args.source_security)
        destination = parse_server(args.destination, args.destination_security)
        results = run_copy(
            accounts,
            source,
            destination,
            passwords,
            dry_run=args.dry_run,
            verify_only=args.verify_only,
            source_cafile=args.source_cafile,
            destination_cafile=args.destination_cafile,
            timeout=args.timeout,
            progress=not args.no_progress,
        )
    except (CopyError, OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except IMAPClientError as exc:
        print(f"error: IMAP: {_reason(exc)}", file=sys.stderr)
        return 2
    doc = to_json(results, mode)
    if args.report:
        Path(args.report).write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    if args.format == "json":
        sys.stdout.write(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(to_text(results, mode))
    if mode == "dry-run":
        return 0
    return 1 if doc["missing"] else 0


if __name__ == "__main__":
    sys.exit(main())
