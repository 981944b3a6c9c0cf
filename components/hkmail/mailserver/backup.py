"""The mail store's nightly backup: restic into the Hong Kong archive bucket under ``backup/``
(or into a backup bucket of its own, ``MailServerConfig.backup_bucket``).

Rendered beside the journal whenever the server has an archive bucket: ``hkmail-backup`` (the
program, components/hkmail/mailserver/backup_run.py), its settings, and a systemd service and
timer. Why restic: it writes to S3-compatible stores natively (borg has no S3 backend), and keeps
encrypted, deduplicated snapshots with a retention policy (rclone crypt copies files but keeps
neither snapshots nor deduplication).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from importlib import resources
from typing import Final

from hkmail.mailserver.journal import JOURNAL_SPOOL, SYSTEMD_DIR, bucket_access
from hkmail.mailserver.model import MailServerConfig

BACKUP_RUN: Final = "/usr/local/sbin/hkmail-backup"
BACKUP_CONF: Final = "/etc/hkmail/backup.json"
# Written at boot by hkmail-fetch-secrets from the stack's Pulumi secret (root, 0600).
BACKUP_PASSWORD: Final = "/etc/hkmail/backup-password"
BACKUP_CACHE: Final = "/var/cache/hkmail-restic"
BACKUP_PREFIX: Final = "backup/"
BACKUP_PATHS: Final = ("/var/vmail",)
# The journal's spool is already in the bucket (journal/); backing it up again would double it.
BACKUP_EXCLUDE: Final = (JOURNAL_SPOOL,)
# restic forget --keep-<name> <n>: the backup's own retention, independent of the journal's.
BACKUP_KEEP: Final[Mapping[str, int]] = {"daily": 14, "weekly": 8, "monthly": 12}
BACKUP_ON_CALENDAR: Final = "*-*-* 02:30:00 Asia/Hong_Kong"


def settings(c: MailServerConfig, p: Callable[[str], str]) -> dict[str, object]:
    return {
        **bucket_access(c, c.backup_bucket or c.archive_bucket),
        "prefix": BACKUP_PREFIX,
        "paths": [p(x) for x in BACKUP_PATHS],
        "exclude": [p(x) for x in BACKUP_EXCLUDE],
        "keep": dict(BACKUP_KEEP),
        "password_file": p(BACKUP_PASSWORD),
        "cache_dir": p(BACKUP_CACHE),
        "fetch_script": p("/usr/local/sbin/hkmail-fetch-secrets"),
    }


def files(c: MailServerConfig, p: Callable[[str], str]) -> list[tuple[str, str, int]]:
    """(path, content, mode) of the backup's files; none without an archive bucket."""
    if not c.archive_bucket:
        return []
    # Root: only root reaches the metadata service (the role's keys) and reads every Maildir.
    service = f"""\
# Rendered by hk-mail: restic backup of the mail store into the archive bucket (backup/).
[Unit]
Description=hk-mail: nightly restic backup of the mail store
Wants=network-online.target
After=network-online.target
RequiresMountsFor=/var/vmail

[Service]
Type=oneshot
Nice=10
IOSchedulingClass=idle
ExecStart=/usr/bin/python3 {p(BACKUP_RUN)} {p(BACKUP_CONF)}
"""
    timer = f"""\
# Rendered by hk-mail: when the backup runs (Persistent: a run missed while off runs at boot).
[Unit]
Description=hk-mail: nightly restic backup of the mail store

[Timer]
OnCalendar={BACKUP_ON_CALENDAR}
RandomizedDelaySec=30min
Persistent=true

[Install]
WantedBy=timers.target
"""
    package = resources.files("hkmail.mailserver")
    return [
        (p(BACKUP_RUN), package.joinpath("backup_run.py").read_text(), 0o755),
        (p(BACKUP_CONF), json.dumps(settings(c, p), indent=2, sort_keys=True) + "\n", 0o644),
        (p(SYSTEMD_DIR + "/hkmail-backup.service"), service, 0o644),
        (p(SYSTEMD_DIR + "/hkmail-backup.timer"), timer, 0o644),
    ]
