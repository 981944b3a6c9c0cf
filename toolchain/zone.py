"""RFC 1035 master files: what a plan would publish, read back from the provider resources.

The zone export starts from the planned DNSPod/Alidns record resources, not from the record model,
so it shows (and the tests check, on a real DNS server) what the providers would be asked for.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.zone

from hkmail.components.dns_providers import PROFILES, DnsProviderProfile, camel
from hkmail.records.base import Record

# The provider's own name servers, which it publishes in the zone's SOA and NS itself. They are
# here only so the exported file loads into any authoritative server.
PROVIDER_NAMESERVERS: Mapping[str, tuple[str, str]] = {
    "dnspod": ("f1g1ns1.dnspod.net.", "f1g1ns2.dnspod.net."),
    "alidns": ("dns1.hichina.com.", "dns2.hichina.com."),
}
_BY_RECORD_TYPE: Mapping[str, DnsProviderProfile] = {
    p.record_type_token: p for p in PROFILES.values()
}


class _Resource(Protocol):
    @property
    def type(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def inputs(self) -> Mapping[str, object]: ...


class _Plan(Protocol):
    @property
    def resources(self) -> Sequence[Any]: ...


@dataclass(frozen=True)
class Pending:
    """A record whose value the cloud hands out at apply (the private server's address)."""

    resource: str  # the resource's name
    owner: str  # absolute owner name, e.g. mail.example.com.hk.
    rdtype: str


@dataclass
class ZonePlan:
    provider: str
    records: list[Record] = field(default_factory=list)
    pending: list[Pending] = field(default_factory=list)
    #: records filled in from a deployed stack's state (``--state``), by resource name
    deployed: list[str] = field(default_factory=list)


def planned_records(
    resources: Iterable[_Resource],
) -> dict[str, tuple[str, list[Record], list[str]]]:
    """zone -> (provider, records, resources whose value is not known until apply)."""
    return {
        zone: (zp.provider, zp.records, [p.resource for p in zp.pending])
        for zone, zp in planned_zones(resources).items()
    }


def planned_zones(
    resources: Iterable[_Resource], deployed: Mapping[str, _Resource] | None = None
) -> dict[str, ZonePlan]:
    """zone -> what the plan publishes in it. ``deployed`` (URN -> resource of a ``pulumi stack
    export``) fills in values that are only known after apply."""
    zones: dict[str, ZonePlan] = {}
    for res in resources:
        profile = _BY_RECORD_TYPE.get(res.type)
        if profile is None:
            continue
        zone = _get(res.inputs, profile.zone_field)
        if not isinstance(zone, str):
            continue
        entry = zones.setdefault(zone, ZonePlan(profile.name))
        if isinstance(res.inputs.get("value"), str):
            entry.records.append(profile.from_inputs(zone, res.inputs))
            continue
        urn = getattr(res, "urn", None)
        live = deployed.get(urn) if deployed is not None and isinstance(urn, str) else None
        if live is not None and isinstance(live.inputs.get("value"), str):
            entry.records.append(profile.from_inputs(zone, live.inputs))
            entry.deployed.append(res.name)
            continue
        name = _get(res.inputs, profile.name_field)
        owner = zone + "." if name in (None, "@") else f"{name}.{zone}."
        entry.pending.append(Pending(res.name, owner, str(_get(res.inputs, profile.type_field))))
    return zones


def _get(inputs: Mapping[str, object], snake: str) -> object:
    return inputs.get(camel(snake), inputs.get(snake))


def zone_text(
    zone: str,
    records: Sequence[Record],
    provider: str,
    pending: Sequence[Pending | str] = (),
    deployed: Sequence[str] = (),
) -> str:
    """A master file holding ``records``, with the provider's SOA and NS so it loads anywhere."""
    origin = dns.name.from_text(zone)
    z = dns.zone.Zone(origin, relativize=False)
    ns1, ns2 = PROVIDER_NAMESERVERS[provider]
    soa_ttl = min((r.ttl for r in records), default=600)
    z.find_rdataset(origin, dns.rdatatype.SOA, create=True).add(
        dns.rdata.from_text(
            dns.rdataclass.IN,
            dns.rdatatype.SOA,
            f"{ns1} hostmaster.{zone}. 1 3600 180 1209600 {soa_ttl}",
        ),
        soa_ttl,
    )
    ns = z.find_rdataset(origin, dns.rdatatype.NS, create=True)
    for host in (ns1, ns2):
        ns.add(dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.NS, host), 86400)
    for record in records:
        rdtype = dns.rdatatype.from_text(record.rdtype)
        z.find_rdataset(record.owner, rdtype, create=True).add(record.rdata, record.ttl)
    header = [f"; zone {zone} as planned on {provider} (SOA and NS are the provider's own)"]
    header += [
        "; NOT YET KNOWN (the cloud assigns it at apply; export with --state after `pulumi up`): "
        + (f"{p.owner} {p.rdtype} ({p.resource})" if isinstance(p, Pending) else p)
        for p in pending
    ]
    header += [f"; from the deployed stack's state: {name}" for name in deployed]
    return (
        "\n".join(header)
        + "\n$ORIGIN "
        + origin.to_text()
        + "\n"
        + z.to_text(relativize=False, want_comments=False)
    )


def dangling_targets(zone: str, text: str, pending: Sequence[Pending] = ()) -> list[str]:
    """In-zone CNAME, MX and SRV targets (the MTA-STS host is a CNAME) that the zone gives no
    address or record: mail or policy fetches to them would fail. Targets whose address is only
    known after apply (``pending``) are not dangling."""
    z = dns.zone.from_text(text, origin=zone, relativize=False, check_origin=True)
    origin = z.origin
    assert origin is not None
    later = {dns.name.from_text(p.owner) for p in pending}
    problems: list[str] = []
    for name, node in z.nodes.items():
        for rdataset in node.rdatasets:
            for rd in rdataset:
                target = getattr(rd, "target", None) or getattr(rd, "exchange", None)
                if target is None or target == dns.name.root or not target.is_subdomain(origin):
                    continue
                if target in later:
                    continue
                node_t = z.get_node(target)
                wanted = (
                    (dns.rdatatype.A, dns.rdatatype.AAAA)
                    if rdataset.rdtype != dns.rdatatype.CNAME
                    else (dns.rdatatype.A, dns.rdatatype.AAAA, dns.rdatatype.CNAME)
                )
                if node_t is None or not any(
                    node_t.get_rdataset(dns.rdataclass.IN, t) for t in wanted
                ):
                    kind = dns.rdatatype.to_text(rdataset.rdtype)
                    problems.append(
                        f"{name.to_text()} {kind} points at {target.to_text()}, which has no "
                        "address in the zone"
                    )
    return problems


def zone_files(plan: _Plan, deployed: Mapping[str, _Resource] | None = None) -> dict[str, str]:
    """domain -> master file text, for every zone the plan would write records into."""
    return {
        zone: zone_text(zone, zp.records, zp.provider, zp.pending, zp.deployed)
        for zone, zp in sorted(planned_zones(plan.resources, deployed).items())
    }
