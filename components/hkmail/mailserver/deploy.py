"""Provider-neutral parts of the private deployment: the typed args of both cloud components, the
firewall the server needs, the PTR record to request, and the secret payloads.

The two components (``hkmail.components.private_tencent`` / ``private_alicloud``) turn these into
resources; nothing here registers a resource.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal

import pulumi

from hkmail.errors import NOT_SHOWN, SpecError, SpecErrors
from hkmail.facts import DEPLOY_ZONES, Cloud
from hkmail.mailserver.model import MailServerConfig
from hkmail.sshkeys import ALLOWED as SSH_KEY_ALLOWED
from hkmail.sshkeys import ssh_key_problem

# Where the instance mounts its encrypted data disk: every mailbox lives there.
DATA_MOUNT: Final = "/var/vmail"


@dataclass(frozen=True)
class Rule:
    direction: Literal["ingress", "egress"]
    protocol: Literal["tcp", "udp"]
    port: int
    cidr: str
    description: str


def firewall_rules(admin_cidr: str, relay_port: int) -> tuple[Rule, ...]:
    """Everything the security group allows; the components add an explicit deny-all after it.

    Egress stays open by port to any address, and this is why: every destination is a name whose
    addresses neither cloud publishes as a stable range (the SES relay, the Hong Kong secret store
    and cloud APIs, Let's Encrypt, the clouds' package mirrors, resolvers and NTP servers), and a
    security group can only hold addresses. What pins each destination instead: the relay by name
    and certificate (smtp_tls_security_level = secure), the APIs and ACME by verified HTTPS, apt
    by signatures. No other port leaves (outbound 25 in particular), and the metadata service is
    root's alone on the host (nftables).
    """
    anywhere = "0.0.0.0/0"
    ingress = [
        Rule("ingress", "tcp", 25, anywhere, "SMTP from other mail servers"),
        Rule("ingress", "tcp", 465, anywhere, "submission, implicit TLS"),
        Rule("ingress", "tcp", 587, anywhere, "submission, STARTTLS"),
        Rule("ingress", "tcp", 993, anywhere, "IMAPS"),
        Rule("ingress", "tcp", 443, anywhere, "HTTPS: MTA-STS policy"),
        Rule("ingress", "tcp", 80, anywhere, "HTTP: ACME HTTP-01 challenges, else a redirect"),
        Rule("ingress", "tcp", 22, admin_cidr, "SSH from the declared admin network only"),
    ]
    egress = [
        Rule("egress", "tcp", relay_port, anywhere, "SMTP relay, implicit TLS"),
        Rule("egress", "tcp", 443, anywhere, "secret store, cloud APIs and ACME, HTTPS"),
        # apt on both clouds' Debian images uses the cloud's mirror over http (packages are
        # signature-checked); the metadata service that hands out the role's key is http too.
        Rule("egress", "tcp", 80, anywhere, "package mirror and metadata service, http"),
        Rule("egress", "udp", 53, anywhere, "DNS"),
        Rule("egress", "tcp", 53, anywhere, "DNS over TCP"),
        Rule("egress", "udp", 123, anywhere, "NTP"),
    ]
    return (*ingress, *egress)


def ptr_record(ip: str, hostname: str) -> str:
    """The reverse record to ask the cloud for (both clouds set PTRs by ticket/console)."""
    addr = ipaddress.ip_address(ip)
    return f"{addr.reverse_pointer}. PTR {hostname.rstrip('.')}."


def secret_json(values: Mapping[str, pulumi.Input[str]]) -> pulumi.Output[str]:
    """A JSON object of secret values, itself a secret from the start."""
    keys = sorted(values)
    return pulumi.Output.secret(
        pulumi.Output.all(*(values[k] for k in keys)).apply(
            lambda vs: json.dumps(dict(zip(keys, vs, strict=True)), sort_keys=True)
        )
    )


@dataclass(frozen=True)
class PrivateMailServerArgs:
    """What both cloud components take. Secrets are ``pulumi.Input`` values; pass Pulumi secrets
    (``config.require_secret``) so they stay encrypted in the state.

    ``server.secrets`` names the three secrets and the instance role the component creates.
    """

    server: MailServerConfig
    account_id: str  # Tencent root account UIN / Alibaba Cloud account id, for policy resources
    zone: str
    image_id: str  # a Debian 12 image in the Hong Kong region
    dkim_private_key: pulumi.Input[str]  # PEM
    mailbox_password_hashes: Mapping[str, pulumi.Input[str]]  # user -> `doveadm pw` output
    relay_username: str
    relay_password: pulumi.Input[str]
    # The restic repository password of the nightly backup; kept in the secret store so that
    # losing the instance does not lose the ability to restore.
    backup_password: pulumi.Input[str]
    archive_bucket: str  # COS: the name without -APPID; OSS: the full name
    instance_type: str = ""  # default per cloud
    vpc_cidr: str = "10.80.0.0/16"
    subnet_cidr: str = "10.80.1.0/24"
    system_disk_gb: int = 40
    data_disk_gb: int = 100
    snapshot_retention_days: int = 30
    log_retention_days: int = 180
    # Archive retention lock (WORM) for record-keeping regimes; None = versioning only.
    retention_days: int | None = None
    retention_locked: bool = False  # Alibaba: lock the WORM policy (irreversible)
    app_id: str = ""  # Tencent APPID, the suffix of every COS bucket name
    name: str = "hkmail"  # prefix of the cloud-side names
    # The administrators' OpenSSH public key, installed as the instance's key pair. Without one
    # the instance has no SSH login at all (cloud-init turns password logins off either way).
    ssh_public_key: str | None = None
    # With server.notify: JSON {target: {url, secret}} of the chat robots (a Pulumi secret).
    notify_webhooks: pulumi.Input[str] | None = None


_BUCKET = re.compile(r"^[a-z0-9][a-z0-9-]{1,48}[a-z0-9]$")


def validate(args: PrivateMailServerArgs, cloud: Cloud) -> None:
    """Every problem together, naming the field; raised before any resource is registered."""
    errors: list[SpecError] = []

    def bad(fld: str, value: object, allowed: str, reason: str = "") -> None:
        errors.append(SpecError(f"privateServer.{fld}", value, allowed, reason))

    if args.server.secrets.cloud != cloud:
        bad("server.secrets.cloud", args.server.secrets.cloud, cloud)
    if args.zone not in DEPLOY_ZONES[cloud]:
        bad("zone", args.zone, ", ".join(DEPLOY_ZONES[cloud]), "Hong Kong zones only")
    if not re.fullmatch(r"[0-9]{5,20}", args.account_id):
        bad("accountId", args.account_id, "the numeric account id")
    if not args.image_id:
        bad("imageId", args.image_id, "a Debian 12 image id in the Hong Kong region")
    try:
        vpc = ipaddress.ip_network(args.vpc_cidr)
        sub = ipaddress.ip_network(args.subnet_cidr)
        if not (vpc.is_private and sub.subnet_of(vpc)):  # type: ignore[arg-type]
            bad("subnetCidr", args.subnet_cidr, f"a private subnet of vpcCidr {args.vpc_cidr}")
    except (ValueError, TypeError) as exc:
        bad("vpcCidr", f"{args.vpc_cidr} / {args.subnet_cidr}", "private IPv4 networks", str(exc))
    missing = sorted(set(args.server.users) - set(args.mailbox_password_hashes))
    # The hashes are never shown; the users they are missing or extra for are (names, not secrets).
    if missing:
        bad(
            "mailboxPasswordHashes",
            NOT_SHOWN,
            "a hash for every mailbox user",
            f"none for {missing}",
        )
    extra = sorted(set(args.mailbox_password_hashes) - set(args.server.users))
    if extra:
        users = list(args.server.users)
        bad("mailboxPasswordHashes", NOT_SHOWN, f"only the users {users}", f"also for {extra}")
    ssh_problem = ssh_key_problem(args.ssh_public_key) if args.ssh_public_key is not None else None
    if ssh_problem is not None:
        bad("sshPublicKey", str(args.ssh_public_key)[:30], SSH_KEY_ALLOWED, ssh_problem)
    if not _BUCKET.match(args.archive_bucket):
        bad("archiveBucket", args.archive_bucket, "3-50 of a-z, 0-9, '-'")
    if cloud == "tencentcloud" and not re.fullmatch(r"[0-9]{6,12}", args.app_id):
        bad("appId", args.app_id, "the account's numeric APPID (COS bucket suffix)")
    if args.retention_days is not None:
        if not 1 <= args.retention_days <= 25550:
            bad("retentionDays", args.retention_days, "1-25550 days")
        if cloud == "tencentcloud":
            bad(
                "retentionDays",
                args.retention_days,
                "unset on tencentcloud",
                "tencentcloud-iac-pulumi 0.2.3 has no COS object-lock (WORM) resource; set the "
                "retention lock on the bucket in the COS console, or deploy on alicloud",
            )
    for fld, value, low, high in (
        ("systemDiskGb", args.system_disk_gb, 20, 1024),
        ("dataDiskGb", args.data_disk_gb, 20, 32000),
        ("snapshotRetentionDays", args.snapshot_retention_days, 1, 65535),
        ("logRetentionDays", args.log_retention_days, 1, 3600),
    ):
        if not low <= value <= high:
            bad(fld, value, f"{low}-{high}")
    if errors:
        raise SpecErrors(errors)
