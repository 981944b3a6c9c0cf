"""The Pulumi program: one consumer of the hkmail component package.

Stack config -> validated spec (``hkmail.spec.read_stack``, errors named by config key) -> typed
component args -> components. Nothing is registered until the whole stack and every domain's args
have been validated, so a bad value can never leave half a stack behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Collection, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pulumi
from pulumi.runtime.config import _SECRET_KEYS, CONFIG, get_config_env, get_config_secret_keys_env

from hkmail.checks import Exemption
from hkmail.components.args import (
    DmarcReportSourceArgs,
    DnsPlan,
    DnsProvider,
    MailDomainArgs,
    MigrationArgs,
    PrivateServerArgs,
)
from hkmail.components.domain import MailDomain
from hkmail.components.inputs import SERVER_SECRETS, camel, from_config, plan_domain
from hkmail.components.registry import hong_kong_providers
from hkmail.errors import HkMailError
from hkmail.mailserver.notify_config import statements as notify_statements
from hkmail.records import RecordSet, mta_sts_policy, stack_records
from hkmail.records.mail import migrating, report_sources
from hkmail.spec import AttestationOnFile, DirectMailSender, StackSpec, read_stack


def config_from_pulumi() -> dict[str, object]:
    """All stack config as full keys, structured values decoded (the CLI passes them as JSON)."""
    raw: dict[str, object] = {**get_config_env(), **CONFIG.get()}
    out: dict[str, object] = {}
    for key, value in raw.items():
        if isinstance(value, str) and value[:1] in "[{":
            with contextlib.suppress(json.JSONDecodeError):
                value = json.loads(value)
        out[key] = value
    return out


def plan_stack(
    config: Mapping[str, object],
    secret_keys: Collection[str] | None = None,
    stack: str | None = None,
) -> tuple[StackSpec, Mapping[str, RecordSet]]:
    """Everything that can be checked before a resource is registered."""
    spec = read_stack(
        config,
        secret_keys=secret_keys,
        exemptions=_exemptions(),
        stack=stack,
        attestations=_attestations(),
    )
    return spec, stack_records(spec)


def _secret_keys() -> set[str]:
    """The config keys the CLI marks secret (``secure:`` in the stack file)."""
    return set(get_config_secret_keys_env()) | set(_SECRET_KEYS.get())


def _exemptions() -> dict[str, Exemption] | None:
    """The reviewed exemptions (policies/exemptions.yaml beside this program, or
    HKMAIL_EXEMPTIONS_FILE), validated by the policy pack's own module, if the project has the
    pack; cross-border declarations must name one of them."""
    pack = Path(__file__).resolve().parent / "policies"
    if not (pack / "hkmail_policy" / "exemptions.py").is_file():
        return None
    if str(pack) not in sys.path:
        sys.path.append(str(pack))  # the pack's pure modules (PyYAML only), not the pack itself
    from hkmail_policy import exemptions as pack_exemptions

    path = pack_exemptions.path_from_env(pack / "exemptions.yaml")
    if not path.is_file():
        return None
    today = (datetime.now(UTC) + timedelta(hours=8)).date()  # Hong Kong calendar days
    try:
        entries = pack_exemptions.load(None, path, today)
    except pack_exemptions.ExemptionsError as exc:
        raise HkMailError(f"exemptions: {exc}") from None
    return {e.id: Exemption(e.id, e.expires, e.stack) for e in entries}


def _attestations() -> dict[str, AttestationOnFile] | None:
    """The vendors' confirmations of Hong Kong storage (policies/attestations.yaml beside this
    program, or HKMAIL_ATTESTATIONS_FILE), validated by the policy pack's own module (evidence,
    dates, approval); hkmail:mailFlows attestations must name one of them."""
    pack = Path(__file__).resolve().parent / "policies"
    if not (pack / "hkmail_policy" / "attestations.py").is_file():
        return None
    if str(pack) not in sys.path:
        sys.path.append(str(pack))  # the pack's pure modules (PyYAML only), not the pack itself
    from hkmail_policy import attestations as pack_attestations

    path = Path(os.environ.get(pack_attestations.ENV_FILE) or pack / "attestations.yaml")
    if not path.is_file():
        return None
    today = (datetime.now(UTC) + timedelta(hours=8)).date()  # Hong Kong calendar days
    try:
        entries = pack_attestations.load_with_systems(path, today)
    except pack_attestations.AttestationsError as exc:
        raise HkMailError(f"attestations: {exc}") from None
    return {a.id: AttestationOnFile(a.id, system, a.expires, a.stacks) for a, system in entries}


def domain_args(config: Mapping[str, object], spec: StackSpec) -> list[MailDomainArgs]:
    """Each validated ``hkmail:domains`` entry as the MailDomain component's typed args."""
    domains = cast(list[Mapping[str, object]], config["hkmail:domains"])
    sources = report_sources(spec)
    out: list[MailDomainArgs] = []
    for raw, domain in zip(domains, spec.domains, strict=True):
        args = cast(MailDomainArgs, from_config(raw, MailDomainArgs))
        args["dns_provider"] = DnsProvider(spec.dns_provider)
        args["dns_plan"] = DnsPlan(spec.dns_plan)
        if sources[domain.name]:
            args["dmarc_report_sources"] = [
                DmarcReportSourceArgs(domain=src, destination=dest)
                for src, dest in sources[domain.name]
            ]
        if domain.server is not None:
            server = {
                k: v
                for k, v in cast(Mapping[str, Any], config["hkmail:privateServer"]).items()
                if k != "domain"
            }
            args["private_server"] = cast(PrivateServerArgs, from_config(server, PrivateServerArgs))
            secrets = {s: config[f"hkmail:{camel(s)}"] for s in SERVER_SECRETS}
            args["dkim_private_key"] = str(secrets["dkim_private_key"])
            args["mailbox_password_hashes"] = _hashes(secrets["mailbox_password_hashes"])
            args["relay_password"] = str(secrets["relay_password"])
            args["backup_password"] = str(secrets["backup_password"])
            webhooks = config.get("hkmail:notifyWebhooks")
            if webhooks is not None:
                args["notify_webhooks"] = (
                    webhooks if isinstance(webhooks, str) else json.dumps(webhooks, sort_keys=True)
                )
        migration = config.get("hkmail:migration")
        if (
            isinstance(migration, Mapping)
            and spec.migration
            and spec.migration.domain == domain.name
        ):
            args["migration"] = cast(MigrationArgs, dict(migration))  # the stack's form
        plan_domain(args)  # the component's own checks, for every domain before any resource
        out.append(args)
    return out


def _hashes(value: object) -> dict[str, str]:
    """hkmail:mailboxPasswordHashes: an object user -> hash (or the same as JSON text)."""
    if isinstance(value, str):
        with contextlib.suppress(json.JSONDecodeError):
            value = json.loads(value)
    if not isinstance(value, Mapping):
        raise HkMailError("hkmail:mailboxPasswordHashes must be an object user -> hash")
    return {str(k): str(v) for k, v in value.items()}


def run(config: Mapping[str, object] | None = None) -> None:
    config_values = config if config is not None else config_from_pulumi()
    try:
        spec, record_sets = plan_stack(
            config_values,
            secret_keys=_secret_keys() if config is None else None,
            stack=pulumi.get_stack() if config is None else None,
        )
        all_args = domain_args(config_values, spec)
    except HkMailError as exc:
        # RunError ends the program with this message and no traceback (pulumi.errors.RunError).
        raise pulumi.RunError(str(exc)) from None
    providers = hong_kong_providers(spec.clouds)
    for domain, args in zip(spec.domains, all_args, strict=True):
        rs = record_sets[domain.name]
        md = MailDomain(
            domain.name, args, opts=pulumi.ResourceOptions(providers=list(providers.values()))
        )
        policy = mta_sts_policy(migrating(spec, domain))  # the policy of its migration phase
        # The records themselves are in the plan (and its zone export); outputs carry what a
        # person must act on.
        pulumi.export(
            domain.name,
            {
                "component": md.urn,
                "mtaStsPolicy": policy.to_text() if policy else None,
                "pendingRecords": [f"{d.name} {d.rdtype} <{d.source}>" for d in rs.deferred],
                "notes": list(rs.notes),
            },
        )
        if md.ptr_record is not None and domain.server is not None:
            pulumi.export(
                "privateServer", {"hostname": domain.server.hostname, "ptrRecord": md.ptr_record}
            )
    transfers = [
        s.cross_border.statement("Alibaba DirectMail", s.domain)
        for d in spec.domains
        for s in d.senders
        if isinstance(s, DirectMailSender)
    ]
    server = spec.private_server
    if server is not None and server.notify is not None:
        transfers += notify_statements(server.notify, server.hostname)
    pulumi.export("crossBorderTransfers", transfers)
