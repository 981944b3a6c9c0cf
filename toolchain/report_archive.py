"""The evidence report's "Journal and backups" section: what protects a private server's mail.

Read from what the instance will run (its cloud-init user-data: the journal's and the backup's
settings files and the backup timer) and from the stack's buckets and retention resources, so a
reviewer sees the configuration as planned. Health (the newest journaled message, and with
``--backup-bucket`` the newest restic snapshot, the journal spool's status the server published,
the newest restore drill's record) is not in a plan: it is shown only from the JSON that
``scripts/archive health`` printed, given with ``--archive-health FILE``, as of its check.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import yaml

from hkmail.mailserver.journal import DRILL_PREFIX, SPOOL_STATUS_PREFIX
from toolchain.engine.model import PlannedResource

#: instance type -> the input holding its cloud-init user-data
USER_DATA: Final[Mapping[str, str]] = {
    "alicloud:ecs/instance:Instance": "userData",
    "tencentcloud:Instance/instance:Instance": "userDataRaw",
}
BUCKETS: Final = ("alicloud:oss/bucket:Bucket", "tencentcloud:Cos/bucket:Bucket")
#: the COS bucket policy resource (a JSON document in ``policy``)
COS_POLICY: Final = "tencentcloud:Cos/bucketPolicy:BucketPolicy"
# The rendered files' paths on the server (hkmail.mailserver.journal / backup).
JOURNAL_SETTINGS: Final = "/etc/hkmail/journal.json"
JOURNAL_MILTER_UNIT: Final = "/etc/systemd/system/hkmail-journal-milter.service"
BACKUP_SETTINGS: Final = "/etc/hkmail/backup.json"
BACKUP_TIMER: Final = "/etc/systemd/system/hkmail-backup.timer"
SECRETS_SETTINGS: Final = "/etc/hkmail/secrets.json"
#: the keys of what ``scripts/archive health`` prints (toolchain.archive.health)
HEALTH_KEYS: Final = ("bucket", "newestObject", "newestReceivedAt", "messagesPerDay")
NOT_OBSERVED: Final = "not observed by a plan"


class HealthFileError(ValueError):
    """--archive-health names a file that is not what ``scripts/archive health`` prints."""


@dataclass(frozen=True)
class Health:
    path: Path
    sha256: str
    doc: Mapping[str, Any]


def load_health(path: Path) -> Health:
    """The health JSON, checked before anything runs (a bad file is exit 2, nothing written)."""
    allowed = "the JSON that `scripts/archive health` prints (keys " + ", ".join(HEALTH_KEYS) + ")"
    try:
        data = path.read_bytes()
        doc = json.loads(data)
    except OSError as exc:
        raise HealthFileError(
            f"{path}: cannot be read ({exc.strerror}); allowed: {allowed}"
        ) from None
    except ValueError:
        raise HealthFileError(f"{path}: is not JSON; allowed: {allowed}") from None
    if not isinstance(doc, dict) or any(k not in doc for k in HEALTH_KEYS):
        raise HealthFileError(f"{path}: is not valid; allowed: {allowed}")
    per_day = doc["messagesPerDay"]
    if not isinstance(doc["bucket"], str) or not isinstance(per_day, dict):
        raise HealthFileError(f"{path}: bucket or messagesPerDay is not valid; allowed: {allowed}")
    backup = doc.get("backup")
    if backup is not None and (
        not isinstance(backup, dict)
        or not isinstance(backup.get("bucket"), str)
        or not isinstance(backup.get("snapshots"), int)
    ):
        raise HealthFileError(f"{path}: backup is not valid; allowed: {allowed}")
    times = [("newestReceivedAt", doc["newestReceivedAt"])]
    times += [("backup.newestSnapshotAt", backup.get("newestSnapshotAt"))] if backup else []
    for name in ("spool", "drill"):
        part = doc.get(name)
        if part is None:
            continue
        if isinstance(part, dict) and part.get("valid") is False:
            # only invalid objects in the bucket: the health check's ALARM lines say which
            if not isinstance(part.get("alarms"), list):
                raise HealthFileError(f"{path}: {name} is not valid; allowed: {allowed}")
            continue
        if not isinstance(part, dict) or not isinstance(part.get("at"), str):
            raise HealthFileError(f"{path}: {name} is not valid; allowed: {allowed}")
        times.append((f"{name}.at", part["at"]))
    for name, value in times:
        try:
            if value is not None:
                dt.datetime.fromisoformat(str(value))
        except ValueError:
            raise HealthFileError(f"{path}: {name} {value!r} is not a time") from None
    return Health(path, hashlib.sha256(data).hexdigest(), doc)


def _user_data_files(value: object) -> dict[str, str] | None:
    """Path -> content of the user-data's write_files; None when it cannot be read (unknown
    during preview, a secret, or not a cloud-config)."""
    if not isinstance(value, str) or not value.lstrip().startswith("#cloud-config"):
        return None
    try:
        doc = yaml.safe_load(value)
    except yaml.YAMLError:
        return None
    files = doc.get("write_files", []) if isinstance(doc, Mapping) else []
    return {
        str(f.get("path", "")): str(f.get("content", "")) for f in files if isinstance(f, Mapping)
    }


def _file(files: Mapping[str, str], suffix: str) -> str | None:
    return next((c for p, c in files.items() if p.endswith(suffix)), None)


def _json(text: str | None) -> Mapping[str, Any] | None:
    try:
        doc = json.loads(text) if text is not None else None
    except ValueError:
        return None
    return doc if isinstance(doc, Mapping) else None


def _field(statement: Mapping[str, Any], key: str) -> Any:
    """A policy element, whichever case it is written in (COS accepts both)."""
    return statement.get(key, statement.get(key.capitalize()))


def _listed(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else [str(v) for v in value or []]


# Both ways to delete an object (COS API authorization action names): denying one leaves the
# other open. hkmail.components.private_tencent.JOURNAL_DELETES is what the component denies;
# tests/test_report.py holds the two together.
COS_DELETES: Final = ("DeleteObject", "DeleteMultipleObjects")
_ANYONE: Final = ("*", "qcs::cam::anyone:anyone")


def _everyone(principal: Any) -> bool:
    if principal == "*":
        return True
    qcs = principal.get("qcs") if isinstance(principal, Mapping) else None
    return any(p in _ANYONE for p in _listed(qcs))


def _covers(resource: str, prefix: str) -> bool:
    """``qcs::cos:<region>:uid/<appid>:<bucket>/<pattern>``: a pattern ``X*`` covers every key
    under ``prefix`` when ``prefix`` starts with ``X`` (``*`` alone: the whole bucket)."""
    if resource == "*":
        return True
    pattern = resource.rpartition(":")[2].partition("/")[2]
    return pattern.endswith("*") and prefix.startswith(pattern[:-1])


def _denies(actions: list[str], name: str) -> bool:
    return any(a == "*" or a.endswith((":*", f":{name}")) for a in actions)


def _denies_delete(policy: object, prefix: str) -> bool:
    """A COS bucket policy with one statement that denies both DeleteObject and
    DeleteMultipleObjects on every key under ``prefix`` to everyone, with no condition (a
    condition, e.g. on the source address, leaves deletes open to whoever meets it otherwise)."""
    doc = _json(policy) if isinstance(policy, str) else None
    for s in _field(doc or {}, "statement") or []:
        if not isinstance(s, Mapping) or str(_field(s, "effect")).lower() != "deny":
            continue
        actions = _listed(_field(s, "action"))
        if (
            all(_denies(actions, name) for name in COS_DELETES)
            and any(_covers(r, prefix) for r in _listed(_field(s, "resource")))
            and _everyone(_field(s, "principal"))
            and not _field(s, "condition")
        ):
            return True
    return False


class ArchiveFacts:
    """What the section needs from the report's facts, without importing the report."""

    def __init__(
        self,
        resources: Sequence[PlannedResource],
        props: Callable[[PlannedResource], Mapping[str, Any]],
        region: Callable[[PlannedResource], str],
        retention: Callable[[PlannedResource], list[str]],
    ) -> None:
        self.resources, self.props, self.region, self.retention = (
            resources,
            props,
            region,
            retention,
        )

    def bucket(self, name: str) -> PlannedResource | None:
        return next(
            (
                r
                for r in self.resources
                if r.type in BUCKETS and str(self.props(r).get("bucket")) == name
            ),
            None,
        )


def _bucket_text(f: ArchiveFacts, name: str) -> str:
    b = f.bucket(name)
    if b is None:
        return f"{name}: not created by this stack (its region and protection are not shown)"
    props = f.props(b)
    oss = props.get("versioning")
    versioned = props.get("versioningEnable") is True or (
        isinstance(oss, Mapping) and oss.get("status") == "Enabled"
    )
    return f"{name} in {f.region(b)}, {'versioned' if versioned else 'not versioned'}"


def _retention_text(f: ArchiveFacts, name: str, prefix: str) -> str:
    b = f.bucket(name)
    if b is None:
        return "unknown: the bucket is not in this stack"
    worm = f.retention(b)
    if worm:
        return "; ".join(worm)
    if b.type.startswith("tencentcloud:"):
        denied = any(
            _denies_delete(f.props(r).get("policy"), prefix)
            for r in f.resources
            if r.type == COS_POLICY and str(f.props(r).get("bucket")) == name
        )
        return "no object lock (tencentcloud-iac-pulumi has no COS object-lock resource); " + (
            "a bucket policy denies DeleteObject and DeleteMultipleObjects on "
            f"{prefix}* to everyone"
            if denied
            else f"no bucket policy denies deletes on {prefix}* (DeleteObject and "
            "DeleteMultipleObjects, to everyone, without a condition)"
        )
    return "no retention policy (WORM): objects can be deleted by anyone with delete rights"


def _health_text(health: Health | None, bucket: str) -> str:
    if health is None:
        return f"{NOT_OBSERVED} (give --archive-health FILE from `scripts/archive health`)"
    doc = health.doc
    source = f"{health.path.name} sha256:{health.sha256[:16]}"
    if doc["bucket"] != bucket:
        return f"{NOT_OBSERVED}: {source} is for bucket {doc['bucket']!r}, not {bucket!r}"
    days = doc["messagesPerDay"]
    counts = ", ".join(f"{d} {n}" for d, n in sorted(days.items(), reverse=True))
    newest = doc["newestReceivedAt"] or f"none in {len(days)} days"
    return (
        f"newest journaled message received {newest} ({doc['newestObject'] or 'no object'}); "
        f"messages per day: {counts} — from {source}"
    )


def _password_text(files: Mapping[str, str], backup: Mapping[str, Any]) -> str:
    secrets = _json(_file(files, SECRETS_SETTINGS)) or {}
    name = (secrets.get("secrets") or {}).get("backup_password")
    where = backup.get("password_file")
    if not name:
        return f"not fetched from the secret store: nothing writes {where}"
    return (
        f"the repository password is the secret {name!r} in the cloud's Hong Kong secret store, "
        f"fetched at boot into {where} (root only); readable again from the store or the "
        "stack's secret config if the instance is lost"
    )


def _backup_health_text(health: Health | None, bucket: str) -> str:
    backup = health.doc.get("backup") if health is not None else None
    if health is None or backup is None:
        return f"{NOT_OBSERVED} (--archive-health from `scripts/archive health --backup-bucket`)"
    source = f"{health.path.name} sha256:{health.sha256[:16]}"
    if backup["bucket"] != bucket:
        return f"{NOT_OBSERVED}: {source} is for bucket {backup['bucket']!r}, not {bucket!r}"
    newest = backup.get("newestSnapshotAt") or "never"
    return (
        f"newest restic snapshot written {newest} ({backup['snapshots']} snapshots in the "
        f"bucket) — from {source}"
    )


def _minutes(start: object, end: object) -> str:
    try:
        delta = dt.datetime.fromisoformat(str(end)) - dt.datetime.fromisoformat(str(start))
    except (TypeError, ValueError):
        return "?"
    return f"{max(0, round(delta.total_seconds() / 60))} min"


@dataclass(frozen=True)
class _Part:
    """A part of the health check (spool, drill) for the stack's bucket: None when the bucket
    held none."""

    doc: Mapping[str, Any] | None
    source: str
    checked: str


def _observed(health: Health | None, bucket: str, name: str, what: str) -> _Part | str:
    """The check's part ``name`` for ``bucket``, or the text that says why it is not shown."""
    if health is None:
        return f"{NOT_OBSERVED} (give --archive-health FILE from `scripts/archive health`)"
    doc = health.doc
    source = f"{health.path.name} sha256:{health.sha256[:16]}"
    if name not in doc:
        return (
            f"not observed: {source} has no {name} (printed by an older `scripts/archive health`)"
        )
    if doc["bucket"] != bucket:
        return f"{NOT_OBSERVED}: {source} is for bucket {doc['bucket']!r}, not {bucket!r}"
    part = doc[name]
    if part is not None and part.get("valid") is False:
        return f"NOT TRUSTED: no valid {what} in {bucket}{_alarms(part)} — from {source}"
    return _Part(part, source, str(doc.get("checkedAt", "?")))


def _spool_text(health: Health | None, bucket: str) -> str:
    """The spool as the server last published it into the bucket, as of the health check."""
    got = _observed(health, bucket, "spool", "spool status")
    if isinstance(got, str):
        return got
    spool, source = got.doc, got.source
    if spool is None:
        return (
            f"not observed: the server published no spool status to {bucket}/{SPOOL_STATUS_PREFIX} "
            f"(checked {got.checked}) — from {source}"
        )
    n = spool.get("spoolDepth")
    oldest = (
        f"oldest {_minutes(spool['oldestSpooled'], spool['at'])}"
        if spool.get("oldestSpooled")
        else "none older"
    )
    line = f"spool: {n} messages waiting ({oldest}) as of {spool['at']} from {spool.get('host')}"
    if spool.get("failingSince"):
        line += f"; uploads failing since {spool['failingSince']}: {spool.get('lastError')}"
    if spool.get("stale"):
        line = (
            f"STALE, the spool now is not observed: the newest status is from {spool['at']}, "
            f"older than the check's limit at {got.checked} ({line})"
        )
    if spool.get("sha256Matches") is False:
        line += f"; NOT TRUSTED: {spool.get('object')} differs from its sha256 metadata"
    return f"{line}{_alarms(spool)} — from {source}"


def _drill_text(health: Health | None, bucket: str) -> str:
    """The newest restore drill's record (``scripts/archive drill``) in the archive bucket."""
    got = _observed(health, bucket, "drill", "drill record")
    if isinstance(got, str):
        return got
    drill, source = got.doc, got.source
    if drill is None:
        return f"last restore drill: none on record in {bucket}/{DRILL_PREFIX} — from {source}"
    snapshot = drill.get("snapshot") or {}
    scope = drill.get("scope", "scope not recorded")
    if isinstance(scope, list):
        scope = "a sample: folder(s) " + ", ".join(map(str, scope))
    # What a drill proves, no more: the snapshot restores byte for byte what the live mailbox
    # holds (within its scope); it does not compare with the journal.
    line = (
        f"last restore drill: {drill['at']}, {drill.get('verdict')}, "
        f"{drill.get('restoredMessages')} messages of mailbox {drill.get('mailbox')} ({scope}) "
        f"restored from snapshot {snapshot.get('id')} of {snapshot.get('time')} and compared "
        "with the live mailbox over IMAP (not with the journal): "
        f"{drill.get('problemCount', '?')} problem(s), "
        f"{drill.get('changedSinceSnapshot', '?')} changed since the snapshot, "
        f"{drill.get('newerThanSnapshot', '?')} newer than it; run by "
        f"{drill.get('operator')} ({drill.get('object')})"
    )
    if drill.get("sha256Matches") is False:
        line += "; NOT TRUSTED: the record differs from its sha256 metadata"
    return f"{line}{_alarms(drill)} — from {source}"


def _archive_bucket(journal: Mapping[str, Any] | None, backup: Mapping[str, Any]) -> str:
    if journal is not None and journal.get("bucket"):
        return str(journal["bucket"])
    return str(backup.get("bucket"))


def _alarms(part: Mapping[str, Any]) -> str:
    """The ALARM lines the health check raised on this part, as it judged them then."""
    alarms = [str(a) for a in part.get("alarms") or []]
    return "; ALARM at the check: " + "; ".join(alarms) if alarms else ""


def _schedule(timer: str | None) -> str:
    m = re.search(r"^OnCalendar=(.+)$", timer or "", re.M)
    if m is None:
        return "no backup timer in the user-data"
    persistent = re.search(r"^Persistent=true$", timer or "", re.M) is not None
    return f"systemd timer OnCalendar={m.group(1)}" + (
        " (Persistent: a run missed while off runs at boot)" if persistent else ""
    )


def rows(f: ArchiveFacts, health: Health | None) -> list[tuple[str, str, str]]:
    """(server, what, configuration) of every private mail server's journal and backup."""
    out: list[tuple[str, str, str]] = []
    for r in f.resources:
        if r.type not in USER_DATA:
            continue
        server = f"{r.type.split(':')[-1]} '{r.name}'"
        files = _user_data_files(f.props(r).get(USER_DATA[r.type]))
        if files is None:
            out.append((server, "Journal", "user-data not readable in this plan: not shown"))
            continue
        if not any(p.endswith("/etc/postfix/main.cf") for p in files):
            continue  # not a mail server
        journal = _json(_file(files, JOURNAL_SETTINGS))
        milter = _file(files, JOURNAL_MILTER_UNIT) is not None
        if journal is None or not milter:
            state = "spooled on the data disk only, no upload" if milter else "off"
            out.append((server, "Journal", f"{state}: no archive bucket receives the mail"))
        else:
            bucket, prefix = str(journal.get("bucket")), str(journal.get("prefix", "journal/"))
            out += [
                (
                    server,
                    "Journal",
                    "on: an exact copy of every accepted message is spooled on the data disk "
                    f"before Postfix accepts it, then uploaded to {bucket}/{prefix}",
                ),
                (server, "Journal bucket", _bucket_text(f, bucket)),
                (server, "Journal retention", _retention_text(f, bucket, prefix)),
                (server, "Journal health", _health_text(health, bucket)),
                (server, "Journal spool", _spool_text(health, bucket)),
            ]
        backup = _json(_file(files, BACKUP_SETTINGS))
        if backup is None:
            out.append((server, "Backup", "off: no nightly backup in the user-data"))
            continue
        keep = backup.get("keep", {})
        kept = ", ".join(f"{n} {k}" for k, n in sorted(keep.items())) if keep else "all"
        target = f"{backup.get('bucket')}/{backup.get('prefix', 'backup/')}"
        out += [
            (
                server,
                "Backup",
                f"restic, encrypted, of {', '.join(backup.get('paths', []))} to {target}; "
                f"{_schedule(_file(files, BACKUP_TIMER))}",
            ),
            (server, "Backup retention", f"restic forget --prune keeps {kept} snapshots"),
            (server, "Backup password", _password_text(files, backup)),
            (server, "Backup bucket", _bucket_text(f, str(backup.get("bucket")))),
            (server, "Backup health", _backup_health_text(health, str(backup.get("bucket")))),
            # Drills are recorded in the archive bucket: the journal's, else (no journal) the
            # bucket the backup writes to.
            (server, "Restore drill", _drill_text(health, _archive_bucket(journal, backup))),
        ]
    return out
