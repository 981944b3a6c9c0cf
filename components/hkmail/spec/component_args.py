"""The components' front door: the same readers as :func:`hkmail.spec.read_stack`, on one
component's args.
"""

from __future__ import annotations

from collections.abc import Mapping

from hkmail.errors import raise_all
from hkmail.facts import (
    DNS_PROVIDERS,
    TTL_FLOOR,
    DnsProvider,
)
from hkmail.spec.domains import DomainSpec, _read_domain
from hkmail.spec.migration import MigrationSpec, read_migration
from hkmail.spec.private_server import PrivateServerSpec, _read_private_server
from hkmail.spec.reader import _Reader


def read_domain_args(
    domain: Mapping[str, object],
    *,
    dns_provider: object,
    dns_plan: object = None,
    private_server: object = None,
    report_sources: object = None,
    path: str = "args",
    subject: str = "component args",
) -> tuple[DomainSpec, tuple[tuple[str, str], ...]]:
    """One mail domain's args (the keys of a ``hkmail:domains`` entry, camelCase), validated by
    the readers of :func:`read_stack`; errors name ``<path>.<field>``. Returns the domain and its
    DMARC report sources as (source domain, destination host) pairs.

    Raises :class:`hkmail.errors.SpecErrors` listing every problem.
    """
    r = _Reader()
    provider = r.choice(f"{path}.dnsProvider", dns_provider, DNS_PROVIDERS)
    plan = "free"
    if provider is not None:
        plans = tuple(TTL_FLOOR[provider])
        plan = r.choice(f"{path}.dnsPlan", dns_plan, plans, "free") or "free"
    server = None
    if private_server is not None:
        raw = (
            {**private_server, "domain": domain.get("name")}
            if isinstance(private_server, Mapping)
            else private_server
        )
        server = _read_private_server(r, raw, f"{path}.privateServer")
    spec = _read_domain(r, path, domain, provider, plan, server)
    if server is not None and spec is not None and spec.server is None:
        r.fail(f"{path}.mail.suite", domain.get("mail"), "private", "privateServer is set")
    sources: list[tuple[str, str]] = []
    for item_path, item in r.items(f"{path}.dmarcReportSources", report_sources):
        m = r.mapping(item_path, item, ("domain", "destination"))
        if m is None:
            continue
        source = r.hostname(f"{item_path}.domain", m.get("domain"), min_labels=2)
        zone = spec.name if spec is not None else ""
        dest = r.hostname(f"{item_path}.destination", m.get("destination", zone), min_labels=2)
        if dest and zone and not (dest == zone or dest.endswith("." + zone)):
            r.fail(f"{item_path}.destination", dest, f"{zone} or a name inside it")
        elif source and dest:
            sources.append((source, dest))
    raise_all(r.errors, subject)
    assert spec is not None  # raise_all reported why otherwise
    return spec, tuple(sources)


def read_private_server_args(
    raw: Mapping[str, object], *, path: str = "args", subject: str = "component args"
) -> PrivateServerSpec:
    """A private server's args (the keys of ``hkmail:privateServer``, camelCase), validated by
    the reader of :func:`read_stack`. Raises :class:`hkmail.errors.SpecErrors`."""
    r = _Reader()
    server = _read_private_server(r, raw, path)
    raise_all(r.errors, subject)
    assert server is not None
    return server


def read_migration_args(
    raw: object,
    domain: DomainSpec,
    *,
    dns_provider: DnsProvider,
    dns_plan: str,
    subject: str = "component args",
) -> MigrationSpec:
    """One domain's hkmail:migration section, validated by the stack's reader (read_migration)."""
    r = _Reader()
    m = read_migration(r, raw, [domain], dns_provider, dns_plan)
    raise_all(r.errors, subject)
    assert m is not None
    return m
