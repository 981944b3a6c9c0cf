"""``scripts/archive``: find journaled messages in the Hong Kong archive bucket and export them with
a manifest that proves they are the journal's (chain of custody).

    scripts/archive find   --cloud alicloud --bucket NAME [filters]
    scripts/archive export --cloud alicloud --bucket NAME [filters] --format mbox|eml --output DIR
    scripts/archive verify DIR
    scripts/archive health --cloud alicloud --bucket NAME [--days 7] [--max-age-hours 24]
                           [--backup-bucket NAME [--max-backup-age-hours 36]]
                           [--max-status-age-minutes 30] [--max-spool-age-minutes 60]
                           [--max-drill-age-days 90]
    scripts/archive restore --source HOST --server hkmail:HOST --user NAME [--folder F] [--since D]
    scripts/archive drill --cloud alicloud --bucket NAME [--backup-bucket NAME] --password-file F
                          --server hkmail:HOST --user local@domain [--folder F] [--operator NAME]

Filters (all given must match): ``--address`` (From, To, Cc, the envelope sender or a
recipient), ``--since``/``--until`` (UTC days the server received the message, inclusive),
``--message-id``, ``--subject`` (a case-insensitive part of the decoded subject).

The journal (written by the server's hkmail-journal-upload) keeps each message as
``journal/<yyyy>/<mm>/<dd>/<id>.eml`` with a manifest entry ``<id>.json``. ``export`` downloads
each match, checks its sha256 against the manifest entry and the object's own sha256 metadata,
and writes the messages (one ``.eml`` each, or one mboxrd file) plus ``manifest.json``: every
message's object key and version, journal sha256, headers and envelope, and the sha256 of each
file written. ``verify DIR`` recomputes the files' sha256s against that manifest, for whoever
receives the export.

Credentials: the administrator's temporary key in ``AWS_ACCESS_KEY_ID``,
``AWS_SECRET_ACCESS_KEY`` and ``AWS_SESSION_TOKEN`` (a RAM/CAM STS key allowed to read the
bucket; never printed). Exit 0 done, 1 a message does not match the journal, 2 bad input (nothing
is written); ``drill`` also 3: it ran but the bucket refused its record (toolchain.archive_drill).

``restore`` (toolchain.archive_restore) copies a mailbox back into the live server over IMAP from a
server holding a copy (a Dovecot serving the restic backup's restored Maildir); exit 1 when the
closing check finds a message missing or different.
"""

from __future__ import annotations

import argparse
import datetime as dt
import email.utils
import hashlib
import json
import os
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hkmail.facts import CLOUDS
from hkmail.mailserver.journal import ARCHIVE_S3, DRILL_PREFIX, JOURNAL_PREFIX
from hkmail.mailserver.s3 import S3, Credentials, StoreError, StoreUnavailable
from toolchain import archive_drill, archive_restore, archive_status

FORMATS = ("mbox", "eml")
# A manifest entry is a few KiB; more is not one.
MAX_MANIFEST_BYTES = 1024 * 1024
# A range wider than this is listed whole rather than day by day.
MAX_DAYS_LISTED = 400


class UsageError(Exception):
    """Bad input: exit 2, nothing written."""


class Mismatch(Exception):
    """A downloaded message differs from its journal record: exit 1."""


@dataclass(frozen=True)
class Query:
    address: str | None = None
    since: dt.date | None = None
    until: dt.date | None = None
    message_id: str | None = None
    subject: str | None = None

    def describe(self) -> str:
        parts = [f"{k}={v}" for k, v in vars(self).items() if v is not None]
        return ", ".join(parts) or "everything"

    def matches(self, entry: Mapping[str, Any]) -> bool:
        env = entry.get("envelope", {})
        day = dt.date.fromisoformat(str(env.get("receivedAt", ""))[:10])
        if (self.since and day < self.since) or (self.until and day > self.until):
            return False
        if self.message_id:
            want = self.message_id.strip().strip("<>").lower()
            if str(entry.get("messageId") or "").strip().strip("<>").lower() != want:
                return False
        if self.subject and self.subject.lower() not in str(entry.get("subject") or "").lower():
            return False
        if self.address:
            a = self.address.lower()
            texts = [
                str(entry.get("from") or ""),
                *map(str, entry.get("to") or []),
                *map(str, entry.get("cc") or []),
                str(env.get("mailFrom") or ""),
                *map(str, env.get("rcptTo") or []),
            ]
            if not any(a in t.lower() for t in texts):
                return False
        return True


def _date(flag: str, value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise UsageError(f"{flag}: {value!r} is not valid; allowed: a date YYYY-MM-DD") from None


def _prefixes(q: Query) -> list[str]:
    """The journal's day prefixes to list: one per day of a bounded range, else all."""
    if q.since and q.until and (q.until - q.since).days <= MAX_DAYS_LISTED:
        days = (q.until - q.since).days + 1
        return [f"{JOURNAL_PREFIX}{q.since + dt.timedelta(days=i):%Y/%m/%d}/" for i in range(days)]
    return [JOURNAL_PREFIX]


def find(store: S3, q: Query) -> list[tuple[str, dict[str, Any]]]:
    """(manifest key, entry) of every journaled message matching ``q``, oldest first."""
    out: list[tuple[str, dict[str, Any]]] = []
    for prefix in _prefixes(q):
        for key in store.list(prefix):
            if not key.endswith(".json"):
                continue
            entry: dict[str, Any] = json.loads(store.get(key))
            if q.matches(entry):
                out.append((key, entry))
    return sorted(out, key=lambda ke: str(ke[1].get("id")))


def _mboxrd(message: bytes, received_at: str) -> bytes:
    """One mboxrd record: LF line ends, '>' added before every (>*)From line of the body."""
    when = dt.datetime.fromisoformat(received_at).strftime("%a %b %d %H:%M:%S %Y")
    lines = message.replace(b"\r\n", b"\n").split(b"\n")
    body = b"\n".join(b">" + ln if re.match(rb"^>*From ", ln) else ln for ln in lines)
    if not body.endswith(b"\n"):
        body += b"\n"
    return b"From MAILER-DAEMON " + when.encode() + b"\n" + body + b"\n"


def export(
    store: S3, found: Sequence[tuple[str, dict[str, Any]]], fmt: str, out: Path, q: Query
) -> dict[str, Any]:
    records: list[dict[str, Any]] = []
    mbox = bytearray()
    files: dict[str, bytes] = {}
    for key, entry in found:
        eml_key = key[: -len(".json")] + ".eml"
        data = store.get(eml_key)
        head = store.head(eml_key)
        sha = hashlib.sha256(data).hexdigest()
        stored_sha = head.meta.get("sha256") if head else None
        if sha != entry["sha256"] or sha != stored_sha:
            raise Mismatch(
                f"{eml_key}: sha256 {sha} differs from the journal's {entry['sha256']} "
                f"(object metadata {stored_sha})"
            )
        record = {
            "id": entry["id"],
            "object": eml_key,
            "manifestObject": key,
            "sha256": sha,
            "size": len(data),
            "messageId": entry.get("messageId"),
            "date": entry.get("date"),
            "from": entry.get("from"),
            "to": entry.get("to"),
            "subject": entry.get("subject"),
            "envelope": entry.get("envelope"),
        }
        if fmt == "eml":
            name = f"{entry['id']}.eml"
            files[name] = data
            record["file"] = name
        else:
            record["mboxOffset"] = len(mbox)
            mbox += _mboxrd(data, str(entry["envelope"]["receivedAt"]))
        records.append(record)
    if fmt == "mbox":
        files["messages.mbox"] = bytes(mbox)
    out.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (out / name).write_bytes(data)
    manifest = {
        "kind": "hk-mail journal export",
        "bucket": store.bucket,
        "query": q.describe(),
        "exportedAt": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "format": fmt,
        "count": len(records),
        "files": {name: hashlib.sha256(data).hexdigest() for name, data in files.items()},
        "messages": records,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    return manifest


def health(store: S3, today: dt.date, days: int) -> dict[str, Any]:
    """Journal objects per UTC day for the last ``days`` days, and the newest one: gaps show
    when nothing reached the bucket (the server's spool depth and ALARM lines are in its log)."""
    per_day: dict[str, int] = {}
    newest: str | None = None
    for i in range(days):
        day = today - dt.timedelta(days=i)
        keys = [k for k in store.list(f"{JOURNAL_PREFIX}{day:%Y/%m/%d}/") if k.endswith(".eml")]
        per_day[day.isoformat()] = len(keys)
        if newest is None and keys:
            newest = max(keys)
    received = None
    if newest is not None:
        # Written by the instance role: not trusted input; an unreadable entry is an ALARM.
        manifest = newest[: -len(".eml")] + ".json"
        try:
            entry = json.loads(store.get(manifest)[:MAX_MANIFEST_BYTES])
            received = str(entry["envelope"]["receivedAt"])
            if dt.datetime.fromisoformat(received).tzinfo is None:
                raise ValueError(f"receivedAt {received[:40]!r} has no time zone")
        except (StoreError, ValueError, KeyError, TypeError) as exc:
            problem = f"the newest journal entry {store.bucket}/{manifest} is not readable ({exc})"
            return {"bucket": store.bucket, "newestObject": newest, "newestReceivedAt": None,
                    "messagesPerDay": per_day, "newestProblem": problem[:400]}  # fmt: skip
    return {"bucket": store.bucket, "newestObject": newest, "newestReceivedAt": received,
            "messagesPerDay": per_day}  # fmt: skip


# The backup runs nightly (backup.BACKUP_ON_CALENDAR): a day and a half tolerates a slow run,
# not a missed night.
MAX_BACKUP_AGE_HOURS = 36.0

# restic writes one object per snapshot under <repository>/snapshots/ (restic's repository
# format); its content is encrypted, its time is the object's Last-Modified.
BACKUP_SNAPSHOTS = "backup/snapshots/"


def backup_health(store: S3) -> dict[str, Any]:
    """The nightly backup as its bucket shows it: how many restic snapshots, and when the newest
    was written (nothing decrypted: no repository password needed)."""
    times = []
    keys = list(store.list(BACKUP_SNAPSHOTS))
    for key in keys:
        status, headers, _ = store.request("HEAD", key)
        modified = {k.lower(): v for k, v in headers.items()}.get("last-modified")
        if status == 200 and modified:
            try:
                when = email.utils.parsedate_to_datetime(modified)
            except (TypeError, ValueError):
                raise UsageError(
                    f"{store.bucket}/{key}: Last-Modified {modified[:60]!r} is not valid; "
                    "allowed: an HTTP date (RFC 9110, e.g. 'Mon, 07 Dec 2026 02:31:05 GMT')"
                ) from None
            times.append(when.astimezone(dt.UTC))
    newest = max(times).isoformat() if times else None
    return {"bucket": store.bucket, "snapshots": len(keys), "newestSnapshotAt": newest}


def verify(directory: Path) -> list[str]:
    """Problems found re-hashing an export against its manifest (empty: intact)."""
    try:
        manifest = json.loads((directory / "manifest.json").read_text())
    except (OSError, ValueError) as exc:
        raise UsageError(f"{directory}/manifest.json: cannot be read ({exc})") from None
    problems = []
    for name, sha in manifest["files"].items():
        path = directory / name
        if not path.exists():
            problems.append(f"{name}: missing")
        elif hashlib.sha256(path.read_bytes()).hexdigest() != sha:
            problems.append(f"{name}: sha256 differs from the manifest")
    if manifest["format"] == "eml":
        for m in manifest["messages"]:
            path = directory / m["file"]
            if path.exists() and hashlib.sha256(path.read_bytes()).hexdigest() != m["sha256"]:
                problems.append(f"{m['file']}: not the journal's message {m['object']}")
    return problems


# ------------------------------------------------------------------------------------------------
# Command line
# ------------------------------------------------------------------------------------------------


def _env_credentials() -> Credentials:
    key, secret = os.environ.get("AWS_ACCESS_KEY_ID"), os.environ.get("AWS_SECRET_ACCESS_KEY")
    if not key or not secret:
        raise UsageError(
            "AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY: not set; allowed: a RAM/CAM temporary "
            "key (with AWS_SESSION_TOKEN) that may read the archive bucket"
        )
    return key, secret, os.environ.get("AWS_SESSION_TOKEN") or None


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="scripts/archive",
        description="Find and export journaled mail from the Hong Kong archive bucket; check the "
        "journal's, the backup's and the restore drills' health; restore a mailbox into the live "
        "server; drill a restore from the backup.",
    )
    sub = p.add_subparsers(dest="command", required=True)
    for name, help_text in (
        ("find", "list the journaled messages that match"),
        ("export", "write the matching messages and a sha256 manifest"),
    ):
        s = sub.add_parser(name, help=help_text)
        s.add_argument("--cloud", required=True, choices=CLOUDS, help="where the bucket is")
        s.add_argument("--bucket", required=True, help="the archive bucket (COS: name-APPID)")
        s.add_argument(
            "--endpoint", help="S3 endpoint URL (default: the cloud's Hong Kong endpoint)"
        )
        s.add_argument("--address", help="From, To, Cc, envelope sender or recipient contains")
        s.add_argument("--since", help="first UTC day received, YYYY-MM-DD")
        s.add_argument("--until", help="last UTC day received, YYYY-MM-DD")
        s.add_argument("--message-id", help="the Message-ID, with or without <>")
        s.add_argument("--subject", help="part of the subject (case-insensitive)")
        if name == "export":
            s.add_argument("--format", required=True, choices=FORMATS, help="mbox or one .eml each")
            s.add_argument("--output", required=True, type=Path, help="a new or empty directory")
        else:
            s.add_argument("--json", action="store_true", help="the manifest entries as JSON")
    h = sub.add_parser(
        "health",
        help="journal objects per day and the newest one, the server's spool status, the "
        "newest restore drill (and backup snapshot); exit 1 with ALARM lines",
    )
    h.add_argument("--cloud", required=True, choices=CLOUDS, help="where the bucket is")
    h.add_argument("--bucket", required=True, help="the archive bucket (COS: name-APPID)")
    h.add_argument("--endpoint", help="S3 endpoint URL (default: the cloud's Hong Kong endpoint)")
    h.add_argument("--days", type=int, default=7, help="days to count back (1-90, default 7)")
    h.add_argument(
        "--max-age-hours",
        type=float,
        default=24.0,
        help="exit 1 when the newest journaled message is older (default 24)",
    )
    h.add_argument(
        "--backup-bucket",
        help="also report the nightly backup: its restic snapshots under backup/ and the "
        "newest one's time (the archive bucket, or on Alibaba under WORM <bucket>-backup)",
    )
    h.add_argument(
        "--max-backup-age-hours",
        type=float,
        default=MAX_BACKUP_AGE_HOURS,
        help="with --backup-bucket: exit 1 when the newest restic snapshot is older, or there is "
        f"none (default {MAX_BACKUP_AGE_HOURS:g}: the backup runs nightly)",
    )
    h.add_argument(
        "--max-status-age-minutes",
        type=float,
        default=archive_status.MAX_STATUS_AGE_MINUTES,
        help="exit 1 when the server's newest journal spool status is older, or there is none "
        f"(default {archive_status.MAX_STATUS_AGE_MINUTES:g}: three publications missed)",
    )
    h.add_argument(
        "--max-spool-age-minutes",
        type=float,
        default=archive_status.MAX_SPOOL_AGE_MINUTES,
        help="exit 1 when the spool's oldest waiting message is older "
        f"(default {archive_status.MAX_SPOOL_AGE_MINUTES:g})",
    )
    h.add_argument(
        "--max-drill-age-days",
        type=float,
        default=archive_status.MAX_DRILL_AGE_DAYS,
        help="exit 1 when no restore drill (scripts/archive drill) is newer, or the newest "
        f"failed (default {archive_status.MAX_DRILL_AGE_DAYS:g}: one a quarter)",
    )
    archive_restore.add_parser(sub)
    archive_drill.add_parser(sub)
    v = sub.add_parser("verify", help="re-hash an export against its manifest")
    v.add_argument("directory", type=Path, help="the export directory (with manifest.json)")
    return p


def _store(args: argparse.Namespace, bucket: str | None = None) -> S3:
    endpoint, region = ARCHIVE_S3[args.cloud]
    custom = args.endpoint
    if custom and not re.fullmatch(r"https?://[A-Za-z0-9.:-]+", custom):
        raise UsageError(f"--endpoint: {custom!r} is not valid; allowed: http(s)://host[:port]")
    creds = _env_credentials()
    return S3(
        endpoint=custom or endpoint,
        region=region,
        bucket=bucket or args.bucket,
        credentials=lambda: creds,
        # A custom endpoint (a test store on loopback) is addressed by path; OSS refuses that.
        path_style=bool(custom),
    )


def _query(args: argparse.Namespace) -> Query:
    q = Query(
        address=args.address,
        since=_date("--since", args.since),
        until=_date("--until", args.until),
        message_id=args.message_id,
        subject=args.subject,
    )
    if q.since and q.until and q.since > q.until:
        raise UsageError(f"--since {q.since} is after --until {q.until}; allowed: since <= until")
    return q


def _hours_since(now: dt.datetime, iso: str | None) -> float | None:
    if iso is None:
        return None
    return (now - dt.datetime.fromisoformat(iso)).total_seconds() / 3600


def _now() -> dt.datetime:
    """The check's clock (one reading for every part it judges)."""
    return dt.datetime.now(dt.UTC)


def _part(found: archive_status.Found, alarms: list[str]) -> dict[str, Any] | None:
    """A status or drill as the report shows it: the newest valid record with the part's ALARM
    lines; with none valid but invalid objects, only the lines; None when the bucket has none."""
    if found.record is not None:
        return {**found.record, "alarms": alarms}
    return {"object": None, "valid": False, "alarms": alarms} if found.invalid else None


def _health(args: argparse.Namespace) -> int:
    """Exit 1 with an ALARM line per stale part (journal, and the backup when asked for)."""
    if not 1 <= args.days <= 90:
        raise UsageError(f"--days: {args.days} is not valid; allowed: 1-90")
    for flag, value, unit in (
        ("--max-age-hours", args.max_age_hours, "hours"),
        ("--max-backup-age-hours", args.max_backup_age_hours, "hours"),
        ("--max-status-age-minutes", args.max_status_age_minutes, "minutes"),
        ("--max-spool-age-minutes", args.max_spool_age_minutes, "minutes"),
        ("--max-drill-age-days", args.max_drill_age_days, "days"),
    ):
        if not 0 <= value < float("inf"):  # also NaN
            raise UsageError(f"{flag}: {value:g} is not valid; allowed: a number of {unit} >= 0")
    now = _now()
    store = _store(args)
    report = health(store, now.date(), args.days)
    if args.backup_bucket:
        report["backup"] = backup_health(_store(args, args.backup_bucket))
    # What the bucket holds is not the operator's input: a bad object is an ALARM, not exit 2.
    spool = archive_status.spool_status(store, now.date(), args.days)
    drill = archive_status.newest_drill(store)
    alarms = [report.pop("newestProblem")] if "newestProblem" in report else []
    newest = report["newestReceivedAt"]
    age = _hours_since(now, newest)
    if age is None or age > args.max_age_hours:
        alarms.append(
            f"no journaled message in the last {args.max_age_hours:g} h"
            f" (newest: {newest or 'none in ' + str(args.days) + ' days'})"
        )
    if args.backup_bucket:
        snapshot = report["backup"]["newestSnapshotAt"]
        age = _hours_since(now, snapshot)
        if age is None or age > args.max_backup_age_hours:
            alarms.append(
                f"no backup snapshot in {args.backup_bucket} in the last "
                f"{args.max_backup_age_hours:g} h (newest: {snapshot or 'none'})"
            )
    spool_alarms = archive_status.spool_alarms(
        spool, now, args.max_status_age_minutes, args.max_spool_age_minutes
    )
    drill_alarms = archive_status.drill_alarms(drill, now, args.max_drill_age_days)
    alarms += spool_alarms + drill_alarms
    report["spool"] = _part(spool, spool_alarms)
    if spool.record is not None:
        report["spool"]["stale"] = archive_status.is_stale(
            spool.record, now, args.max_status_age_minutes * 60
        )
    report["drill"] = _part(drill, drill_alarms)
    # When and against which thresholds: the report judges nothing itself.
    report["checkedAt"] = now.isoformat(timespec="seconds")
    report["alarms"] = alarms
    print(json.dumps(report, indent=2, ensure_ascii=False))
    for line in alarms:
        print(f"archive health: ALARM {line}", file=sys.stderr)
    return 1 if alarms else 0


def _drill(args: argparse.Namespace) -> int:
    """Exit 0 PASS, 1 FAIL (the record in the bucket), 3 the record NOT kept in the bucket."""
    endpoint, region = ARCHIVE_S3[args.cloud]
    store = _store(args)  # checks --endpoint and the credentials first
    drill = archive_drill.from_args(args, args.endpoint or endpoint, region,
                                    _env_credentials())  # fmt: skip
    try:
        record, key, path = archive_drill.run(drill, store)
        kept = f"recorded as {args.bucket}/{key} (and in {path})"
    except archive_drill.RecordNotKept as exc:
        record, key, path = exc.record, exc.key, exc.path
        kept = (
            f"record NOT kept in {args.bucket}/{key} ({exc}): the operator's key needs "
            f"PutObject on {DRILL_PREFIX}* of the archive bucket; the record is in {path}"
        )
    for line in record["problems"]:
        print(f"archive drill: {line}", file=sys.stderr)
    snap = record["snapshot"]
    scope = (
        record["scope"]
        if isinstance(record["scope"], str)
        else "folders " + ", ".join(record["scope"])
    )
    print(
        f"archive drill: {record['verdict']}: {record['restoredMessages']} message(s) of "
        f"{record['mailbox']} ({scope}) restored from snapshot {snap['id']} ({snap['time']}) and "
        f"compared with the live mailbox over IMAP, not with the journal "
        f"({record['problemCount']} problem(s), {record['changedSinceSnapshot']} changed since "
        f"the snapshot, {record['newerThanSnapshot']} newer); {kept}"
    )
    if "NOT kept" in kept:
        return archive_drill.EXIT_NOT_KEPT
    return 0 if record["verdict"] == "PASS" else 1


def run(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command == "restore":
        result = archive_restore.restore(archive_restore.from_args(args))
        copied = sum(f.copied for f in result.folders)
        print(
            f"archive restore: {copied} message(s) restored into {args.user}; "
            f"{result.missing} missing, {result.mismatched} differing"
            + (f"; ERROR {result.error}" if result.error else "")
        )
        return 1 if result.error or result.missing or result.mismatched else 0
    if args.command == "drill":
        return _drill(args)
    if args.command == "verify":
        problems = verify(args.directory)
        for line in problems:
            print(f"archive verify: {line}", file=sys.stderr)
        print(f"archive verify: {'intact' if not problems else 'NOT intact'}: {args.directory}")
        return 1 if problems else 0
    if args.command == "health":
        return _health(args)
    q = _query(args)
    if args.command == "export":
        out: Path = args.output
        if out.exists() and (not out.is_dir() or any(out.iterdir())):
            raise UsageError(f"--output: {out} is not valid; allowed: a new or empty directory")
    store = _store(args)
    found = find(store, q)
    if not found:
        raise UsageError(
            f"no journaled message in {args.bucket} matches {q.describe()}; nothing written"
        )
    if args.command == "find":
        if args.json:
            print(json.dumps([e for _, e in found], indent=2, ensure_ascii=False))
        else:
            for _, e in found:
                print(
                    f"{e['envelope']['receivedAt'][:19]}  {e.get('messageId') or '-'}  "
                    f"{e.get('from') or '-'}  {e.get('subject') or ''}"
                )
        return 0
    manifest = export(store, found, args.format, args.output, q)
    print(f"archive export: {manifest['count']} message(s) to {args.output} (manifest.json)")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return run(argv)
    except (UsageError, archive_restore.RestoreRefused, archive_drill.DrillRefused) as exc:
        print(f"archive: {exc}", file=sys.stderr)
        return 2
    except Mismatch as exc:
        print(f"archive: NOT the journal's message: {exc}", file=sys.stderr)
        return 1
    except (StoreError, StoreUnavailable) as exc:
        print(f"archive: the archive bucket could not be read: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
