"""RFC 1035 master files: what a plan would publish, read back from the provider resources.

The zone export starts from the planned DNSPod/Alidns record resources, not from the record model,
so it shows (and the tests check, on a real DNS server) what the providers would be asked for.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
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


def planned_records(
    resources: Iterable[_Resource],
) -> dict[str, tuple[str, list[Record], list[str]]]:
    """zone -> (provider, records, resources whose value is not known until apply)."""
    zones: dict[str, tuple[str, list[Record], list[str]]] = {}
    for res in resources:
        profile = _BY_RECORD_TYPE.get(res.type)
        if profile is None:
            continue
        zone = res.inputs.get(camel(profile.zone_field), res.inputs.get(profile.zone_field))
        if not isinstance(zone, str):
            continue
        entry = zones.setdefault(zone, (profile.name, [], []))
        if isinstance(res.inputs.get("value"), str):
            entry[1].append(profile.from_inputs(zone, res.inputs))
        else:
            entry[2].append(res.name)
    return zones


def zone_text(
    zone: str, records: Sequence[Record], provider: str, pending: Sequence[str] = ()
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
    header += [f"; not yet known (value comes from the cloud at apply): {p}" for p in pending]
    return (
        "\n".join(header)
        + "\n$ORIGIN "
        + origin.to_text()
        + "\n"
        + z.to_text(relativize=False, want_comments=False)
    )


def zone_files(plan: _Plan) -> dict[str, str]:
    """domain -> master file text, for every zone the plan would write records into."""
    return {
        zone: zone_text(zone, records, provider, pending)
        for zone, (provider, records, pending) in sorted(planned_records(plan.resources).items())
    }
