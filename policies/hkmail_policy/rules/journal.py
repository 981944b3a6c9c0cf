"""A private mail server journals every message to an archive bucket of the same stack, kept at
least as long as the retention period the policy config declares.

The rule reads what the instance will run: its cloud-init user-data (``#cloud-config``) writes
``/etc/hkmail/journal.json`` (the uploader's settings: the bucket) and the journal milter's unit.
A mail server without them journals nothing. The bucket must be one this stack creates (so the
residency and encryption rules judge it), and on Alibaba Cloud its OSS retention policy (WORM)
must last at least ``minimumRetentionDays``. COS has no object-lock resource in
tencentcloud-iac-pulumi, so a COS journal cannot meet a declared retention period here.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import yaml

from ..model import Context, Finding, Resource, Rule, violation
from ..values import SECRET_SIG, SIG_KEY

INSTANCES: Mapping[str, str] = {
    "alicloud:ecs/instance:Instance": "userData",
    "tencentcloud:Instance/instance:Instance": "userDataRaw",
}
BUCKETS = ("alicloud:oss/bucket:Bucket", "tencentcloud:Cos/bucket:Bucket")
OSS_WORM = "alicloud:oss/bucketWorm:BucketWorm"
JOURNAL_SETTINGS = "/etc/hkmail/journal.json"
JOURNAL_MILTER_UNIT = "/etc/systemd/system/hkmail-journal-milter.service"


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping) and value.get(SIG_KEY) == SECRET_SIG:
        return _plain(value.get("value"))
    return value


def _files(user_data: str) -> dict[str, str]:
    if not user_data.startswith("#cloud-config"):
        return {}
    try:
        doc = yaml.safe_load(user_data)
    except yaml.YAMLError:
        return {}
    files = doc.get("write_files", []) if isinstance(doc, Mapping) else []
    return {
        str(f.get("path", "")): str(f.get("content", "")) for f in files if isinstance(f, Mapping)
    }


def _is_mail_server(files: Mapping[str, str]) -> bool:
    return any(path.endswith("/etc/postfix/main.cf") for path in files)


def check_journal(resource: Resource, ctx: Context) -> Iterable[Finding]:
    user_data = _plain(resource.props.get(INSTANCES.get(resource.type, ""), None))
    if not isinstance(user_data, str):
        return
    files = _files(user_data)
    if not _is_mail_server(files):
        return
    settings = next((c for p, c in files.items() if p.endswith(JOURNAL_SETTINGS)), None)
    milter = any(p.endswith(JOURNAL_MILTER_UNIT) for p in files)
    if settings is None or not milter:
        yield violation(
            resource,
            None,
            "the mail server journals no message to an archive bucket",
            f"user-data with the journal milter and {JOURNAL_SETTINGS} (hk-mail's private "
            "server components render both)",
        )
        return
    try:
        bucket = str(json.loads(settings)["bucket"])
    except (ValueError, KeyError, TypeError):
        yield violation(resource, None, f"{JOURNAL_SETTINGS} names no bucket", "a bucket name")
        return
    names = {str(_plain(r.props.get("bucket"))): r for r in ctx.stack if r.type in BUCKETS}
    if bucket not in names:
        yield violation(
            resource,
            None,
            f"journals to bucket {bucket!r}, which this stack does not create (its region, "
            "encryption and retention cannot be checked)",
            f"one of this stack's buckets: {sorted(names) or 'none'}",
        )
        return
    minimum = int(ctx.config.get("minimumRetentionDays", 0))
    if minimum <= 0:
        return
    days = [
        _plain(r.props.get("retentionPeriodInDays"))
        for r in ctx.stack
        if r.type == OSS_WORM and str(_plain(r.props.get("bucket"))) == bucket
    ]
    kept = max((int(d) for d in days if isinstance(d, int | float)), default=0)
    if kept < minimum:
        where = (
            f"an OSS retention policy of {kept} days"
            if days
            else "no retention policy (WORM) on it"
            if names[bucket].type.startswith("alicloud:")
            else "no object lock (tencentcloud-iac-pulumi has no COS object-lock resource)"
        )
        yield Finding(
            f"{resource.describe()}: journal bucket {bucket!r} has {where}, shorter than the "
            f"declared retention of {minimum} days. Allowed: an OSS retention policy "
            f"(alicloud:oss/bucketWorm) of at least {minimum} days on {bucket!r}."
        )


RULES = (
    Rule(
        id="journal-archive-retention",
        title="Private mail server journals to a retained archive bucket",
        description="A private mail server's user-data runs the journal (every accepted message "
        "copied to the archive bucket before it is accepted), the journal's bucket is one this "
        "stack creates (so the residency and encryption rules judge it), and, when the policy "
        "config declares minimumRetentionDays, the bucket's OSS retention policy (WORM) lasts "
        "at least that long. COS offers no object lock through tencentcloud-iac-pulumi, so a "
        "COS journal fails a declared retention period.",
        severity="high",
        enforcement="mandatory",
        remediation="Deploy the server with hk-mail's private server components (archiveBucket "
        "set); set retentionDays on the stack's privateServer to at least minimumRetentionDays "
        "(Alibaba Cloud), and retentionLocked: true once reviewed.",
        # Records kept for the period the rules prescribe (SFC Keeping of Records Rules) and
        # protected from loss (ISO 27001 A.5.33; PDPO DPP4(1)).
        controls=("SFC-KRR", "ISO27001-A.5.33", "PDPO-DPP4"),
        check=check_journal,
        scope="stack",
        config_schema={
            "minimumRetentionDays": {
                "type": "integer",
                "minimum": 0,
                "default": 0,
                "description": "Days the journal's bucket must retain every object (WORM); "
                "0: not checked. E.g. 2557 for seven calendar years (SFC Keeping of Records "
                "Rules, Cap. 571O).",
            }
        },
        types=tuple(INSTANCES),
    ),
)
