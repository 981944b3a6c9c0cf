"""How each DNS provider spells a record: one small, symmetric interface per provider.

``to_inputs`` turns a provider-neutral :class:`Record` into the provider resource's inputs;
``from_inputs`` reads those inputs back into a :class:`Record` (the zone export of a plan and the
tests use it, so what a provider resource would create is checked as DNS, not as strings).
Differences between the providers live here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import dns.rdtypes.ANY.CAA
import dns.rdtypes.ANY.MX
import dns.rdtypes.IN.SRV

from hkmail.errors import ProviderLimitError
from hkmail.facts import DEFAULT_LINE, MAX_TXT, MX_PRIORITY_RANGE, RECORD_TYPES
from hkmail.records.base import Record, txt_value

DNSPOD_DEFAULT_LINE: Final = DEFAULT_LINE["dnspod"]  # DNSPod's "default" resolution line
ALIDNS_DEFAULT_LINE: Final = DEFAULT_LINE["alidns"]


@dataclass(frozen=True)
class DnsProviderProfile:
    """Everything that differs between DNS providers, as data."""

    name: str
    record_type_token: str
    domain_type_token: str
    # Input names of the record resource (Python SDK spelling; the engine sees camelCase).
    zone_field: str
    name_field: str
    type_field: str
    priority_field: str
    line_field: str
    default_line: str
    # Whether MX/CNAME/SRV targets are written with the trailing dot.
    trailing_dot: bool
    mx_priority: tuple[int, int]
    max_txt: int | None = None  # longest TXT value in bytes, if the provider limits it
    supported_types: frozenset[str] = RECORD_TYPES

    def to_inputs(self, record: Record) -> dict[str, Any]:
        if record.rdtype not in self.supported_types:
            raise ProviderLimitError(
                f"{self.name} cannot hold {record.rdtype} records ({record.fqdn}); supported: "
                + ", ".join(sorted(self.supported_types))
            )
        value, mx = _plain_value(record, trailing_dot=self.trailing_dot)
        if self.max_txt is not None and record.rdtype == "TXT" and len(value) > self.max_txt:
            raise ProviderLimitError(
                f"{record.purpose} record {record.fqdn} is {len(value)} bytes; {self.name} holds "
                f"TXT values under {self.max_txt + 1} bytes (a 4096-bit DKIM key does not fit: "
                "use 2048-bit RSA or ed25519)"
            )
        inputs = self._base(record.zone, record.name, record.rdtype, value, record.ttl)
        if record.remark:
            inputs["remark"] = record.remark
        if mx is not None:
            low, high = self.mx_priority
            if not low <= mx <= high:
                raise ProviderLimitError(
                    f"{self.name} MX priority must be {low}-{high}; {record.fqdn} MX has {mx}"
                )
            inputs[self.priority_field] = mx
        return inputs

    def deferred_inputs(
        self, zone: str, name: str, rdtype: str, ttl: int, value: Any
    ) -> dict[str, Any]:
        """Inputs of a TXT or A record whose value is only known later (a Pulumi output)."""
        return self._base(zone, name, rdtype, value, ttl)

    def _base(self, zone: str, name: str, rdtype: str, value: Any, ttl: int) -> dict[str, Any]:
        return {
            self.zone_field: zone,
            self.name_field: name,
            self.type_field: rdtype,
            self.line_field: self.default_line,
            "value": value,
            "ttl": ttl,
        }

    def from_inputs(self, zone: str, inputs: Mapping[str, Any]) -> Record:
        """The record a resource with these inputs would publish (snake_case or camelCase)."""

        def get(field: str, default: Any = None) -> Any:
            return inputs.get(field, inputs.get(camel(field), default))

        return _record_from(
            zone,
            get(self.name_field, "@"),
            get(self.type_field, ""),
            inputs["value"],
            get("ttl", 600),
            get(self.priority_field),
            "planned",
        )


def camel(snake: str) -> str:
    first, *rest = snake.split("_")
    return first + "".join(w.capitalize() for w in rest)


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


DNSPOD: Final = DnsProviderProfile(
    name="dnspod",
    record_type_token="tencentcloud:Dnspod/record:Record",
    domain_type_token="tencentcloud:Dnspod/domainInstance:DomainInstance",
    zone_field="domain",
    name_field="sub_domain",
    type_field="record_type",
    priority_field="mx",
    line_field="record_line",
    default_line=DNSPOD_DEFAULT_LINE,
    trailing_dot=True,
    mx_priority=MX_PRIORITY_RANGE["dnspod"],
    max_txt=MAX_TXT["dnspod"],
)
ALIDNS: Final = DnsProviderProfile(
    name="alidns",
    record_type_token="alicloud:dns/alidnsRecord:AlidnsRecord",
    domain_type_token="alicloud:dns/alidnsDomain:AlidnsDomain",
    zone_field="domain_name",
    name_field="rr",
    type_field="type",
    priority_field="priority",
    line_field="line",
    default_line=ALIDNS_DEFAULT_LINE,
    # Alidns treats MX/CNAME/SRV values as absolute names and wants no trailing dot.
    trailing_dot=False,
    mx_priority=MX_PRIORITY_RANGE["alidns"],
    max_txt=MAX_TXT["alidns"],
)
PROFILES: Final[Mapping[str, DnsProviderProfile]] = {"dnspod": DNSPOD, "alidns": ALIDNS}


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

    The RFC 7505 null MX needs MX preference 0, which neither provider can be relied on to keep
    (facts.MX_PRIORITY_RANGE: DNSPod documents 0 only for CreateRecord, not for ModifyRecord or the
    provider; Alidns takes 1-50), so it is not published there; the domain still
    publishes SPF -all and DMARC reject, and the plan says so instead of failing the whole stack.
    """
    out: list[ProviderRecord] = []
    warnings: list[str] = []
    for record in records:
        if is_null_mx(record):
            warnings.append(
                f"{record.fqdn}: {profile.name} cannot publish the RFC 7505 null MX '0 .' (MX "
                "priority 0 is not documented for its record updates or its provider); the "
                "domain is protected by SPF -all and DMARC p=reject only, and senders may try its "
                "A/AAAA record (RFC 5321 5.1)"
            )
            continue
        out.append(ProviderRecord(resource_name(record), profile.to_inputs(record), record))
    names = [p.resource_name for p in out]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ProviderLimitError(f"{profile.name}: several records share {', '.join(duplicates)}")
    return out, warnings


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
