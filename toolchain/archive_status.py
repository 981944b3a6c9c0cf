"""What ``scripts/archive health`` reads from the archive bucket besides the journal itself: the
spool status the server's hkmail-journal-upload publishes (``status/journal-spool/``) and the
restore drills' records (``drills/``, written by ``scripts/archive drill``).

Both are one object per publication, the key starting with the UTC day and time, so the newest
is the greatest key: the spool's under today's day prefix (or an earlier one of ``--days``), the
drills' anywhere under the prefix (a few a year). Each object's sha256 metadata is checked against
its content, so an object that is not what its writer stored is reported, not trusted.

The bucket's content is not the operator's input: the instance role may put any object under
``status/journal-spool/``, and under WORM a bad one cannot be removed. So an object that is too
large, not JSON or not of its writer's shape is an ALARM naming it (the newest valid one is still
reported), never an error that silences the rest of the check. Ages are judged on the store's own
Last-Modified, not on the ``at`` the writer put in the document: a status dated in the future, or
whose ``at`` disagrees with Last-Modified or its key's time, is an ALARM too.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from hkmail.mailserver.journal import (
    DRILL_KIND,
    DRILL_PREFIX,
    RECORD_KEY_TIME,
    SPOOL_STATUS_EVERY,
    SPOOL_STATUS_KIND,
    SPOOL_STATUS_PREFIX,
)
from hkmail.mailserver.s3 import S3

# Three missed publications of the uploader's spool status are an alarm, not one late one.
MAX_STATUS_AGE_MINUTES: Final = 3 * SPOOL_STATUS_EVERY / 60
# Its backoff tops out at 5 minutes: a message still waiting after an hour means the bucket has
# been out of reach (or refusing) for most of that hour.
MAX_SPOOL_AGE_MINUTES: Final = 60.0
# A drill a quarter: the backup keeps 12 monthly snapshots (backup.BACKUP_KEEP), so each drill
# checks a snapshot well inside what is kept; no Hong Kong rule we found sets an interval.
MAX_DRILL_AGE_DAYS: Final = 90.0
# A record is a few KiB (a drill lists at most 100 problems); anything larger is not one, and is
# not downloaded.
MAX_RECORD_BYTES: Final = 256 * 1024
# Clocks (the server's, the store's, this machine's) may disagree by this much before a time is
# judged wrong.
MAX_SKEW_SECONDS: Final = 300.0
# Invalid objects newer than the newest valid one that are read before giving up (a role writing
# garbage could write many; each is one GET).
MAX_TRIED: Final = 20


@dataclass
class Found:
    """The newest valid record of a prefix (None: none), and an ALARM line per newer object
    that is not one."""

    record: dict[str, Any] | None = None
    invalid: list[str] = field(default_factory=list)


def _when(value: object) -> dt.datetime | None:
    """An ISO 8601 time with a zone, else None."""
    if not isinstance(value, str):
        return None
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return when if when.tzinfo is not None else None


def _key_time(key: str) -> dt.datetime | None:
    """The UTC time a writer put at the start of the key's last part (RECORD_KEY_TIME)."""
    stamp = key.rsplit("/", 1)[-1].split("-", 1)[0]
    try:
        return dt.datetime.strptime(stamp, RECORD_KEY_TIME).replace(tzinfo=dt.UTC)
    except ValueError:
        return None


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _optional(check: Callable[[object], bool]) -> Callable[[object], bool]:
    return lambda v: v is None or check(v)


_TEXT: Final = lambda v: isinstance(v, str)  # noqa: E731
_TIME: Final = lambda v: _when(v) is not None  # noqa: E731
# field -> its check, for what each writer puts (hkmail-journal-upload, scripts/archive drill).
SPOOL_FIELDS: Final[Mapping[str, Callable[[object], bool]]] = {
    "host": _TEXT,
    "at": _TIME,
    "spoolDepth": _is_count,
    "spoolBytes": _is_count,
    "oldestSpooled": _optional(_TIME),
    "failingSince": _optional(_TIME),
    "lastError": _optional(_TEXT),
}
DRILL_FIELDS: Final[Mapping[str, Callable[[object], bool]]] = {
    "at": _TIME,
    "verdict": lambda v: v in ("PASS", "FAIL"),
    "mailbox": _TEXT,
    "operator": _TEXT,
    "restoredMessages": _is_count,
    "snapshot": lambda v: isinstance(v, dict) and _optional(_TEXT)(v.get("id")),
    "problemCount": _optional(_is_count),
    "newerThanSnapshot": _optional(_is_count),
    "durationSeconds": _optional(lambda v: isinstance(v, int | float) and 0 <= v < 1e7),
}


def _load(
    store: S3, key: str, kind: str, fields: Mapping[str, Callable[[object], bool]]
) -> dict[str, Any] | str:
    """The record at ``key`` with what the store says of it, or why it is not one."""
    status, headers, _ = store.request("HEAD", key)
    low = {k.lower(): v for k, v in headers.items()}
    if status != 200:
        return f"HEAD answered HTTP {status}"
    size = int(low.get("content-length") or 0)
    if size > MAX_RECORD_BYTES:
        return f"{size} bytes, more than a record's {MAX_RECORD_BYTES}"
    try:
        modified = email.utils.parsedate_to_datetime(low.get("last-modified", ""))
    except (TypeError, ValueError):
        return f"Last-Modified {low.get('last-modified', '')[:60]!r} is not an HTTP date"
    # The object may have been replaced since the HEAD (COS has no WORM): never read more.
    status, _, data = store.request("GET", key, headers={"Range": f"bytes=0-{MAX_RECORD_BYTES}"})
    if status not in (200, 206):
        return f"GET answered HTTP {status}"
    if len(data) > MAX_RECORD_BYTES:
        return f"more than a record's {MAX_RECORD_BYTES} bytes"
    try:
        doc = json.loads(data)
    except ValueError:
        return "not JSON"
    if not isinstance(doc, dict) or doc.get("kind") != kind:
        return f"not a {kind!r} object"
    bad = [name for name, ok in fields.items() if not ok(doc.get(name))]
    if bad:
        return f"field(s) {', '.join(bad)} missing or of the wrong type"
    doc["object"] = key
    doc["lastModified"] = modified.astimezone(dt.UTC).isoformat(timespec="seconds")
    doc["sha256"] = hashlib.sha256(data).hexdigest()
    doc["sha256Matches"] = low.get("x-amz-meta-sha256") == doc["sha256"]
    return doc


def _newest(
    store: S3, keys: list[str], kind: str, fields: Mapping[str, Callable[[object], bool]]
) -> Found:
    found = Found()
    for key in sorted(keys, reverse=True)[:MAX_TRIED]:
        got = _load(store, key, kind, fields)
        if isinstance(got, dict):
            found.record = got
            return found
        found.invalid.append(f"{store.bucket}/{key} is not a valid {kind}: {got}")
    if len(keys) > MAX_TRIED:
        found.invalid.append(f"no valid {kind} among the newest {MAX_TRIED} objects")
    return found


def spool_status(store: S3, today: dt.date, days: int) -> Found:
    """The newest valid spool status the server published in the last ``days`` UTC days (and
    tomorrow: a server whose clock runs ahead is seen, and its time judged)."""
    for i in range(-1, days):
        prefix = f"{SPOOL_STATUS_PREFIX}{today - dt.timedelta(days=i):%Y/%m/%d}/"
        keys = [k for k in store.list(prefix) if k.endswith(".json")]
        if keys:
            return _newest(store, keys, SPOOL_STATUS_KIND, SPOOL_FIELDS)
    return Found()


def newest_drill(store: S3) -> Found:
    """The newest valid restore drill's record in the bucket."""
    keys = [k for k in store.list(DRILL_PREFIX) if k.endswith(".json")]
    return _newest(store, keys, DRILL_KIND, DRILL_FIELDS)


def _age(now: dt.datetime, iso: object) -> float | None:
    """Seconds from ``iso`` to ``now``; None when it is no time."""
    when = _when(iso)
    return None if when is None else (now - when).total_seconds()


def is_stale(record: Mapping[str, Any], now: dt.datetime, max_seconds: float) -> bool:
    """Older than ``max_seconds`` by the store's clock (Last-Modified, which the writer cannot
    set)."""
    age = _age(now, record.get("lastModified"))
    return age is None or age > max_seconds


def clock_alarms(record: Mapping[str, Any], now: dt.datetime, what: str) -> list[str]:
    """The writer's ``at`` checked against this machine's clock, the store's Last-Modified and
    the time in its key."""
    at = _when(record.get("at"))
    if at is None:
        return [f"{what} {record.get('object')}: its time {record.get('at')!r} is not valid"]
    out = []
    ahead = (at - now).total_seconds()
    if ahead > MAX_SKEW_SECONDS:
        out.append(f"{what} {record['object']} is dated {record['at']}, in the future")
    modified = _when(record.get("lastModified"))
    # A drill's record is put when it ends, its ``at`` is when it started.
    took = record.get("durationSeconds")
    stored = at + dt.timedelta(seconds=took if isinstance(took, int | float) else 0)
    if modified is not None and abs((stored - modified).total_seconds()) > MAX_SKEW_SECONDS:
        out.append(
            f"{what} {record['object']}: its time {record['at']} is not when the store received "
            f"it ({record['lastModified']})"
        )
    keyed = _key_time(str(record.get("object")))
    if keyed is None or abs((at - keyed).total_seconds()) > MAX_SKEW_SECONDS:
        out.append(f"{what} {record['object']}: its key does not carry its time {record['at']}")
    return out


def _found_alarms(found: Found, what: str, none: str) -> list[str]:
    """The invalid objects' lines, and ``none`` (nothing valid, nothing invalid) or a sha256
    that differs from its metadata."""
    if found.record is None:
        return found.invalid or [none]
    out = list(found.invalid)
    if not found.record["sha256Matches"]:
        out.append(f"{what} {found.record['object']}: sha256 differs from its metadata")
    return out


def spool_alarms(
    found: Found, now: dt.datetime, max_status_min: float, max_spool_min: float
) -> list[str]:
    none = (
        "no journal spool status in the bucket (not observed: is hkmail-journal-upload "
        "publishing to status/journal-spool/?)"
    )
    out = _found_alarms(found, "spool status", none)
    spool = found.record
    if spool is None:
        return out
    if is_stale(spool, now, max_status_min * 60):
        out.append(
            f"the journal spool status is stale: stored {spool['lastModified']} (published "
            f"{spool['at']}) by {spool['host']}, older than {max_status_min:g} min"
        )
    out += clock_alarms(spool, now, "spool status")
    oldest = _age(now, spool.get("oldestSpooled"))
    if oldest is not None and oldest > max_spool_min * 60:
        out.append(
            f"{spool['spoolDepth']} message(s) waiting in {spool['host']}'s journal spool, "
            f"the oldest since {spool['oldestSpooled']} (more than {max_spool_min:g} min)"
        )
    return out


def drill_alarms(found: Found, now: dt.datetime, max_days: float) -> list[str]:
    none = "no restore drill on record (drills/): run scripts/archive drill"
    out = _found_alarms(found, "restore drill", none)
    drill = found.record
    if drill is None:
        return out
    if is_stale(drill, now, max_days * 86400):
        out.append(
            f"no restore drill in the last {max_days:g} days (newest: {drill['at']}, stored "
            f"{drill['lastModified']}, {drill['verdict']})"
        )
    out += clock_alarms(drill, now, "restore drill")
    if drill["verdict"] != "PASS":
        out.append(f"the newest restore drill ({drill['at']}) did not pass: {drill['verdict']}")
    return out
