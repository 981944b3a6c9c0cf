"""How each DNS provider spells a record: one small, symmetric interface per provider.

``to_inputs`` turns a provider-neutral :class:`Record` into the provider resource's inputs;
``from_inputs`` reads those inputs back into a :class:`Record` (the zone export of a plan and the
tests use it, so what a provider resource would create is checked as DNS, not as strings).
Differences between the providers live here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

import dns.rdtypes.ANY.CAA
import dns.rdtypes.ANY.MX
import dns.rdtypes.IN.SRV

from hkmail.errors import ProviderLimitError
from hkmail.records.base import Record, txt_value

DNSPOD_DEFAULT_LINE: Final = "默认"  # DNSPod's "default" resolution line
ALIDNS_DEFAULT_LINE: Final = "default"
# Alidns keeps a TXT value under 512 bytes (DESIGN.md, "Mail DNS").
ALIDNS_MAX_TXT: Final = 511


class DnsProviderProfile(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def supported_types(self) -> frozenset[str]: ...

    def to_inputs(self, record: Record) -> dict[str, Any]: ...

    def txt_inputs(self, zone: str, name: str, ttl: int, value: Any) -> dict[str, Any]:
        """Inputs of a TXT record whose value is only known later (a Pulumi output)."""
        ...

    def from_inputs(self, zone: str, inputs: Mapping[str, Any]) -> Record: ...


def _plain_value(record: Record, *, trailing_dot: bool) -> tuple[str, int | None]:
    """(value, mx priority) as both consoles write them: TXT unquoted, MX priority separate."""
    rd = record.rdata
    if isinstance(rd, dns.rdtypes.ANY.MX.MX):
        return rd.exchange.to_text(omit_final_dot=not trailing_dot), rd.preference
    if record.rdtype == "TXT":
        return record.txt, None
    if record.rdtype == "CNAME":
        text = rd.to_text()
        return (text if trailing_dot else text.rstrip(".")), None
    if isinstance(rd, dns.rdtypes.IN.SRV.SRV):
        target = rd.target.to_text(omit_final_dot=not trailing_dot)
        if rd.target.to_text() == ".":
            target = "."
        return f"{rd.priority} {rd.weight} {rd.port} {target}", None
    if isinstance(rd, dns.rdtypes.ANY.CAA.CAA):
        return rd.to_text(), None
    return rd.to_text(), None


def _record_from(
    zone: str, name: str, rdtype: str, value: str, ttl: int, mx: int | None, purpose: str
) -> Record:
    rdtype = rdtype.upper()
    if rdtype == "TXT":
        rdata = txt_value(value)
    elif rdtype == "MX":
        # Numbers come back from the engine as floats (protobuf Struct numbers).
        rdata = f"{int(mx) if mx is not None else ''} {_absolute(value)}"
    elif rdtype == "CNAME":
        rdata = _absolute(value)
    elif rdtype == "SRV":
        prio, weight, port, target = value.split()
        rdata = f"{prio} {weight} {port} {_absolute(target)}"
    else:
        rdata = value
    return Record(zone, name or "@", rdtype, rdata, int(ttl), purpose)


def _absolute(host: str) -> str:
    return host if host.endswith(".") else host + "."


@dataclass(frozen=True)
class Dnspod:
    name: str = "dnspod"
    cloud: str = "tencentcloud"
    record_type_token: str = "tencentcloud:Dnspod/record:Record"
    domain_type_token: str = "tencentcloud:Dnspod/domainInstance:DomainInstance"
    supported_types: frozenset[str] = frozenset({"A", "AAAA", "CNAME", "MX", "TXT", "SRV", "CAA"})

    def to_inputs(self, record: Record) -> dict[str, Any]:
        _check_supported(self, record)
        value, mx = _plain_value(record, trailing_dot=True)
        inputs: dict[str, Any] = {
            "domain": record.zone,
            "sub_domain": record.name,
            "record_type": record.rdtype,
            "record_line": DNSPOD_DEFAULT_LINE,
            "value": value,
            "ttl": record.ttl,
        }
        if record.remark:
            inputs["remark"] = record.remark
        if mx is not None:
            _check_mx(self.name, record, mx, 1, 20)
            inputs["mx"] = mx
        return inputs

    def txt_inputs(self, zone: str, name: str, ttl: int, value: Any) -> dict[str, Any]:
        return {
            "domain": zone,
            "sub_domain": name,
            "record_type": "TXT",
            "record_line": DNSPOD_DEFAULT_LINE,
            "value": value,
            "ttl": ttl,
        }

    def from_inputs(self, zone: str, inputs: Mapping[str, Any]) -> Record:
        return _record_from(
            zone,
            inputs.get("subDomain", inputs.get("sub_domain", "@")),
            inputs.get("recordType", inputs.get("record_type", "")),
            inputs["value"],
            int(inputs.get("ttl", 600)),
            inputs.get("mx"),
            "planned",
        )


@dataclass(frozen=True)
class Alidns:
    name: str = "alidns"
    cloud: str = "alicloud"
    record_type_token: str = "alicloud:dns/alidnsRecord:AlidnsRecord"
    domain_type_token: str = "alicloud:dns/alidnsDomain:AlidnsDomain"
    # Alidns has no TLSA (DESIGN.md).
    supported_types: frozenset[str] = frozenset({"A", "AAAA", "CNAME", "MX", "TXT", "SRV", "CAA"})

    def to_inputs(self, record: Record) -> dict[str, Any]:
        _check_supported(self, record)
        # Alidns treats MX/CNAME/SRV values as absolute names and wants no trailing dot.
        value, mx = _plain_value(record, trailing_dot=False)
        if record.rdtype == "TXT" and len(value.encode()) > ALIDNS_MAX_TXT:
            raise ProviderLimitError(
                f"{record.purpose} record {record.fqdn} is {len(value.encode())} bytes; Alidns "
                f"holds TXT values under 512 bytes (a 4096-bit DKIM key does not fit: use 2048-bit "
                "RSA or ed25519)"
            )
        inputs: dict[str, Any] = {
            "domain_name": record.zone,
            "rr": record.name,
            "type": record.rdtype,
            "value": value,
            "ttl": record.ttl,
            "line": ALIDNS_DEFAULT_LINE,
        }
        if record.remark:
            inputs["remark"] = record.remark
        if mx is not None:
            _check_mx(self.name, record, mx, 1, 50)
            inputs["priority"] = mx
        return inputs

    def txt_inputs(self, zone: str, name: str, ttl: int, value: Any) -> dict[str, Any]:
        return {
            "domain_name": zone,
            "rr": name,
            "type": "TXT",
            "value": value,
            "ttl": ttl,
            "line": ALIDNS_DEFAULT_LINE,
        }

    def from_inputs(self, zone: str, inputs: Mapping[str, Any]) -> Record:
        return _record_from(
            zone,
            inputs.get("rr", "@"),
            inputs.get("type", ""),
            inputs["value"],
            int(inputs.get("ttl", 600)),
            inputs.get("priority"),
            "planned",
        )


def _check_mx(provider: str, record: Record, priority: int, low: int, high: int) -> None:
    if not low <= priority <= high:
        raise ProviderLimitError(
            f"{provider} MX priority must be {low}-{high}; {record.fqdn} MX has {priority}"
        )


def is_null_mx(record: Record) -> bool:
    rd = record.rdata
    return isinstance(rd, dns.rdtypes.ANY.MX.MX) and rd.exchange.to_text() == "."


@dataclass(frozen=True)
class ProviderRecord:
    """One record as the provider resource will be created."""

    resource_name: str
    inputs: dict[str, Any]
    record: Record


def provider_records(
    profile: DnsProviderProfile, records: Sequence[Record]
) -> tuple[list[ProviderRecord], list[str]]:
    """The provider resources for ``records``, and warnings for what the provider cannot hold.

    Neither DNSPod (MX priority 1-20) nor Alidns (1-50) accepts preference 0, so the RFC 7505 null
    MX cannot be published there; the domain still publishes SPF -all and DMARC reject, and the
    plan says so instead of failing the whole stack.
    """
    out: list[ProviderRecord] = []
    warnings: list[str] = []
    for record in records:
        if is_null_mx(record):
            warnings.append(
                f"{record.fqdn}: {profile.name} cannot publish the RFC 7505 null MX '0 .' (its MX "
                "priority must be at least 1); the domain is protected by SPF -all and DMARC "
                "p=reject only, and senders may try its A/AAAA record (RFC 5321 5.1)"
            )
            continue
        out.append(ProviderRecord(resource_name(record), profile.to_inputs(record), record))
    names = [p.resource_name for p in out]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ProviderLimitError(f"{profile.name}: several records share {', '.join(duplicates)}")
    return out, warnings


def _check_supported(profile: DnsProviderProfile, record: Record) -> None:
    if record.rdtype not in profile.supported_types:
        raise ProviderLimitError(
            f"{profile.name} cannot hold {record.rdtype} records ({record.fqdn}); supported: "
            + ", ".join(sorted(profile.supported_types))
        )


DNSPOD: Final = Dnspod()
ALIDNS: Final = Alidns()
PROFILES: Final[Mapping[str, Dnspod | Alidns]] = {"dnspod": DNSPOD, "alidns": ALIDNS}


def resource_name(record: Record) -> str:
    """A stable Pulumi name: one per owner and type, plus what tells apart several records of a
    type at one name (MX host, CAA tag and value, address), so reordering or re-prioritising
    updates records instead of replacing them."""
    base = f"{record.zone}/{record.name}/{record.rdtype}"
    rd = record.rdata
    if isinstance(rd, dns.rdtypes.ANY.MX.MX):
        return f"{base}/{rd.exchange.to_text(omit_final_dot=True) or '.'}"
    if isinstance(rd, dns.rdtypes.ANY.CAA.CAA):
        return f"{base}/{rd.tag.decode()}/{rd.value.decode()}"
    if record.rdtype in ("A", "AAAA"):
        return f"{base}/{rd.to_text()}"
    return base
