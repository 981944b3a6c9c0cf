"""The whole stack: hkmail:* keys, the clouds' regions, and :func:`read_stack`, which reads every
section and then runs the stack-wide checks (:mod:`hkmail.spec.checks`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Final

from hkmail.errors import SpecError, raise_all
from hkmail.facts import (
    DNS_CLOUD,
    DNS_PROVIDERS,
    HK_REGION,
    TTL_FLOOR,
    Cloud,
    DnsProvider,
)
from hkmail.spec.checks import Exemption, stack_checks
from hkmail.spec.domains import DomainSpec, _read_domain
from hkmail.spec.mailflows import (
    AttestationOnFile,
    MailFlowDeclaration,
    attestations_on_file,
    read_mail_flows,
)
from hkmail.spec.mailflows import exemptions_on_file as flow_exemptions_on_file
from hkmail.spec.migration import MigrationSpec, read_migration
from hkmail.spec.notify import NOTIFY_SECRET, check_webhooks
from hkmail.spec.private_server import PRIVATE_SECRETS, PrivateServerSpec, _read_private_server
from hkmail.spec.reader import _Reader
from hkmail.spec.sending import TencentSesSender


@dataclass(frozen=True)
class StackSpec:
    dns_provider: DnsProvider
    dns_plan: str
    regions: Mapping[Cloud, str]
    domains: tuple[DomainSpec, ...]
    clouds: frozenset[Cloud] = field(default_factory=frozenset)
    private_server: PrivateServerSpec | None = None
    migration: MigrationSpec | None = None  # hkmail:migration, see the section at the end
    mail_flows: tuple[MailFlowDeclaration, ...] = ()  # hkmail:mailFlows


KNOWN_KEYS: Final = (
    "dnsProvider",
    "dnsPlan",
    "domains",
    "privateServer",
    "migration",
    "mailFlows",
    *PRIVATE_SECRETS,  # secrets of privateServer
    NOTIFY_SECRET,  # secret of privateServer.notify
)


#: Namespaces whose keys are never hk-mail settings (providers and the engine's own).
_FOREIGN_NAMESPACES: Final = frozenset({"pulumi", "tencentcloud", "alicloud"})


def _misplaced_keys(r: _Reader, config: Mapping[str, object]) -> frozenset[str]:
    """hk-mail settings under another namespace: ``dnsProvider:`` written without one (the CLI
    puts it under the project's name, as ``pulumi config set dnsProvider`` does) or ``hk-mail:``.
    Returns the full hkmail: keys they were meant to be."""
    meant: set[str] = set()
    for key in config:
        namespace, _, name = key.partition(":")
        if namespace in _FOREIGN_NAMESPACES or namespace == "hkmail" or name not in KNOWN_KEYS:
            continue
        if f"hkmail:{name}" in config:
            continue
        meant.add(f"hkmail:{name}")
        command = "pulumi config set" + (" --secret" if name in PRIVATE_SECRETS else "")
        r.fail(
            key,
            config[key],
            f"the key hkmail:{name} (`{command} hkmail:{name} ...`, or `hkmail:{name}:` under "
            "`config:` in the stack file)",
            f"hk-mail reads its settings under the hkmail: namespace; a key written without a "
            f"namespace goes under the project's ({namespace}:)",
        )
    return frozenset(meant)


_CLOUD_NAMES: Final[Mapping[Cloud, str]] = {
    "tencentcloud": "Tencent Cloud",
    "alicloud": "Alibaba Cloud",
}


def region_problem(cloud: Cloud, region: object) -> str:
    """Why ``region`` is not the Hong Kong region of ``cloud``, in words a person can act on."""
    want = HK_REGION[cloud]
    if region is None or region == "":
        return "not set: the provider would fall back to an environment variable or its default" + (
            " ap-guangzhou (mainland China)" if cloud == "tencentcloud" else ""
        )
    if not isinstance(region, str):
        return "not a region id"
    if region.strip() != region:
        inner = region.strip()
        return (
            f"{inner!r} with leading or trailing whitespace (region ids are matched exactly; "
            "quote the value or remove the spaces)"
        )
    if region.lower() != region:
        return f"region ids are lower-case: {region.lower()!r}" + (
            "" if region.lower() == want else " would still be outside Hong Kong"
        )
    for other, other_region in HK_REGION.items():
        if other != cloud and region == other_region:
            return (
                f"`{region}` is {_CLOUD_NAMES[other]}'s id; {_CLOUD_NAMES[cloud]}'s Hong Kong "
                f"region is `{want}`"
            )
    return f"outside Hong Kong ({_CLOUD_NAMES[cloud]}'s Hong Kong region is `{want}`)"


def read_stack(
    config: Mapping[str, object],
    now: dt.datetime | None = None,
    *,
    secret_keys: Collection[str] | None = None,
    exemptions: Mapping[str, Exemption] | None = None,
    migration_phase_rules: bool = True,
    stack: str | None = None,
    attestations: Mapping[str, AttestationOnFile] | None = None,
) -> StackSpec:
    """Validate full-key stack config (``{"hkmail:domains": [...], "tencentcloud:region": ...}``).

    Raises :class:`hkmail.errors.SpecErrors` listing every problem. ``now`` (default: the
    clock) is when a migration phase would be applied. ``secret_keys`` (the keys the CLI marks
    secret) lets plain-text secrets be refused; ``exemptions`` (policies/exemptions.yaml as the
    policy pack's module validated it) and ``stack`` (the stack's name) let cross-border exemption
    ids be checked: on file, not expired, approved for this stack.
    ``attestations`` (policies/attestations.yaml as the pack's module validated it) lets the
    hkmail:mailFlows attestation ids be checked: on file, in date, for the system declared and
    scoped to this stack.
    ``migration_phase_rules=False`` checks the migration settings but not whether the phase is
    safe to apply now (scripts/migrate plan reports that itself).
    """
    r = _Reader()
    misplaced = _misplaced_keys(r, config)
    if not misplaced and not any(key.startswith("hkmail:") for key in config):
        raise_all(
            [
                SpecError(
                    "config",
                    None,
                    "a top-level `config:` mapping in the stack file holding hkmail:dnsProvider, "
                    "hkmail:domains and the cloud's region (see stacks/ for examples)",
                    "the stack has no hkmail:* configuration at all: its stack file has no "
                    "`config:` section, or the keys are not indented under it",
                )
            ]
        )
    for key in config:
        namespace, _, name = key.partition(":")
        if namespace == "hkmail" and name not in KNOWN_KEYS:
            r.fail(key, config[key], ", ".join(f"hkmail:{k}" for k in KNOWN_KEYS), "unknown key")

    dns_provider = r.choice("hkmail:dnsProvider", config.get("hkmail:dnsProvider"), DNS_PROVIDERS)
    dns_plan = "free"
    if dns_provider is not None:
        plans = tuple(TTL_FLOOR[dns_provider])
        dns_plan = r.choice("hkmail:dnsPlan", config.get("hkmail:dnsPlan"), plans, "free") or "free"

    server = (
        _read_private_server(r, config.get("hkmail:privateServer"))
        if config.get("hkmail:privateServer") is not None
        else None
    )
    if server is not None:
        # Reported, but the server is still read: its domain's records depend on it.
        for secret in PRIVATE_SECRETS:
            if config.get(f"hkmail:{secret}") is None:
                r.fail(
                    f"hkmail:{secret}",
                    None,
                    f"a secret: pulumi config set --secret hkmail:{secret}",
                    "hkmail:privateServer needs it",
                )
        if server.notify is not None:
            key = f"hkmail:{NOTIFY_SECRET}"
            if config.get(key) is None:
                r.fail(
                    key,
                    None,
                    f"a secret: pulumi config set --secret {key} "
                    '\'{"<target>": {"url": "https://...", "secret": "..."}}\'',
                    "hkmail:privateServer.notify needs its webhooks",
                )
            else:
                if secret_keys is not None and key not in secret_keys:
                    r.fail(key, "[not shown]", f"a secret: pulumi config set --secret {key}",
                           "webhook URLs and signing secrets are credentials")  # fmt: skip
                check_webhooks(r, config[key], server.notify)
    elif config.get(f"hkmail:{NOTIFY_SECRET}") is not None:
        r.fail(f"hkmail:{NOTIFY_SECRET}", "[secret]", "only with hkmail:privateServer.notify")
    domains_raw = config.get("hkmail:domains")
    if not domains_raw:
        r.fail("hkmail:domains", domains_raw, "a non-empty list of mail domains")
    server_invalid = server is None and config.get("hkmail:privateServer") is not None
    domains = r.each(
        "hkmail:domains",
        domains_raw,
        lambda p, v: _read_domain(r, p, v, dns_provider, dns_plan, server, server_invalid),
    )
    seen: set[str] = set()
    for i, d in enumerate(domains):
        if d.name in seen:
            r.fail(f"hkmail:domains[{i}].name", d.name, "each domain once", "duplicate domain")
        seen.add(d.name)

    if server is not None and not any(d.server for d in domains):
        r.fail(
            "hkmail:privateServer.domain",
            server.domain,
            "a domain of hkmail:domains with mail.suite: private",
        )
    migration = (
        read_migration(
            r,
            config["hkmail:migration"],
            domains,
            dns_provider,
            dns_plan,
            now,
            phase_rules=migration_phase_rules,
        )
        if config.get("hkmail:migration") is not None
        else None
    )
    clouds: set[Cloud] = set()
    if server is not None:
        clouds.add(server.cloud)
    if dns_provider is not None:
        clouds.add(DNS_CLOUD[dns_provider])
    if any(isinstance(s, TencentSesSender) for d in domains for s in d.senders):
        clouds.add("tencentcloud")
    regions: dict[Cloud, str] = {}
    for cloud in sorted(clouds):
        key = f"{cloud}:region"
        region = config.get(key)
        if region != HK_REGION[cloud]:
            r.fail(key, region, HK_REGION[cloud], region_problem(cloud, region))
        else:
            regions[cloud] = region
    hk_now = (now or dt.datetime.now(dt.UTC)).astimezone(dt.timezone(dt.timedelta(hours=8)))
    mail_flows = (
        read_mail_flows(r, config["hkmail:mailFlows"], domains, domains_raw)
        if config.get("hkmail:mailFlows") is not None
        else ()
    )
    if attestations is not None:
        r.errors += attestations_on_file(mail_flows, attestations, hk_now.date(), stack)
    if exemptions is not None:
        r.errors += flow_exemptions_on_file(mail_flows, exemptions, hk_now.date(), stack)
    r.errors += stack_checks(
        config,
        domains,
        server,
        secret_keys=secret_keys,
        exemptions=exemptions,
        today=hk_now.date(),
        stack=stack,
    )
    # one error per cause: a key under the wrong namespace is not also "missing"
    raise_all(
        e
        for e in r.errors
        if not (e.value is None and e.field.partition(".")[0] in misplaced)
        and not (misplaced and e.field == "hkmail:dnsPlan" and "hkmail:dnsProvider" in misplaced)
    )
    assert dns_provider is not None  # raise_all reported it otherwise
    return StackSpec(
        private_server=server,
        dns_provider=dns_provider,
        dns_plan=dns_plan,
        regions=regions,
        domains=domains,
        clouds=frozenset(clouds),
        migration=migration,
        mail_flows=mail_flows,
    )
