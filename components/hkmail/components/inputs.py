"""From the public components' typed args to the validated spec, and from stack config to args.

One validator, two front doors: a component's args are put back into the shape of a stack's
config (camelCase keys, enum values as text) and read by the same readers as the stack
(``hkmail.spec``), so both report the same problems with the same allowed values; the field
names are the component's (``args.dmarc.policy``) instead of the stack's
(``hkmail:domains[0].dmarc.policy``). Nothing here registers a resource.
"""

from __future__ import annotations

import base64
import dataclasses
import enum
import functools
import json
import re
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, cast

import pulumi
from cryptography.hazmat.primitives import serialization

from hkmail.components import args as a
from hkmail.errors import HkMailError, SpecError, SpecErrors
from hkmail.facts import Cloud, DnsProvider
from hkmail.mailserver.deploy import PrivateMailServerArgs
from hkmail.mailserver.model import MailServerConfig, SecretRefs
from hkmail.records import RecordSet, mta_sts_policy, stack_records
from hkmail.records.mail import migrating, report_authorisation
from hkmail.spec import (
    DomainSpec,
    PrivateServerSpec,
    StackSpec,
    read_domain_args,
    read_migration_args,
    read_private_server_args,
)

#: The secrets a domain on a private server needs, as the component's fields.
SERVER_SECRETS = (
    "dkim_private_key",
    "mailbox_password_hashes",
    "relay_password",
    "backup_password",
)
_DOMAIN_LEVEL = {
    "dns_provider",
    "dns_plan",
    "private_server",
    "dmarc_report_sources",
    "migration",
}
#: MailServerArgs fields that are hkmail:privateServer keys (read by the stack's reader).
_SERVER_SPEC_FIELDS = (
    "domain",
    "hostname",
    "zone",
    "account_id",
    "app_id",
    "image_id",
    "admin_cidr",
    "users",
    "dkim_selector",
    "archive_bucket",
    "relay_username",
    "retention_days",
    "retention_locked",
    "ssh_public_key",
    "sending_limits",
    "notify",
)
#: MailServerArgs fields that size and place the deployment (checked by mailserver.deploy).
_SERVER_DEPLOY_FIELDS = (
    "instance_type",
    "vpc_cidr",
    "subnet_cidr",
    "system_disk_gb",
    "data_disk_gb",
    "snapshot_retention_days",
    "log_retention_days",
)
_SERVER_OTHER_FIELDS = (
    *SERVER_SECRETS,
    "mta_sts_policy",
    "dkim_public_key",
    "name_prefix",
    "report_mailboxes",
    "notify_webhooks",
)


def camel(snake: str) -> str:
    first, *rest = snake.split("_")
    return first + "".join(w[:1].upper() + w[1:] for w in rest)


def snake(camel_name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", camel_name).lower()


#: Args whose value is a mapping keyed by data (mailbox names may hold "_"), not by arg names.
_DATA_KEYED: Final = frozenset({"dingtalk_users"})


def to_config(value: object) -> object:
    """Typed args -> the stack config's shape: camelCase keys, enum members as their text."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, float) and value.is_integer():
        # Numbers cross the wire as floats, and the SDK's construct hands integer inputs on
        # as they came (pulumi.provider.experimental.component.map_input_properties).
        return int(value)
    if isinstance(value, Mapping):
        return {
            camel(str(k)): dict(v) if str(k) in _DATA_KEYED and isinstance(v, Mapping)
            else to_config(v)
            for k, v in value.items()
        }  # fmt: skip
    if isinstance(value, list | tuple):
        return [to_config(v) for v in value]
    return value


# --------------------------------------------------------------------------------------------
# MailDomain
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DomainPlan:
    """A mail domain's validated args and the records it publishes."""

    spec: DomainSpec
    dns_provider: DnsProvider
    records: RecordSet


def plan_domain(args: Mapping[str, Any], path: str = "args") -> DomainPlan:
    """Validate a MailDomain's args with the stack's readers and compute its records."""
    subject = f"hkmail:index:MailDomain {args.get('name', '')}".rstrip()
    raw = {camel(k): to_config(v) for k, v in args.items() if k not in _DOMAIN_LEVEL}
    for secret in (*SERVER_SECRETS, "notify_webhooks"):
        raw.pop(camel(secret), None)
    errors: list[SpecError] = []
    if "autodiscovery" in raw:
        raw["autodiscovery"] = _autodiscovery(raw["autodiscovery"], f"{path}.autodiscovery", errors)
    try:
        spec, sources = read_domain_args(
            raw,
            dns_provider=to_config(args.get("dns_provider")),
            dns_plan=to_config(args.get("dns_plan")),
            private_server=to_config(args.get("private_server")),
            report_sources=to_config(args.get("dmarc_report_sources")),
            path=path,
            subject=subject,
        )
    except SpecErrors as exc:
        raise SpecErrors([*errors, *exc.errors], subject) from None
    if spec.server is not None:
        errors += [
            SpecError(
                f"{path}.{camel(s)}",
                None,
                "a secret (pulumi.Output.secret(...), or secret stack config)",
                "privateServer needs it",
            )
            for s in SERVER_SECRETS
            if args.get(s) is None
        ]
    if errors:
        raise SpecErrors(errors, subject)
    provider = cast(DnsProvider, to_config(args["dns_provider"]))
    plan = str(args.get("dns_plan") or "free")
    migration = None
    if args.get("migration") is not None:
        raw_migration = to_config(args["migration"])
        if isinstance(raw_migration, dict):
            raw_migration.setdefault("domain", spec.name)  # the component's own domain
        migration = read_migration_args(
            raw_migration,
            spec,
            dns_provider=provider,
            dns_plan=plan,
            subject=subject,
        )
    # The stack's own record maker, on a stack of this one domain: the migration phase applied
    # and checked exactly as for a stack.
    alone = StackSpec(provider, plan, {}, (spec,), migration=migration)
    rs = stack_records(alone)[spec.name]
    auth = tuple(report_authorisation(src, dest, spec.name, spec.ttl) for src, dest in sources)
    records = RecordSet(rs.zone, rs.records + auth, rs.deferred, rs.notes, rs.report_destinations)
    return DomainPlan(migrating(alone, spec), provider, records)


def _autodiscovery(value: object, path: str, errors: list[SpecError]) -> object:
    """AutodiscoveryArgs -> the stack's form: ``true`` for the preset, else the endpoints."""
    if not isinstance(value, Mapping) or "preset" not in value:
        return value
    endpoints = {k: v for k, v in value.items() if k != "preset"}
    if endpoints:
        errors.append(
            SpecError(
                f"{path}.preset",
                value["preset"],
                "preset alone, or submission/submissions/imaps without preset",
            )
        )
        return endpoints
    return bool(value["preset"]) or None


def report_mailboxes(spec: DomainSpec) -> list[str]:
    """Local parts of the domain's own DMARC and TLS-RPT mailto: report addresses."""
    uris = [*(spec.dmarc.rua if spec.dmarc else ()), *(spec.tls_rpt.rua if spec.tls_rpt else ())]
    parts = [
        address.rpartition("@")[0].lower()
        for uri in uris
        if uri.lower().startswith("mailto:")
        and (address := uri[7:].split("!", 1)[0]).lower().endswith("@" + spec.name)
    ]
    return list(dict.fromkeys(parts))


def server_args_of_domain(args: Mapping[str, Any], plan: DomainPlan) -> a.MailServerArgs:
    """The MailServerArgs of a MailDomain's private server (validated again by the server)."""
    spec = plan.spec
    server = spec.server
    assert server is not None
    private = dict(args["private_server"])
    private.pop("cloud", None)
    [key] = [k for k in spec.dkim if k.selector == server.dkim_selector]
    policy = mta_sts_policy(spec)
    return cast(
        a.MailServerArgs,
        {
            **private,
            "domain": spec.name,
            "dkim_private_key": args["dkim_private_key"],
            "mailbox_password_hashes": args["mailbox_password_hashes"],
            "relay_password": args["relay_password"],
            "backup_password": args["backup_password"],
            **({"notify_webhooks": args["notify_webhooks"]} if "notify_webhooks" in args else {}),
            "mta_sts_policy": policy.to_text() if policy else "",
            "dkim_public_key": key.public_key,
            "report_mailboxes": report_mailboxes(spec),
        },
    )


# --------------------------------------------------------------------------------------------
# The private mail server
# --------------------------------------------------------------------------------------------


def server_args(args: Mapping[str, Any], cloud: Cloud, path: str = "args") -> PrivateMailServerArgs:
    """Validate a mail server's args with the stack's reader; the deployment's own checks
    (``mailserver.deploy.validate``) run in the component on the result."""
    subject = f"hkmail:index:{_SERVER_CLASS[cloud]} {args.get('hostname', '')}".rstrip()
    known = {*_SERVER_SPEC_FIELDS, *_SERVER_DEPLOY_FIELDS, *_SERVER_OTHER_FIELDS}
    allowed = ", ".join(sorted(map(camel, known)))
    errors = [
        SpecError(f"{path}.{camel(k)}", args[k], allowed, "unknown key")
        for k in args
        if k not in known
    ]
    errors += [
        SpecError(f"{path}.{camel(s)}", None, "a secret (pulumi.Output.secret(...))", "required")
        for s in SERVER_SECRETS
        if args.get(s) is None
    ]
    raw = {camel(k): to_config(args[k]) for k in _SERVER_SPEC_FIELDS if k in args}
    try:
        spec = read_private_server_args({**raw, "cloud": cloud}, path=path, subject=subject)
    except SpecErrors as exc:
        raise SpecErrors([*exc.errors, *errors], subject) from None
    if errors:
        raise SpecErrors(errors, subject)
    return _deployment(spec, args)


_SERVER_CLASS: Mapping[Cloud, str] = {
    "tencentcloud": "TencentMailServer",
    "alicloud": "AlicloudMailServer",
}


def _deployment(server: PrivateServerSpec, args: Mapping[str, Any]) -> PrivateMailServerArgs:
    prefix = f"hkmail-{server.domain.replace('.', '-')}"[:40]
    refs = SecretRefs(
        cloud=server.cloud,
        role_name=f"{prefix}-mail",
        dkim_private_key=f"{prefix}-dkim",
        mailbox_hashes=f"{prefix}-mailboxes",
        relay_credentials=f"{prefix}-relay",
        notify_targets=f"{prefix}-notify" if server.notify else None,
        backup_password=f"{prefix}-backup",
    )
    if server.notify is not None and args.get("notify_webhooks") is None:
        raise SpecErrors(
            [
                SpecError(
                    "args.notifyWebhooks",
                    None,
                    'a secret JSON {"<target>": {"url": ..., "secret": ...}}',
                    "notify rules need their webhooks",
                )
            ]
        )
    config = MailServerConfig(
        domain=server.domain,
        hostname=server.hostname,
        dkim_selector=server.dkim_selector,
        admin_cidr=server.admin_cidr,
        users=server.users,
        mta_sts_policy=str(args.get("mta_sts_policy", "")),
        secrets=refs,
        report_mailboxes=tuple(args.get("report_mailboxes") or ()),
        notify=server.notify,
    )
    # The stack's sendingLimits where given, else the server's own defaults.
    if server.recipients_per_hour is not None:
        config = dataclasses.replace(config, recipients_per_hour=server.recipients_per_hour)
    if server.messages_per_hour is not None:
        config = dataclasses.replace(config, messages_per_hour=server.messages_per_hour)
    public = args.get("dkim_public_key")
    dkim_pem = pulumi.Output.secret(args["dkim_private_key"]).apply(
        functools.partial(check_dkim_pair, public=public, selector=server.dkim_selector)
    )
    hashes_out = pulumi.Output.secret(args["mailbox_password_hashes"])
    hashes: dict[str, pulumi.Input[str]] = {
        user: hashes_out.apply(functools.partial(_hash_of, user=user)) for user in server.users
    }
    deploy = {k: args[k] for k in _SERVER_DEPLOY_FIELDS if k in args}
    return PrivateMailServerArgs(
        server=config,
        account_id=server.account_id,
        zone=server.zone,
        image_id=server.image_id,
        dkim_private_key=dkim_pem,
        mailbox_password_hashes=hashes,
        relay_username=server.relay_username,
        relay_password=pulumi.Output.secret(args["relay_password"]),
        backup_password=pulumi.Output.secret(args["backup_password"]),
        archive_bucket=server.archive_bucket,
        app_id=server.app_id,
        retention_days=server.retention_days,
        retention_locked=server.retention_locked,
        name=str(args.get("name_prefix") or prefix[:20]),
        ssh_public_key=server.ssh_public_key,
        notify_webhooks=_webhooks(args["notify_webhooks"]) if server.notify else None,
        **deploy,
    )


def _webhooks(value: object) -> pulumi.Output[str]:
    """notifyWebhooks as the JSON text the instance fetches, kept a secret."""
    return pulumi.Output.secret(value).apply(
        lambda v: v if isinstance(v, str) else json.dumps(v, sort_keys=True)
    )


def check_dkim_pair(private_pem: str, *, public: str | None, selector: str) -> str:
    """The published key must be the public half of the signing key, or every signature fails.

    Checked when both halves are known and the private value is a PEM block at all: a value that
    is no PEM (a tool's stand-in for a secret it cannot decrypt, say) is left to the server, whose
    OpenDKIM refuses it."""
    if public is None or "-----BEGIN" not in private_pem:
        return private_pem
    try:
        key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    except (ValueError, TypeError) as exc:
        raise HkMailError(f"dkimPrivateKey is not an unencrypted PEM private key: {exc}") from None
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    if base64.b64encode(der).decode() != re.sub(r"\s+", "", public):
        raise HkMailError(
            f"dkimPrivateKey does not match the published DKIM key {selector} "
            "(dkim[].publicKey): receivers would fail every signature"
        )
    return private_pem


def _hash_of(hashes: object, *, user: str) -> str:
    if isinstance(hashes, str):
        try:
            hashes = json.loads(hashes)
        except json.JSONDecodeError:
            raise HkMailError("mailboxPasswordHashes must be an object user -> hash") from None
    if not isinstance(hashes, Mapping) or user not in hashes:
        raise HkMailError(f"mailboxPasswordHashes has no hash for mailbox user {user}")
    return str(hashes[user])


# --------------------------------------------------------------------------------------------
# Stack config -> typed args (the program's side)
# --------------------------------------------------------------------------------------------


def from_config(value: object, typ: Any) -> Any:
    """A validated stack config value -> the typed args of ``typ`` (a TypedDict, list, enum...).

    The stack reader has accepted the value already; this only renames keys and wraps enums.
    """
    origin = typing.get_origin(typ)
    if origin in (typing.NotRequired, typing.Required):
        return from_config(value, typing.get_args(typ)[0])
    if typ is a.AutodiscoveryArgs and isinstance(value, bool):
        return {"preset": value}
    if typing.is_typeddict(typ) and isinstance(value, Mapping):
        hints = typ.__annotations__  # as written: pulumi.Input holds a forward reference
        return {snake(k): from_config(v, hints[snake(k)]) for k, v in value.items()}
    if origin is list and isinstance(value, Sequence) and not isinstance(value, str):
        [item] = typing.get_args(typ)
        return [from_config(v, item) for v in value]
    if isinstance(typ, type) and issubclass(typ, enum.Enum):
        return typ(value)
    if typ is int and isinstance(value, str) and value.isdigit():
        return int(value)
    if typ is str and value is not None and not isinstance(value, str):
        return value.isoformat() if hasattr(value, "isoformat") else str(value)
    if origin in (typing.Union, types.UnionType):  # pulumi.Input[...]: passed as it is
        return value
    return value
