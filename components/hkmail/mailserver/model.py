"""The typed input of the private mail server: what to render, validated before anything renders.

Nothing secret is part of this model. Secrets (the DKIM private key, the mailbox password hashes,
the relay's SMTP password, the backup's repository password) are referred to by their name in the
cloud's secret store and fetched by the instance at boot with its own role (see
``fetch_secrets.py``).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Final

from hkmail.errors import SpecError, SpecErrors
from hkmail.facts import HK_REGION, HONG_KONG_RELAYS, TENCENT_SES_HK_SMTP, Cloud
from hkmail.mailserver.notify_config import NotifyConfig
from hkmail.mailserver.notify_config import check as check_notify

# The secret stores live in the one Hong Kong region of each cloud.
SECRET_REGION: Final = HK_REGION

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_LOCAL_PART = re.compile(r"^[a-z0-9][a-z0-9._+-]{0,63}$")
# Secret names of both stores: letters, digits, '-', '_' (SSM also allows '.'; KMS '/').
_SECRET_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,127}$")
_ARCHIVE_BUCKET = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
# SLS project names: 3-63 of a-z, 0-9, '-'; logstore names 2-63 of a-z, 0-9, '_', '-' (Alibaba
# Cloud, *Manage a project* / *Manage a Logstore*); CLS "<logset name>/<topic name>" as hk-mail
# names them (the shipper looks the topic id up by these names: DescribeTopics).
_SERVER_LOG: Final[dict[str, re.Pattern[str]]] = {
    "alicloud": re.compile(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]/[a-z0-9][a-z0-9_-]{0,61}[a-z0-9]"),
    "tencentcloud": re.compile(r"[a-z0-9][a-z0-9-]{0,61}[a-z0-9]/[a-z0-9][a-z0-9-]{0,61}[a-z0-9]"),
}
_ROLE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+=,@-]{0,63}$")

LETS_ENCRYPT: Final = "https://acme-v02.api.letsencrypt.org/directory"
# The widest admin network accepted: a /16 of IPv4 (65,536 addresses) or a /48 of IPv6 (one site).
# Anything wider is "the internet" for practical purposes and leaves SSH open to scanners.
MIN_ADMIN_PREFIX: Final = {4: 16, 6: 48}


@dataclass(frozen=True)
class Ports:
    """Where each daemon listens. Production uses the defaults; tests move them to high ports."""

    smtp: int = 25
    submission: int = 587
    submissions: int = 465
    imaps: int = 993
    https: int = 443
    http: int = 80  # ACME HTTP-01 challenges only; everything else redirects to https
    auth_policy: int = 4001  # hkmail-authpolicy, on 127.0.0.1 only (Dovecot asks it)


@dataclass(frozen=True)
class Relay:
    """The SMTP service outbound mail goes through (both clouds block outbound port 25)."""

    host: str = TENCENT_SES_HK_SMTP
    port: int = 465
    # Set when the relay is outside Hong Kong: the reference of the declared cross-border transfer
    # (e.g. the signed PCPD model clauses). Required for any relay not known to be in Hong Kong.
    cross_border_declaration: str | None = None

    @property
    def in_hong_kong(self) -> bool:
        return self.host in HONG_KONG_RELAYS


@dataclass(frozen=True)
class SecretRefs:
    """Where the instance finds its secrets at boot: names only, never values.

    ``mailbox_hashes`` holds a JSON object ``{"local-part": "{SCHEME}hash"}`` (hashes as printed
    by ``doveadm pw``); ``relay_credentials`` a JSON object ``{"username": ..., "password": ...}``
    (the SES SMTP user and password); ``dkim_private_key`` the PEM of the DKIM signing key.
    """

    cloud: Cloud
    role_name: str  # the instance's CAM (Tencent) or RAM (Alibaba) role
    dkim_private_key: str
    mailbox_hashes: str
    relay_credentials: str
    #: a JSON object {target: {"url": webhook URL, "secret": signing secret}} (notify rules only)
    notify_targets: str | None = None
    #: the restic repository password of the nightly backup (with an archive bucket)
    backup_password: str | None = None

    @property
    def region(self) -> str:
        return SECRET_REGION[self.cloud]

    def names(self) -> tuple[str, ...]:
        extra = tuple(n for n in (self.notify_targets, self.backup_password) if n)
        return (self.dkim_private_key, self.mailbox_hashes, self.relay_credentials, *extra)


@dataclass(frozen=True)
class MailServerConfig:
    domain: str
    hostname: str  # the server's FQDN: MX target, HELO name, PTR target
    dkim_selector: str
    admin_cidr: str  # where SSH may come from; used by the security group, not by the server
    users: tuple[str, ...]  # mailbox local parts
    mta_sts_policy: str  # the policy text served at /.well-known/mta-sts.txt (RFC 8461 3.2)
    secrets: SecretRefs
    relay: Relay = field(default_factory=Relay)
    tls_cert: str = "/etc/ssl/hkmail/fullchain.pem"
    tls_key: str = "/etc/ssl/hkmail/privkey.pem"
    postmaster: str | None = None  # local part receiving postmaster@ and abuse@; default users[0]
    # Local parts the published DMARC/TLS-RPT report addresses use (dmarc@, tls-reports@): aliases
    # of the postmaster, or every report sent to us would bounce "User unknown".
    report_mailboxes: tuple[str, ...] = ()
    message_size_limit: int = 26_214_400
    # Block device of the encrypted data disk, formatted once and mounted at /var/vmail; None keeps
    # mailboxes on the system disk (tests, or a single-disk server).
    data_device: str | None = None
    # The ACME server issuing the server's certificate (HTTP-01 through the nginx that serves
    # MTA-STS); tests point it at a local Pebble.
    acme_directory: str = LETS_ENCRYPT
    # SMTP AUTH commands per client address and minute on submission (Postfix anvil).
    auth_rate_limit: int = 10
    # Per client address on every SMTP port (Postfix anvil): concurrent connections, and new
    # connections per minute.
    connection_count_limit: int = 10
    connection_rate_limit: int = 60
    # Per SASL login and sliding hour (hkmail-ratelimit): recipients outside our domain, and
    # messages submitted. A stolen login sends at most this much before Postfix answers 450.
    recipients_per_hour: int = 500
    messages_per_hour: int = 200
    # Failed logins (IMAP or SMTP AUTH) per client address in 10 minutes before the address is
    # refused without its password being checked (hkmail-authpolicy).
    auth_failure_limit: int = 20
    # Mail-to-chat rules (hkmail-notify); None: no mail leaves as a notification.
    notify: NotifyConfig | None = None
    # The Hong Kong archive bucket (full name; COS: <name>-<appid>) the journal is uploaded to.
    # None: the journal is still spooled on the data disk, nothing uploads it (tests).
    archive_bucket: str | None = None
    # The server-log store in Hong Kong hkmail-logship writes to: Alibaba "<project>/<logstore>"
    # (SLS), Tencent "<logset>/<topic>" (CLS names). None: nothing ships the server's logs.
    server_log: str | None = None
    # The bucket of the nightly backup (restic, under backup/); None: the archive bucket. Alibaba
    # gives it its own when the archive is under WORM, which would refuse restic's deletes.
    backup_bucket: str | None = None

    def __post_init__(self) -> None:
        validate(self)

    @property
    def postmaster_user(self) -> str:
        return self.postmaster or self.users[0]

    @property
    def addresses(self) -> tuple[str, ...]:
        return tuple(f"{u}@{self.domain}" for u in self.users)


def _is_fqdn(name: str) -> bool:
    labels = name.split(".")
    return len(labels) >= 2 and len(name) <= 253 and all(_LABEL.match(lb) for lb in labels)


def validate(c: MailServerConfig) -> None:
    """Every problem of one config together, each naming the field and what is allowed."""
    errors: list[SpecError] = []

    def bad(fld: str, value: object, allowed: str, reason: str = "") -> None:
        errors.append(SpecError(f"mailServer.{fld}", value, allowed, reason))

    if not _is_fqdn(c.domain):
        bad("domain", c.domain, "a lower-case DNS name with at least two labels")
    if not _is_fqdn(c.hostname):
        bad("hostname", c.hostname, "a lower-case fully qualified host name")
    if not _LABEL.match(c.dkim_selector):
        bad("dkimSelector", c.dkim_selector, "one DNS label: a-z, 0-9, '-'")
    try:
        net = ipaddress.ip_network(c.admin_cidr, strict=True)
        widest = MIN_ADMIN_PREFIX[net.version]
        if net.prefixlen < widest:
            bad(
                "adminCidr",
                c.admin_cidr,
                f"an IPv{net.version} network of prefix /{widest} or longer",
                "SSH must be open only to the administrators' own network",
            )
    except ValueError as exc:
        bad("adminCidr", c.admin_cidr, "an IPv4/IPv6 network such as 203.0.113.0/24", str(exc))
    if not c.users:
        bad("users", c.users, "at least one mailbox local part")
    for u in c.users:
        if not _LOCAL_PART.match(u):
            bad("users", u, "lower-case local parts: a-z, 0-9, '.', '_', '+', '-'")
    if len(set(c.users)) != len(c.users):
        bad("users", c.users, "each mailbox once")
    for lp in c.report_mailboxes:
        if not _LOCAL_PART.match(lp):
            bad("reportMailboxes", lp, "lower-case local parts: a-z, 0-9, '.', '_', '+', '-'")
    if c.postmaster is not None and c.postmaster not in c.users:
        bad("postmaster", c.postmaster, f"one of the users {list(c.users)}")
    if "version: STSv1" not in c.mta_sts_policy:
        bad("mtaStsPolicy", c.mta_sts_policy[:40], "an RFC 8461 policy starting 'version: STSv1'")
    if not c.relay.in_hong_kong and not c.relay.cross_border_declaration:
        bad(
            "relay.host",
            c.relay.host,
            f"{sorted(HONG_KONG_RELAYS)}, or another relay with relay.crossBorderDeclaration",
            "outbound mail through a relay outside Hong Kong is a cross-border transfer",
        )
    if not _is_fqdn(c.relay.host):
        bad("relay.host", c.relay.host, "a fully qualified host name")
    if not 1 <= c.relay.port <= 65535:
        bad("relay.port", c.relay.port, "1-65535 (465 for implicit TLS)")
    for path_field, path in (("tlsCert", c.tls_cert), ("tlsKey", c.tls_key)):
        if not path.startswith("/") or any(ch in path for ch in " \n\t:"):
            bad(path_field, path, "an absolute path without spaces or ':'")
    if c.data_device is not None and not re.fullmatch(r"/dev/[a-z0-9/]+", c.data_device):
        bad("dataDevice", c.data_device, "a block device path such as /dev/vdb")
    if not re.fullmatch(r"https://[A-Za-z0-9.:-]+(/[A-Za-z0-9._~/-]*)?", c.acme_directory):
        bad("acmeDirectory", c.acme_directory, "an https:// ACME directory URL")
    if not 1 <= c.auth_rate_limit <= 1000:
        bad("authRateLimit", c.auth_rate_limit, "1-1000 AUTH commands per client and minute")
    if not 1 <= c.connection_count_limit <= 1000:
        bad("connectionCountLimit", c.connection_count_limit, "1-1000 connections per client")
    if not 1 <= c.connection_rate_limit <= 10000:
        bad(
            "connectionRateLimit",
            c.connection_rate_limit,
            "1-10000 new connections per client and minute",
        )
    if not 1 <= c.auth_failure_limit <= 1000:
        bad("authFailureLimit", c.auth_failure_limit, "1-1000 failed logins per client")
    if not 1 <= c.recipients_per_hour <= 100_000:
        bad("sendingLimits.recipientsPerHour", c.recipients_per_hour, "1-100000 per login")
    if not 1 <= c.messages_per_hour <= 100_000:
        bad("sendingLimits.messagesPerHour", c.messages_per_hour, "1-100000 per login")
    if c.notify is not None:
        errors += check_notify(c.notify, c.users)
        if not c.secrets.notify_targets:
            bad(
                "secrets.notifyTargets",
                None,
                "the secret-store name of the webhook URLs and signing secrets",
                "notify rules need their targets' credentials",
            )
    if c.archive_bucket is not None and not _ARCHIVE_BUCKET.match(c.archive_bucket):
        bad("archiveBucket", c.archive_bucket, "3-63 of a-z, 0-9, '-' (COS: <name>-<appid>)")
    if c.backup_bucket is not None and (
        c.archive_bucket is None or not _ARCHIVE_BUCKET.match(c.backup_bucket)
    ):
        bad("backupBucket", c.backup_bucket, "3-63 of a-z, 0-9, '-', with an archiveBucket")
    if c.archive_bucket is not None and not c.secrets.backup_password:
        bad(
            "secrets.backupPassword",
            None,
            "the secret-store name of the backup's restic repository password",
            "with an archive bucket the server backs up nightly, encrypted with that password",
        )
    if c.server_log is not None and not _SERVER_LOG[c.secrets.cloud].fullmatch(c.server_log):
        bad(
            "serverLog",
            c.server_log,
            "alicloud: <SLS project>/<logstore>; tencentcloud: <CLS logset name>/<topic name>",
        )
    s = c.secrets
    if not _ROLE_NAME.match(s.role_name):
        bad("secrets.roleName", s.role_name, "a CAM/RAM role name")
    for name in s.names():
        if not _SECRET_NAME.match(name):
            bad("secrets", name, "secret names of letters, digits, '.', '_', '/', '-'")
    if errors:
        raise SpecErrors(errors)
