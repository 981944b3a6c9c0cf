"""The private mail server (hkmail:privateServer) on Hong Kong nodes, and the secrets it needs."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Final

from hkmail.facts import (
    CLOUDS,
    DEPLOY_ZONES,
    Cloud,
)
from hkmail.mailserver.notify_config import NotifyConfig
from hkmail.spec.notify import read_notify
from hkmail.spec.reader import _Reader
from hkmail.sshkeys import ALLOWED as SSH_KEY_ALLOWED
from hkmail.sshkeys import ssh_key_problem


@dataclass(frozen=True)
class PrivateServerSpec:
    """A self-hosted mail server on Hong Kong nodes (hkmail:privateServer). Its secrets are the
    stack's secret config hkmail:dkimPrivateKey, hkmail:mailboxPasswordHashes (a JSON object of
    `doveadm pw` hashes per user), hkmail:relayPassword and hkmail:backupPassword (the nightly
    backup's repository password); the spec only checks they are set."""

    cloud: Cloud
    domain: str
    hostname: str
    zone: str
    account_id: str
    image_id: str
    admin_cidr: str
    users: tuple[str, ...]
    dkim_selector: str
    archive_bucket: str
    relay_username: str
    app_id: str = ""
    retention_days: int | None = None
    retention_locked: bool = False
    # The administrators' OpenSSH public key (the instance's key pair); none: no SSH login at all.
    ssh_public_key: str | None = None
    # Mail-to-chat rules (spec/notify.py); their webhooks are the secret hkmail:notifyWebhooks.
    notify: NotifyConfig | None = None
    # sendingLimits: per login and hour, recipients outside the domain and messages submitted;
    # None keeps the server's defaults (hkmail.mailserver.MailServerConfig).
    recipients_per_hour: int | None = None
    messages_per_hour: int | None = None


PRIVATE_SECRETS: Final = (
    "dkimPrivateKey",
    "mailboxPasswordHashes",
    "relayPassword",
    "backupPassword",
)


_PRIVATE_KEYS = (
    "cloud",
    "domain",
    "hostname",
    "zone",
    "accountId",
    "appId",
    "imageId",
    "adminCidr",
    "users",
    "dkimSelector",
    "archiveBucket",
    "relayUsername",
    "retentionDays",
    "retentionLocked",
    "sshPublicKey",
    "sendingLimits",
    "notify",
)
_SENDING_LIMIT_KEYS = ("recipientsPerHour", "messagesPerHour")


#: Fields of one cloud only: on the other they are refused, not silently ignored (one schema
#: serves both server components). The reason says what to do instead.
CLOUD_ONLY_KEYS: Final = {
    "appId": ("tencentcloud", "the APPID is the suffix of Tencent COS bucket names"),
    "retentionDays": (
        "alicloud",
        "tencentcloud-iac-pulumi 0.2.3 has no COS object-lock (WORM) resource; set the "
        "retention lock on the bucket in the COS console, or deploy on alicloud",
    ),
    "retentionLocked": ("alicloud", "the OSS retention (WORM) lock is Alibaba's"),
}


def _read_private_server(
    r: _Reader, raw: object, path: str = "hkmail:privateServer"
) -> PrivateServerSpec | None:
    m = r.mapping(path, raw, _PRIVATE_KEYS)
    if m is None:
        return None
    before = len(r.errors)
    cloud = r.choice(f"{path}.cloud", m.get("cloud"), CLOUDS)
    for key, (owner, why) in CLOUD_ONLY_KEYS.items():
        value = m.get(key)
        if cloud and cloud != owner and value not in (None, "", False):
            r.fail(f"{path}.{key}", value, f"unset on {cloud} ({owner} only)", why)
    domain = r.hostname(f"{path}.domain", m.get("domain"), min_labels=2)
    hostname = r.hostname(f"{path}.hostname", m.get("hostname"), min_labels=3)
    if domain and hostname and not hostname.endswith("." + domain):
        r.fail(f"{path}.hostname", hostname, f"a host name inside {domain}")
    zones = DEPLOY_ZONES[cloud or "alicloud"]  # Tencent ap-hongkong-1 is sold out
    zone = r.choice(f"{path}.zone", m.get("zone"), zones)
    try:
        admin = ipaddress.ip_network(str(m.get("adminCidr")), strict=True)
        if admin.prefixlen < 16 or admin.version != 4:
            raise ValueError("wider than /16")
    except ValueError as exc:
        r.fail(f"{path}.adminCidr", m.get("adminCidr"), "an IPv4 CIDR of /16 or narrower", str(exc))
    users = r.each(f"{path}.users", m.get("users"), r.local_part)
    if not m.get("users"):  # a bad entry is reported where it is
        r.fail(f"{path}.users", m.get("users"), "a non-empty list of mailbox local parts")
    for i, user in enumerate(users):
        if users.index(user) != i:
            r.fail(f"{path}.users[{i}]", user, "each mailbox user once", "duplicate user")
    selector = r.hostname(f"{path}.dkimSelector", m.get("dkimSelector"))
    texts = {}
    for key in ("accountId", "imageId", "archiveBucket", "relayUsername"):
        value = m.get(key)
        if not isinstance(value, str | int) or isinstance(value, bool) or not str(value):
            r.fail(f"{path}.{key}", value, "a non-empty string")
        texts[key] = str(value)
    retention = (
        r.integer(f"{path}.retentionDays", m.get("retentionDays"), 1, 25550)
        if m.get("retentionDays") is not None
        else None
    )
    limits: dict[str, int | None] = dict.fromkeys(_SENDING_LIMIT_KEYS)
    if m.get("sendingLimits") is not None:
        lm = r.mapping(f"{path}.sendingLimits", m.get("sendingLimits"), _SENDING_LIMIT_KEYS)
        for key in _SENDING_LIMIT_KEYS:
            if lm is not None and lm.get(key) is not None:
                limits[key] = r.integer(f"{path}.sendingLimits.{key}", lm.get(key), 1, 100_000)
    ssh_key = m.get("sshPublicKey")
    problem = ssh_key_problem(ssh_key) if ssh_key is not None else None
    if problem is not None:
        shown = ssh_key[:40] + "..." if isinstance(ssh_key, str) and len(ssh_key) > 40 else ssh_key
        r.fail(f"{path}.sshPublicKey", shown, SSH_KEY_ALLOWED, problem)
    notify = (
        read_notify(r, m.get("notify"), f"{path}.notify", users)
        if m.get("notify") is not None
        else None
    )
    if len(r.errors) > before or not (cloud and domain and hostname and zone and selector):
        return None
    return PrivateServerSpec(
        cloud=cloud,
        domain=domain,
        hostname=hostname,
        zone=zone,
        account_id=texts["accountId"],
        image_id=texts["imageId"],
        admin_cidr=str(m.get("adminCidr")),
        users=users,
        dkim_selector=selector,
        archive_bucket=texts["archiveBucket"],
        relay_username=texts["relayUsername"],
        app_id=str(m.get("appId", "")),
        retention_days=retention,
        retention_locked=r.boolean(f"{path}.retentionLocked", m.get("retentionLocked"), False),
        ssh_public_key=ssh_key.strip() if isinstance(ssh_key, str) else None,
        recipients_per_hour=limits["recipientsPerHour"],
        messages_per_hour=limits["messagesPerHour"],
        notify=notify,
    )
