"""hkmail-logship on the server: which logs ship, and the files that make it run.

``SOURCES`` is the one table of what ships: each row is a systemd unit of hk-mail whose output
(stdout and stderr) a drop-in sends to a file of its own under ``ALARM_LOG_DIR`` instead of the
journal, and the pattern that marks a line as an alarm. To ship another unit's lines (e.g. the
notifier's failures), add a row. Why files and not ``journalctl -f``: reading the system journal
needs the ``systemd-journal`` group, which reads every unit's logs (Postfix's and Dovecot's name
senders and recipients); a directory of only these files (root:hkmail-logship 0750, each file
0640) gives the shipper exactly what it ships, and its cursor is an inode and an offset.

The shipper runs as ``hkmail-logship`` (no login, no home) with a fixed uid (``LOGSHIP_UID``):
the nftables rule that keeps the metadata service root's alone lets this uid through too, because
the shipper signs with the instance role's temporary key. That key also reads the server's
secrets, so a compromise of the shipper is a compromise of the role (as for the root journal
uploader); its input is only these files and its output one HTTPS endpoint in Hong Kong.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import Final

from hkmail.facts import Cloud
from hkmail.mailserver.model import MailServerConfig

LOGSHIP_USER: Final = "hkmail-logship"
LOGSHIP_UID: Final = 5001  # fixed: the nftables rule names it (VMAIL_UID is 5000)
LOGSHIP: Final = "/usr/local/sbin/hkmail-logship"
LOGSHIP_CONF: Final = "/etc/hkmail/logship.json"
ALARM_LOG_DIR: Final = "/var/log/hkmail-alarm"
# The cursor on the encrypted data disk (a name no domain directory can have).
LOGSHIP_STATE: Final = "/var/vmail/.hkmail-logship"
SYSTEMD_DIR: Final = "/etc/systemd/system"
DROP_IN: Final = "hkmail-logship.conf"
LOGROTATE: Final = "/etc/logrotate.d/hkmail-alarm"
# Rotated copies kept on the server (the store keeps the stack's log retention); Debian's
# logrotate.timer runs daily, so maxsize is judged once a day too.
ROTATE_KEEP: Final = 14
ROTATE_MAXSIZE: Final = "50M"


@dataclass(frozen=True)
class Source:
    unit: str  # the systemd service whose output ships
    alarm: str  # a regular expression: a matching line has severity "alarm"

    @property
    def log(self) -> str:
        return f"{ALARM_LOG_DIR}/{self.unit.removeprefix('hkmail-')}.log"


SOURCES: Final[tuple[Source, ...]] = (
    Source("hkmail-authpolicy", r"hkmail-authpolicy: BLOCK "),
    Source("hkmail-ratelimit", r"hkmail-ratelimit: LIMIT "),
    Source("hkmail-journal-upload", r"\bALARM\b"),
    Source("hkmail-backup", r"\bALARM\b"),
    # The notifier's failures (notify.py's ALARM lines; the unit exists only with notify rules).
    Source("hkmail-notify", r"hkmail-notify: ALARM "),
)

# cloud -> the log service's Hong Kong API host (SLS: the project is a sub-domain of it).
# Alibaba Cloud, *Endpoints* (Simple Log Service): cn-hongkong.log.aliyuncs.com; Tencent Cloud
# API 3.0: cls.ap-hongkong.tencentcloudapi.com (the regional domain of the cls service).
LOG_API_HOST: Final[dict[Cloud, str]] = {
    "alicloud": "cn-hongkong.log.aliyuncs.com",
    "tencentcloud": "cls.ap-hongkong.tencentcloudapi.com",
}
# The fields of every entry hkmail-logship sends (logship.py builds them; a test checks).
LOG_FIELDS: Final = ("source", "host", "severity", "message")
# The query that finds an alarm line, in both stores' syntax (SLS and CLS Lucene-like search).
ALARM_QUERY: Final = "severity: alarm"


def enabled(c: MailServerConfig) -> bool:
    return c.server_log is not None


def settings(c: MailServerConfig, p: Callable[[str], str]) -> dict[str, object]:
    """What hkmail-logship reads (no secret: the role's key comes from the metadata service)."""
    assert c.server_log is not None
    cloud = c.secrets.cloud
    store: dict[str, object] = {"hostname": c.hostname, "host": LOG_API_HOST[cloud]}
    if cloud == "alicloud":
        project, logstore = c.server_log.split("/", 1)
        store |= {"kind": "sls", "project": project, "logstore": logstore}
    else:
        logset, topic = c.server_log.split("/", 1)
        store |= {"kind": "cls", "region": c.secrets.region, "logset": logset, "topic": topic}
    return {
        "cloud": cloud,
        "role_name": c.secrets.role_name,
        "fetch_script": p("/usr/local/sbin/hkmail-fetch-secrets"),
        "cursor": p(LOGSHIP_STATE + "/cursor.json"),
        "interval": 5,
        "store": store,
        "sources": [
            {"name": s.unit.removeprefix("hkmail-"), "path": p(s.log), "alarm": s.alarm}
            for s in SOURCES
        ],
    }


def files(c: MailServerConfig, p: Callable[[str], str]) -> list[tuple[str, str, int]]:
    """(path, content, mode) of the shipper and of each source's drop-in; none without a store."""
    if not enabled(c):
        return []
    unit = f"""\
# Rendered by hk-mail: ships hk-mail's alarm-bearing logs to the Hong Kong log store.
[Unit]
Description=hk-mail: ship alarm-bearing logs to the Hong Kong log store
Wants=network-online.target
After=network-online.target
RequiresMountsFor=/var/vmail

[Service]
User={LOGSHIP_USER}
Group={LOGSHIP_USER}
# vmail's group may enter the data disk's root (0750), where the cursor lives.
SupplementaryGroups=vmail
UMask=0077
ExecStart=/usr/bin/python3 {p(LOGSHIP)} {p(LOGSHIP_CONF)}
Restart=always
RestartSec=10
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes
ReadWritePaths={p(LOGSHIP_STATE)}
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX

[Install]
WantedBy=multi-user.target
"""
    out = [
        (
            p(LOGSHIP),
            resources.files("hkmail.mailserver").joinpath("logship.py").read_text(),
            0o755,
        ),
        (p(LOGSHIP_CONF), json.dumps(settings(c, p), indent=2, sort_keys=True) + "\n", 0o644),
        (p(SYSTEMD_DIR + "/hkmail-logship.service"), unit, 0o644),
        (p(LOGROTATE), logrotate(p), 0o644),
    ]
    for s in SOURCES:
        drop_in = f"""\
# Rendered by hk-mail: this unit's output goes to a file hkmail-logship ships (not the journal).
[Service]
StandardOutput=append:{p(s.log)}
StandardError=append:{p(s.log)}
"""
        out.append((p(f"{SYSTEMD_DIR}/{s.unit}.service.d/{DROP_IN}"), drop_in, 0o644))
    return out


def logrotate(p: Callable[[str], str]) -> str:
    """Debian's logrotate for the source files. copytruncate because systemd holds each file open
    (StandardOutput=append:) and a renamed file would keep receiving the unit's output until a
    restart; hkmail-logship finishes the copy (<file>.1, left uncompressed by delaycompress) from
    its cursor before it reads the truncated file again. logrotate's own caveat stands: a line
    written between the copy and the truncation is in neither."""
    return f"""\
# Rendered by hk-mail: rotates the files hkmail-logship ships (logrotate.timer, daily).
{p(ALARM_LOG_DIR)}/*.log {{
    daily
    maxsize {ROTATE_MAXSIZE}
    rotate {ROTATE_KEEP}
    copytruncate
    # hkmail-logship finds the copy as <file>.1, whatever /etc/logrotate.conf says.
    nodateext
    compress
    delaycompress
    missingok
    notifempty
}}
"""


def runcmd(c: MailServerConfig, p: Callable[[str], str]) -> list[str | list[str]]:
    """The shipper's user, its cursor directory and the source files (before the units start):
    each file root:hkmail-logship 0640 even where the unit's umask would make it 0600."""
    if not enabled(c):
        return []
    user, uid = LOGSHIP_USER, LOGSHIP_UID
    logs = " ".join(p(s.log) for s in SOURCES)
    # The uid is fixed (the nftables rule names it): if an image already gives it to someone
    # else, say so in the boot log and the journal; mail still starts, the logs do not ship.
    taken = (
        f"hk-mail: ERROR: {user} needs uid {uid} (nftables lets only root and that uid reach "
        f"the metadata service); uid {uid} is $(getent passwd {uid} | cut -d: -f1), {user} is "
        f"uid $(id -u {user} 2>/dev/null || echo none): the server's logs will not ship"
    )
    return [
        (
            f'[ "$(id -u {user} 2>/dev/null)" = {uid} ] || useradd --system --uid {uid} '
            f"--user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "
            f'{user} || {{ echo "{taken}" >&2; logger -p user.err -t hk-mail "{taken}"; }}'
        ),
        ["install", "-d", "-o", "root", "-g", user, "-m", "0750", p(ALARM_LOG_DIR)],
        ["install", "-d", "-o", user, "-g", user, "-m", "0700", p(LOGSHIP_STATE)],
        f"for f in {logs}; do touch $f && chown root:{user} $f && chmod 0640 $f; done",
    ]
