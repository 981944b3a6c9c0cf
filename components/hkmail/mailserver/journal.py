"""The mail journal: every accepted message, byte for byte, into the Hong Kong archive bucket.

Two parts, each a small program rendered into the user-data:

- ``hkmail-journal-milter`` (Postfix's last milter on port 25 and submission) spools an exact copy
  and the envelope on the encrypted data disk before Postfix answers 250;
- ``hkmail-journal-upload`` (a service) moves the spool into the archive bucket under
  ``journal/`` with a manifest entry per message, deleting a spooled copy only once the store
  confirms its checksum; it retries with backoff and writes an ALARM line to its log on the
  instance when the bucket cannot be reached (hkmail-logship ships its output to the log
  store), while mail keeps flowing.

The S3 endpoint and Signature V4 region of each cloud's Hong Kong archive live in
``ARCHIVE_S3``. Alibaba: *Use Amazon S3 SDKs to access OSS* (endpoint ``oss-<region>``,
virtual-hosted style only); Tencent: *Accessing COS with AWS S3 SDK* (2025-01-24). Whether OSS
accepts Signature V4 with an STS token on every account is unverified: an Alibaba error page
(0002-00000033, 2023) says V4 S3-compatible auth had to be enabled by support.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from importlib import resources
from typing import Final

from hkmail.facts import Cloud
from hkmail.mailserver.model import MailServerConfig

JOURNAL_USER: Final = "hkmail-journal"
JOURNAL_MILTER: Final = "/usr/local/sbin/hkmail-journal-milter"
JOURNAL_UPLOAD: Final = "/usr/local/sbin/hkmail-journal-upload"
S3_MODULE: Final = "/usr/local/lib/hkmail/s3.py"
JOURNAL_CONF: Final = "/etc/hkmail/journal.json"
# On the encrypted data disk (VMAIL_DIR), under a name no domain directory can have.
JOURNAL_SPOOL: Final = "/var/vmail/.hkmail-journal"
JOURNAL_STATUS: Final = "/var/lib/hkmail/journal-status.json"
JOURNAL_LOG: Final = "/var/log/hkmail/journal.log"
JOURNAL_PREFIX: Final = "journal/"
# The uploader's spool status, one new object per publication under this prefix of the archive
# bucket: a fixed key could not be overwritten under OSS's bucket-wide WORM, and each object is
# kept by the retention like the journal (the reviewer's record of the spool over time).
SPOOL_STATUS_PREFIX: Final = "status/journal-spool/"
# Restore drills' records (scripts/archive drill, with the operator's key; the role cannot write).
DRILL_PREFIX: Final = "drills/"
# The "kind" each writer puts in its JSON document, and the UTC time format that starts each
# object's last key part (so the newest is the greatest key).
SPOOL_STATUS_KIND: Final = "hk-mail journal spool status"
DRILL_KIND: Final = "hk-mail restore drill"
RECORD_KEY_TIME: Final = "%Y%m%dT%H%M%S.%fZ"
# Seconds between publications (also published when the bucket becomes writable again).
SPOOL_STATUS_EVERY: Final = 600
JOURNAL_SOCKET_DIR: Final = "/var/spool/postfix/hkmail-journal"
JOURNAL_SOCKET: Final = JOURNAL_SOCKET_DIR + "/journal.sock"
SYSTEMD_DIR: Final = "/etc/systemd/system"

# cloud -> (S3 endpoint, Signature V4 region) of the Hong Kong archive bucket.
ARCHIVE_S3: Final[dict[Cloud, tuple[str, str]]] = {
    "alicloud": ("https://oss-cn-hongkong.aliyuncs.com", "oss-cn-hongkong"),
    "tencentcloud": ("https://cos.ap-hongkong.myqcloud.com", "ap-hongkong"),
}


def bucket_access(c: MailServerConfig, bucket: str | None) -> dict[str, object]:
    """How a daemon on the server reaches a Hong Kong bucket: the cloud's S3 endpoint and
    Signature V4 region, as the instance role (no secret: its key comes from the metadata)."""
    endpoint, sign_region = ARCHIVE_S3[c.secrets.cloud]
    return {
        "cloud": c.secrets.cloud,
        "role_name": c.secrets.role_name,
        "bucket": bucket,
        "endpoint": endpoint,
        "sign_region": sign_region,
    }


def settings(c: MailServerConfig, p: Callable[[str], str]) -> dict[str, object]:
    """What hkmail-journal-upload reads (no secret: the role's key comes from the metadata)."""
    return {
        **bucket_access(c, c.archive_bucket),
        "prefix": JOURNAL_PREFIX,
        "spool": p(JOURNAL_SPOOL),
        "status": p(JOURNAL_STATUS),
        "log": p(JOURNAL_LOG),
        "s3_module": p(S3_MODULE),
        "fetch_script": p("/usr/local/sbin/hkmail-fetch-secrets"),
        "interval": 2,
        "host": c.hostname,
        "status_prefix": SPOOL_STATUS_PREFIX,
        "status_every": SPOOL_STATUS_EVERY,
        "status_kind": SPOOL_STATUS_KIND,
        "status_key_time": RECORD_KEY_TIME,
    }


def files(c: MailServerConfig, p: Callable[[str], str]) -> list[tuple[str, str, int]]:
    """(path, content, mode) of every journal file; ``p`` maps a server path into the layout."""
    package = resources.files("hkmail.mailserver")
    milter_unit = f"""\
# Rendered by hk-mail: spools an exact copy of every accepted message before Postfix accepts it.
[Unit]
Description=hk-mail: journal milter (a copy of every message, spooled on the data disk)
Before=postfix.service
RequiresMountsFor=/var/vmail

[Service]
User={JOURNAL_USER}
Group={JOURNAL_USER}
# vmail's group may enter the data disk's root (0750), where the spool lives.
SupplementaryGroups=vmail
UMask=0007
ExecStart=/usr/bin/python3 {p(JOURNAL_MILTER)} unix:{p(JOURNAL_SOCKET)} {p(JOURNAL_SPOOL)}
Restart=always
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
ReadWritePaths={p(JOURNAL_SOCKET_DIR)} {p(JOURNAL_SPOOL)}

[Install]
WantedBy=multi-user.target
"""
    out = [
        (p(JOURNAL_MILTER), package.joinpath("journal_milter.py").read_text(), 0o755),
        (p(SYSTEMD_DIR + "/hkmail-journal-milter.service"), milter_unit, 0o644),
    ]
    if c.archive_bucket:
        # Root: only root reaches the metadata service (the role's keys; nftables).
        upload_unit = f"""\
# Rendered by hk-mail: moves the journal spool into the Hong Kong archive bucket.
[Unit]
Description=hk-mail: journal upload to the archive bucket
Wants=network-online.target
After=network-online.target
RequiresMountsFor=/var/vmail

[Service]
ExecStart=/usr/bin/python3 {p(JOURNAL_UPLOAD)} {p(JOURNAL_CONF)}
Restart=always
RestartSec=10

[Install]
WantedBy=multi-user.target
"""
        conf = json.dumps(settings(c, p), indent=2, sort_keys=True) + "\n"
        out += [
            (p(JOURNAL_UPLOAD), package.joinpath("journal_upload.py").read_text(), 0o755),
            (p(S3_MODULE), package.joinpath("s3.py").read_text(), 0o644),
            (p(JOURNAL_CONF), conf, 0o644),
            (p(SYSTEMD_DIR + "/hkmail-journal-upload.service"), upload_unit, 0o644),
        ]
    return out
