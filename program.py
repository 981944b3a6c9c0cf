"""The Pulumi program: stack config -> validated spec -> records -> provider components.

Nothing is registered until the whole spec and every record have been validated, so a bad value
can never leave half a stack behind.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping

import pulumi
from pulumi.runtime.config import CONFIG, get_config_env

from hkmail.components.domain import MailDomain, MailDomainArgs
from hkmail.components.registry import hong_kong_providers
from hkmail.errors import HkMailError
from hkmail.facts import Cloud
from hkmail.records import RecordSet, mta_sts_policy, stack_records
from hkmail.records.mail import migrating
from hkmail.spec import PRIVATE_SECRETS, DirectMailSender, StackSpec, read_stack


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


def plan_stack(config: Mapping[str, object]) -> tuple[StackSpec, Mapping[str, RecordSet]]:
    """Everything that can be checked before a resource is registered."""
    spec = read_stack(config)
    return spec, stack_records(spec)


def run(config: Mapping[str, object] | None = None) -> None:
    config_values = config if config is not None else config_from_pulumi()
    try:
        spec, record_sets = plan_stack(config_values)
    except HkMailError as exc:
        # RunError ends the program with this message and no traceback (pulumi.errors.RunError).
        raise pulumi.RunError(str(exc)) from None
    providers = _providers(spec)
    for configured in spec.domains:
        domain = migrating(spec, configured)  # as its hkmail:migration phase publishes it
        rs = record_sets[domain.name]
        md = MailDomain(
            domain.name,
            MailDomainArgs(
                spec=domain,
                dns_provider=spec.dns_provider,
                record_set=rs,
                server_secrets={k: config_values[f"hkmail:{k}"] for k in PRIVATE_SECRETS}
                if domain.server
                else {},
            ),
            opts=pulumi.ResourceOptions(providers=list(providers.values())),
        )
        policy = mta_sts_policy(domain)
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
    pulumi.export("crossBorderTransfers", transfers)


def _providers(spec: StackSpec) -> dict[Cloud, pulumi.ProviderResource]:
    return hong_kong_providers(spec.clouds)
