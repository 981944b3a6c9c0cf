"""``scripts/archive drill``: restore a mailbox from the newest backup snapshot and compare it with
the live mailbox, and keep the record in the bucket.

From the operator's machine: the newest restic snapshot of the backup (``backup/`` of the
backup bucket) is restored for one mailbox (or a ``--folder`` sample of it) into a scratch
directory (restic ``--verify`` re-reads every restored file against the snapshot), and every
restored message is matched by its bytes (line ends aside: Maildir keeps LF, IMAP sends CRLF)
with a message of the live mailbox over IMAP, not with the journal. What it proves: the snapshot
decrypts, its files are intact, and each restored message is byte for byte one the mailbox holds.
A restored message that no live message matches, a restic error, an unreadable restored file:
each is a problem, and any problem FAILS the drill. What the mailbox's owner may have done since
the snapshot (a message moved to another folder, flags changed, a message appended with an old
date, mail newer than the snapshot) is counted and listed as changed, not judged.

The record (when, who: ``--operator`` or user@machine, the snapshot's id and time, the mailbox,
the scope, the counts, the problems and changes, the verdict, the duration) is written to a
local file and put as a new object under ``drills/`` of the archive bucket, with its sha256 as
metadata (``scripts/archive health`` reports the newest). What keeps it there is the bucket's: on
Alibaba the WORM retention when ``retentionDays`` is set; on COS the bucket policy that denies
deleting under ``drills/`` (no retention). The scratch copy is removed afterwards.

Bad input is refused before anything is restored or written (exit 2): a mailbox that does not
accept the log-in, a repository the password does not open or that holds no snapshot, no
restic, a password file that cannot be read or that group or others may read. Exit 0 PASS,
1 FAIL, 3 the record could not be put in the bucket (it is in the local file).
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from imapclient import imap_utf7  # type: ignore[import-untyped]
from imapclient.exceptions import IMAPClientError  # type: ignore[import-untyped]

from hkmail.facts import CLOUDS
from hkmail.mailserver.backup import BACKUP_PREFIX
from hkmail.mailserver.journal import DRILL_KIND, DRILL_PREFIX, RECORD_KEY_TIME
from hkmail.mailserver.s3 import S3, StoreError, StoreUnavailable
from toolchain.imapconn import (
    CopyError,
    Server,
    add_live_server,
    connect,
    logout,
    parse_server,
)
from toolchain.imapcopy import Passwords, list_folders, missing_folders

# Maildir info letters (the "2," part of a file name) -> IMAP system flags, as Dovecot maps them
# (Dovecot, *Maildir mailbox format*: the standard flags D F R S T; lower-case letters are the
# keywords listed in dovecot-keywords).
MAILDIR_FLAGS = {"D": b"\\Draft", "F": b"\\Flagged", "R": b"\\Answered", "S": b"\\Seen",
                 "T": b"\\Deleted"}  # fmt: skip
FETCH_BATCH = 100
# Problems listed in the record; the count is always exact.
MAX_LISTED = 100
VERDICTS = ("PASS", "FAIL")


# The exit code when the drill ran but its record could not be put in the bucket.
EXIT_NOT_KEPT = 3
EXIT_CODES = (
    "exit 0 PASS, 1 FAIL (the record is in the bucket either way), 2 bad input (nothing restored "
    f"or recorded), {EXIT_NOT_KEPT} the drill ran but the bucket refused its record (NOT kept; "
    "it is in the local file)"
)


class DrillRefused(Exception):
    """Bad input found before anything was restored or recorded: exit 2."""


class RecordNotKept(Exception):
    """The drill ran, its record is in a local file, the bucket refused it: exit 3."""

    def __init__(self, record: dict[str, Any], key: str, path: Path, why: str) -> None:
        super().__init__(why)
        self.record, self.key, self.path = record, key, path


@dataclass(frozen=True)
class Message:
    digest: str  # sha256 of the bytes with CRLF as LF
    message_id: str
    flags: frozenset[bytes]
    stamp: int  # internal date, seconds since the epoch


@dataclass
class Outcome:
    folders: int = 0
    restored: int = 0
    live: int = 0
    newer: int = 0
    problems: list[str] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)  # since the snapshot: not judged


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    d = sub.add_parser(
        "drill",
        help="restore a mailbox from the newest backup into a scratch directory, compare it "
        "with the live mailbox, and record the result under drills/",
        description="Restore a mailbox (or a --folder sample) from the newest backup snapshot, "
        "match every restored message with the live mailbox over IMAP, write the record to a "
        f"local file and put it under drills/ of the archive bucket; {EXIT_CODES}.",
    )
    d.add_argument("--cloud", required=True, choices=CLOUDS, help="where the buckets are")
    d.add_argument("--bucket", required=True, help="the archive bucket (the record goes here)")
    d.add_argument(
        "--backup-bucket",
        help="the bucket holding backup/ (default: --bucket; on Alibaba under WORM "
        "<bucket>-backup)",
    )
    d.add_argument("--endpoint", help="S3 endpoint URL (default: the cloud's Hong Kong endpoint)")
    d.add_argument(
        "--password-file",
        required=True,
        type=Path,
        help="the restic repository password (pulumi config get hkmail:backupPassword), mode 600",
    )
    add_live_server(d)
    d.add_argument("--user", required=True, help="the mailbox's log-in, local@domain")
    d.add_argument(
        "--passwords",
        type=Path,
        help="file of 'destination <user> <password>' lines, mode 600 (else "
        "HKMAIL_DESTINATION_PASSWORD)",
    )
    d.add_argument(
        "--folder",
        action="append",
        help="drill only this folder of the mailbox (repeatable; default all): a sample of a "
        "large mailbox",
    )
    d.add_argument("--operator", help="who runs the drill (default: user@machine)")
    d.add_argument(
        "--maildir-root",
        default="/var/vmail",
        help="the mail store's path on the server, as backed up (default /var/vmail)",
    )
    d.add_argument("--restic", default="restic", help="the restic program (default: on PATH)")
    d.add_argument(
        "--record-dir",
        type=Path,
        default=Path("."),
        help="where the record is written before it is put in the bucket (default: here)",
    )


@dataclass(frozen=True)
class Drill:
    server: Server
    user: str
    password: str
    cafile: str | None
    operator: str
    maildir: str  # the mailbox's Maildir as the snapshot holds it
    folders: tuple[str, ...] | None  # None: every folder
    restic: str
    env: Mapping[str, str]
    options: tuple[str, ...]
    repository: str
    record_dir: Path


def from_args(
    args: argparse.Namespace, endpoint: str, region: str, creds: tuple[str, str, str | None]
) -> Drill:
    """Check every input that can be checked without the network; refuse with its name."""
    if not re.fullmatch(r"[^@\s/]+@[A-Za-z0-9.-]+", args.user):
        raise DrillRefused(f"--user: {args.user!r} is not valid; allowed: the log-in, local@domain")
    operator = args.operator or f"{getpass.getuser()}@{socket.gethostname()}"
    if not operator.strip() or any(ord(c) < 32 for c in operator) or len(operator) > 200:
        raise DrillRefused(f"--operator: {operator!r} is not valid; allowed: a name on one line")
    restic = shutil.which(args.restic)
    if restic is None:
        raise DrillRefused(
            f"--restic: {args.restic!r} not found; allowed: the restic program (Debian package "
            "restic)"
        )
    try:
        mode = args.password_file.stat().st_mode & 0o777
        if mode & 0o077:
            raise DrillRefused(
                f"--password-file: {args.password_file} may be read by group or others (mode "
                f"{mode:o}); allowed: a file only its owner reads, e.g. written with "
                "(umask 077; pulumi config get hkmail:backupPassword > FILE)"
            )
        secret = args.password_file.read_text()
    except OSError as exc:
        raise DrillRefused(
            f"--password-file: {args.password_file} cannot be read ({exc.strerror}); allowed: a "
            "file holding the repository password"
        ) from None
    if not secret.strip() or len(secret.strip().splitlines()) != 1:
        raise DrillRefused(
            f"--password-file: {args.password_file} is not valid; allowed: the repository "
            "password on one line"
        )
    if not args.record_dir.is_dir() or not os.access(args.record_dir, os.W_OK):
        raise DrillRefused(
            f"--record-dir: {args.record_dir} is not valid; allowed: a directory you may write"
        )
    if not args.maildir_root.startswith("/"):
        raise DrillRefused(
            f"--maildir-root: {args.maildir_root!r} is not valid; allowed: an absolute path"
        )
    try:
        server = parse_server(args.server, args.server_security, "--server")
        password = Passwords.load(args.passwords).get("destination", args.user)
    except (CopyError, OSError) as exc:
        raise DrillRefused(str(exc)) from None
    local, domain = args.user.split("@", 1)
    bucket = args.backup_bucket or args.bucket
    key, secret_key, token = creds
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": key,
        "AWS_SECRET_ACCESS_KEY": secret_key,
        "RESTIC_PASSWORD_FILE": str(args.password_file),
    }
    if token:
        env["AWS_SESSION_TOKEN"] = token
    # OSS refuses path-style requests; a custom endpoint (a test store) is addressed by path.
    lookup = "path" if args.endpoint else "dns"
    return Drill(
        server=server,
        user=args.user,
        password=password,
        cafile=args.server_cafile,
        operator=operator,
        maildir=f"{args.maildir_root.rstrip('/')}/{domain}/{local}/Maildir",
        folders=tuple(args.folder) if args.folder else None,
        restic=restic,
        env=env,
        options=(
            "-o",
            f"s3.bucket-lookup={lookup}",
            "-o",
            f"s3.region={region}",
            "--no-lock",
            "--no-cache",
        ),
        repository=f"s3:{endpoint.rstrip('/')}/{bucket}/{BACKUP_PREFIX.strip('/')}",
        record_dir=args.record_dir,
    )


RESTIC_TIMEOUT = 3600


def _restic(d: Drill, *args: str) -> subprocess.CompletedProcess[str]:
    """restic's answer; a run past RESTIC_TIMEOUT is an answer too (exit -1), not a traceback."""
    command = [d.restic, "-r", d.repository, *d.options, *args]
    try:
        return subprocess.run(command, env=dict(d.env), capture_output=True, text=True,
                              timeout=RESTIC_TIMEOUT, check=False)  # fmt: skip
    except subprocess.TimeoutExpired:
        stderr = f"restic {args[0]} timed out after {RESTIC_TIMEOUT} s"
        return subprocess.CompletedProcess(command, -1, "", stderr)


# restic's error text for a repository that is not there (S3 NoSuchKey/NoSuchBucket on its config
# file) versus one the store refuses or cannot be reached.
_NO_REPOSITORY = re.compile(
    r"NoSuchBucket|NoSuchKey|key does not exist|bucket does not exist", re.I
)
_REFUSED = re.compile(r"Access ?Denied|\b403\b|Forbidden|InvalidAccessKeyId|SignatureDoesNotMatch")


def newest_snapshot(d: Drill) -> dict[str, Any]:
    """The newest hkmail-backup snapshot; refused (exit 2) when the repository cannot be opened
    with the password or holds none."""
    out = _restic(d, "snapshots", "--json", "--tag", "hkmail")
    if out.returncode != 0:
        err = out.stderr.strip().splitlines()[-1:] or ["no message"]
        if "wrong password" in out.stderr:
            raise DrillRefused(
                "--password-file: the repository password does not open "
                f"{d.repository}; allowed: hkmail:backupPassword of this stack"
            )
        text = out.stderr
        if out.returncode < 0:
            why = "restic timed out reaching"
        elif _REFUSED.search(text):
            why = "the store refused the operator's key (it needs GetObject and ListObjects on "
            why += "backup/ of the backup bucket) for"
        elif _NO_REPOSITORY.search(text):
            why = "no restic repository at"
        else:
            why = "the store could not be reached (network, endpoint) for"
        detail = next((ln for ln in text.splitlines() if "unable to open" in ln), err[0])
        raise DrillRefused(
            f"--backup-bucket: {why} {d.repository} ({detail.strip()[:200]}); "
            "allowed: the bucket hkmail-backup writes to, readable with this key; nothing "
            "restored"
        )
    snapshots = json.loads(out.stdout or "[]")
    if not snapshots:
        raise DrillRefused(
            f"--backup-bucket: {d.repository} holds no snapshot; allowed: a bucket with at least "
            "one nightly backup; nothing restored"
        )
    snap: dict[str, Any] = max(snapshots, key=lambda s: str(s["time"]))
    return snap


def _digest(data: bytes) -> str:
    return hashlib.sha256(data.replace(b"\r\n", b"\n")).hexdigest()


def _message_id(data: bytes) -> str:
    head = data.replace(b"\r\n", b"\n").split(b"\n\n", 1)[0]
    m = re.search(rb"^message-id:[ \t]*(.*(?:\n[ \t].*)*)", head, re.I | re.M)
    return " ".join(m.group(1).decode("utf-8", "replace").split()) if m else ""


def _keywords(box: Path) -> dict[str, bytes]:
    """dovecot-keywords: '<index> <keyword>' lines; the index is the letter a.. in file names."""
    out: dict[str, bytes] = {}
    path = box / "dovecot-keywords"
    if path.exists():
        for line in path.read_bytes().splitlines():
            n, _, name = line.partition(b" ")
            if n.isdigit() and int(n) < 26 and name:
                out[chr(ord("a") + int(n))] = name
    return out


def read_maildir(root: Path) -> dict[str, list[Message]]:
    """folder -> messages of a restored Maildir++ (Dovecot's layout, '/' as the separator)."""
    folders: dict[str, list[Message]] = {}
    dirs = [("INBOX", root)] + [
        (imap_utf7.decode(p.name[1:].encode()).replace(".", "/"), p)
        for p in sorted(root.iterdir())
        if p.is_dir() and p.name.startswith(".") and (p / "cur").is_dir()
    ]
    for name, box in dirs:
        keywords = _keywords(box)
        msgs = []
        for sub in ("cur", "new"):
            for f in sorted((box / sub).iterdir()) if (box / sub).is_dir() else []:
                info = f.name.split(":2,", 1)[1] if ":2," in f.name else ""
                flags = {MAILDIR_FLAGS[c] for c in info if c in MAILDIR_FLAGS}
                flags |= {keywords[c] for c in info if c in keywords}
                data = f.read_bytes()
                msgs.append(Message(_digest(data), _message_id(data), frozenset(flags),
                                    int(f.stat().st_mtime)))  # fmt: skip
        folders[name] = msgs
    return folders


def read_live(client: Any, only: Sequence[str] | None = None) -> dict[str, list[Message]]:
    """folder -> messages of the live mailbox (read-only: EXAMINE and BODY.PEEK)."""
    out: dict[str, list[Message]] = {}
    for folder in list_folders(client):
        if not folder.selectable or (only is not None and folder.name not in only):
            continue
        client.select_folder(folder.name, readonly=True)
        uids = client.search(["ALL"])
        msgs = []
        for i in range(0, len(uids), FETCH_BATCH):
            got = client.fetch(uids[i : i + FETCH_BATCH], ["FLAGS", "INTERNALDATE", "BODY.PEEK[]"])
            for data in got.values():
                body = data[b"BODY[]"]
                flags = frozenset(f for f in data[b"FLAGS"] if f != b"\\Recent")
                stamp = int(data[b"INTERNALDATE"].timestamp())
                msgs.append(Message(_digest(body), _message_id(body), flags, stamp))
        out[folder.name] = msgs
    return out


def _label(m: Message) -> str:
    when = dt.datetime.fromtimestamp(m.stamp, dt.UTC).isoformat(timespec="seconds")
    return f"{m.message_id or 'no Message-ID'} ({when})"


def compare(
    restored: Mapping[str, Sequence[Message]],
    live: Mapping[str, Sequence[Message]],
    snapshot_at: dt.datetime,
) -> Outcome:
    """Each restored message matched with a live one by its bytes, in its own folder first,
    then in any other (a message moved since the snapshot). A restored message whose bytes no
    live message has is a problem; what the mailbox's owner may have done since the snapshot
    (moved, flagged, appended with an old date) is a change, counted and listed, not judged."""
    o = Outcome(folders=len(restored))
    cutoff = int(snapshot_at.timestamp())
    left = {folder: list(msgs) for folder, msgs in live.items()}
    o.live = sum(len(msgs) for msgs in left.values())
    unmatched: list[tuple[str, Message]] = []
    for folder in sorted(restored):
        for m in restored[folder]:
            o.restored += 1
            here = next((x for x in left.get(folder, []) if x.digest == m.digest), None)
            if here is not None:
                left[folder].remove(here)
                _changes(o, folder, folder, m, here)
            else:
                unmatched.append((folder, m))
    for folder, m in unmatched:  # after every folder's own matches: moved messages
        other = next(((f, x) for f in sorted(left) for x in left[f] if x.digest == m.digest), None)
        if other is not None:
            left[other[0]].remove(other[1])
            _changes(o, folder, other[0], m, other[1])
            continue
        twin = next(
            ((f, x) for f in sorted(left) for x in left[f]
             if m.message_id and x.message_id == m.message_id),
            None,
        )  # fmt: skip
        if twin is not None:  # judged here: not a live-only message as well
            left[twin[0]].remove(twin[1])
        o.problems.append(
            f"{folder}: {_label(m)} "
            + ("differs from the live message" if twin else "restored, not in the live mailbox")
        )
    for folder in sorted(left):
        for x in left[folder]:
            if x.stamp > cutoff:
                o.newer += 1
            else:
                o.changes.append(
                    f"{folder}: {_label(x)} in the live mailbox, dated before the snapshot, not "
                    "in the backup (appended since with an old date?)"
                )
    return o


def _changes(o: Outcome, was: str, now: str, m: Message, x: Message) -> None:
    """What changed on a message since the snapshot: its folder, flags, internal date."""
    if was != now:
        o.changes.append(f"{was}: {_label(m)} moved to {now}")
    if x.flags != m.flags:
        o.changes.append(
            f"{now}: {_label(m)} flags changed: backup {_flags(m.flags)}, live {_flags(x.flags)}"
        )
    if abs(x.stamp - m.stamp) > 1:
        o.changes.append(f"{now}: {_label(m)} internal date changed: live {_label(x)}")


def _flags(flags: frozenset[bytes]) -> str:
    return " ".join(sorted(f.decode() for f in flags)) or "(none)"


def _key(at: dt.datetime, user: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9.@_-]", "_", user)
    return f"{DRILL_PREFIX}{at:%Y/%m/%d}/{at.strftime(RECORD_KEY_TIME)}-{safe}.json"


def _time(text: str) -> dt.datetime:
    """restic's snapshot time (nanoseconds, a zone offset) as a datetime."""
    return dt.datetime.fromisoformat(re.sub(r"(\.\d{6})\d+", r"\1", text.replace("Z", "+00:00")))


def folder_paths(maildir: str, folder: str) -> list[str]:
    """The snapshot paths holding one folder of a Maildir++ (Dovecot: INBOX is the Maildir's own
    cur/ and new/; another folder is '.' + its modified UTF-7 name, '/' written as '.')."""
    if folder == "INBOX":
        return [f"{maildir}/cur", f"{maildir}/new", f"{maildir}/dovecot-keywords"]
    return [f"{maildir}/." + imap_utf7.encode(folder).decode().replace("/", ".")]


def _inspect(d: Drill, snapshot: Mapping[str, Any], scratch: Path) -> Outcome:
    """Restore the mailbox from ``snapshot`` into ``scratch`` and compare it with the live one."""
    paths = [p for f in d.folders for p in folder_paths(d.maildir, f)] if d.folders else [d.maildir]
    includes = [a for p in paths for a in ("--include", p)]
    out = _restic(d, "restore", str(snapshot["id"]), "--target", str(scratch), *includes,
                  "--verify")  # fmt: skip
    if out.returncode != 0:
        last = (out.stderr.strip().splitlines() or ["no message"])[-1]
        return Outcome(problems=[f"restic restore exit {out.returncode}: {last[:300]}"])
    box = scratch / d.maildir.lstrip("/")
    if not box.is_dir():
        return Outcome(problems=[f"{d.maildir} is not in snapshot {snapshot['short_id']}"])
    restored = read_maildir(box)
    if d.folders:
        restored = {f: restored.get(f, []) for f in d.folders}
    client = connect(d.server, d.user, d.password, d.cafile, 300.0)
    try:
        live = read_live(client, d.folders)
    finally:
        logout(client)
    return compare(restored, live, _time(str(snapshot["time"])))


def run(d: Drill, store: S3) -> tuple[dict[str, Any], str, Path]:
    """The drill, and its record written to ``d.record_dir`` and put under drills/ of
    ``store``'s bucket: (record, key, local file)."""
    try:  # the record's bucket answers (ListObjects on drills/) before anything is restored
        next(iter(store.list(DRILL_PREFIX)), None)
    except (StoreError, StoreUnavailable) as exc:
        raise DrillRefused(
            f"--bucket: {store.bucket} cannot be read ({exc}); allowed: the archive bucket, "
            "where the drill's record is kept; nothing restored or recorded"
        ) from None
    try:
        client = connect(d.server, d.user, d.password, d.cafile, 60.0)
    except CopyError as exc:
        raise DrillRefused(
            f"--user: {d.user} has no mailbox on {d.server} that accepts the log-in ({exc}); "
            "allowed: an existing mailbox; nothing restored or recorded"
        ) from None
    unknown, have = missing_folders(client, d.folders or ())
    if unknown:
        raise DrillRefused(
            f"--folder: {', '.join(unknown)} not in {d.user}'s mailbox; allowed: "
            f"{', '.join(have)}; nothing restored or recorded"
        )
    snapshot = newest_snapshot(d)
    roots = [str(p).rstrip("/") for p in snapshot.get("paths") or []]
    if not any(d.maildir.startswith(root + "/") for root in roots):
        # A typo here is the operator's, not the backup's: refused, not recorded as a FAIL.
        raise DrillRefused(
            f"--maildir-root: {d.maildir} is not under the paths snapshot "
            f"{snapshot.get('short_id')} backed up ({', '.join(roots) or 'none'}); allowed: the "
            "mail store's path on the server; nothing restored or recorded"
        )
    started = dt.datetime.now(dt.UTC)
    t0 = time.monotonic()
    scratch = Path(tempfile.mkdtemp(prefix="hkmail-drill-"))
    try:
        outcome = _inspect(d, snapshot, scratch)
    except (CopyError, IMAPClientError, OSError) as exc:
        outcome = Outcome(problems=[f"the drill stopped: {exc}"])
    finally:
        shutil.rmtree(scratch, ignore_errors=True)  # a copy of the mail: never left behind
    record = {
        "kind": DRILL_KIND,
        "at": started.isoformat(timespec="seconds"),
        "durationSeconds": round(time.monotonic() - t0, 1),
        "operator": d.operator,
        "machine": {"host": socket.gethostname(), "user": getpass.getuser()},
        "mailbox": d.user,
        "server": str(d.server),
        "repository": d.repository,
        "snapshot": {
            "id": snapshot.get("short_id"),
            "fullId": snapshot.get("id"),
            "time": _time(str(snapshot["time"])).astimezone(dt.UTC).isoformat(timespec="seconds"),
            "hostname": snapshot.get("hostname"),
        },
        "scope": list(d.folders) if d.folders else "every folder",
        "folders": outcome.folders,
        "restoredMessages": outcome.restored,
        "liveMessages": outcome.live,
        "newerThanSnapshot": outcome.newer,
        "changedSinceSnapshot": len(outcome.changes),
        "changes": outcome.changes[:MAX_LISTED],
        "comparedWith": "the live mailbox over IMAP (not the journal)",
        "problemCount": len(outcome.problems),
        "problems": outcome.problems[:MAX_LISTED],
        "verdict": "FAIL" if outcome.problems else "PASS",
    }
    data = json.dumps(record, indent=2, ensure_ascii=False).encode()
    key = _key(started, d.user)
    # Kept on this machine first: a refused put after an hour's restore must not lose the verdict.
    path = d.record_dir / key.rsplit("/", 1)[-1]
    path.write_bytes(data)
    print(f"archive drill: {record['verdict']}; record written to {path}", file=sys.stderr)
    try:
        store.put(key, data, {"sha256": hashlib.sha256(data).hexdigest()}, "application/json")
    except (StoreError, StoreUnavailable) as exc:
        raise RecordNotKept(record, key, path, str(exc)) from None
    return record, key, path
