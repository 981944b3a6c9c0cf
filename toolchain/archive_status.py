"""What ``scripts/archive health`` reads from the archive bucket besides the journal itself: the
spool status the server's hkmail-journal-upload publishes (``status/journal-spool/``) and the
restore drills' records (``drills/``, written by ``scripts/archive drill``).

Both are one object per publication, the key starting with the UTC day and time, so the newest
is the greatest key: the spool's under today's day prefix (or an earlier one of ``--days``), the
drills' anywhere under the prefix (a few a year). Each object's sha256 metadata is checked against
its content, so an object that is not what its writer stored is reported, not trusted.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any, Final

from hkmail.mailserver.journal import DRILL_PREFIX, SPOOL_STATUS_EVERY, SPOOL_STATUS_PREFIX
from hkmail.mailserver.s3 import S3

# Three missed publications of the uploader's spool status are an alarm, not one late one.
MAX_STATUS_AGE_MINUTES: Final = 3 * SPOOL_STATUS_EVERY / 60
# Its backoff tops out at 5 minutes: a message still waiting after an hour means the bucket has
# been out of reach (or refusing) for most of that hour.
MAX_SPOOL_AGE_MINUTES: Final = 60.0
# A drill a quarter: the backup keeps 12 monthly snapshots (backup.BACKUP_KEEP), so each drill
# proves a snapshot well inside what is kept; no Hong Kong rule we found sets an interval.
MAX_DRILL_AGE_DAYS: Final = 90.0


class RecordError(ValueError):
    """A status or drill object that cannot be read as one: exit 2, naming the object."""


def _load(store: S3, key: str, kind: str) -> dict[str, Any]:
    data = store.get(key)
    head = store.head(key)
    stored = head.meta.get("sha256") if head else None
    try:
        doc = json.loads(data)
    except ValueError:
        raise RecordError(f"{store.bucket}/{key}: is not JSON; allowed: a {kind} object") from None
    if not isinstance(doc, dict) or doc.get("kind") != kind:
        raise RecordError(f"{store.bucket}/{key}: is not valid; allowed: a {kind!r} object")
    doc["object"] = key
    doc["sha256"] = hashlib.sha256(data).hexdigest()
    doc["sha256Matches"] = stored == doc["sha256"]
    return doc


SPOOL_KIND: Final = "hk-mail journal spool status"
DRILL_KIND: Final = "hk-mail restore drill"


def spool_status(store: S3, today: dt.date, days: int) -> dict[str, Any] | None:
    """The newest spool status the server published in the last ``days`` UTC days, or None."""
    for i in range(days):
        day = today - dt.timedelta(days=i)
        prefix = f"{SPOOL_STATUS_PREFIX}{day:%Y/%m/%d}/"
        keys = [k for k in store.list(prefix) if k.endswith(".json")]
        if keys:
            return _load(store, max(keys), SPOOL_KIND)
    return None


def newest_drill(store: S3) -> dict[str, Any] | None:
    """The newest restore drill's record in the bucket, or None."""
    keys = [k for k in store.list(DRILL_PREFIX) if k.endswith(".json")]
    return _load(store, max(keys), DRILL_KIND) if keys else None


def _age(now: dt.datetime, iso: object) -> float | None:
    """Seconds from ``iso`` to ``now``; None when it is no time."""
    try:
        when = dt.datetime.fromisoformat(str(iso))
    except ValueError:
        return None
    if when.tzinfo is None:
        return None
    return (now - when).total_seconds()


def is_stale(spool: dict[str, Any], now: dt.datetime, max_status_min: float) -> bool:
    age = _age(now, spool.get("at"))
    return age is None or age > max_status_min * 60


def spool_alarms(
    spool: dict[str, Any] | None, now: dt.datetime, max_status_min: float, max_spool_min: float
) -> list[str]:
    if spool is None:
        return ["no journal spool status in the bucket (not observed: is hkmail-journal-upload "
                "publishing to status/journal-spool/?)"]  # fmt: skip
    out = []
    if not spool["sha256Matches"]:
        out.append(f"spool status {spool['object']}: sha256 differs from its metadata")
    if is_stale(spool, now, max_status_min):
        out.append(
            f"the journal spool status is stale: published {spool.get('at')} by "
            f"{spool.get('host')}, older than {max_status_min:g} min"
        )
    oldest = _age(now, spool.get("oldestSpooled")) if spool.get("oldestSpooled") else None
    if oldest is not None and oldest > max_spool_min * 60:
        out.append(
            f"{spool.get('spoolDepth')} message(s) waiting in {spool.get('host')}'s journal spool, "
            f"the oldest since {spool.get('oldestSpooled')} (more than {max_spool_min:g} min)"
        )
    return out


def drill_alarms(drill: dict[str, Any] | None, now: dt.datetime, max_days: float) -> list[str]:
    if drill is None:
        return ["no restore drill on record (drills/): run scripts/archive drill"]
    out = []
    if not drill["sha256Matches"]:
        out.append(f"restore drill {drill['object']}: sha256 differs from its metadata")
    age = _age(now, drill.get("at"))
    if age is None or age > max_days * 86400:
        out.append(
            f"no restore drill in the last {max_days:g} days (newest: {drill.get('at')}, "
            f"{drill.get('verdict')})"
        )
    if drill.get("verdict") != "PASS":
        out.append(
            f"the newest restore drill ({drill.get('at')}) did not pass: {drill.get('verdict')}"
        )
    return out
