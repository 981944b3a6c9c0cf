"""Provider-neutral DNS records, each one parsed by dnspython before anything else sees it."""

from __future__ import annotations

from dataclasses import dataclass, field

import dns.exception
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.TXT

from hkmail.errors import RecordError

# RFC 1035 3.3.14: one character-string is at most 255 octets.
MAX_TXT_STRING = 255


@dataclass(frozen=True)
class Record:
    """One resource record of a zone.

    ``name`` is relative to the zone ("@" for the apex), ``value`` is the RDATA in master-file
    syntax. Construction parses the value with ``dns.rdata.from_text``: a record that exists is a
    record that a DNS server would accept.
    """

    zone: str
    name: str
    rdtype: str
    value: str
    ttl: int
    purpose: str  # what the record is for, e.g. "spf", "dkim:s1"; used in plans and resource names
    # Published as the provider record's remark; reviewers and the policy pack read it (e.g. the
    # end date of a DMARC p=none ramp). Not part of DNS.
    remark: str = field(default="", compare=False)
    rdata: dns.rdata.Rdata = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        origin = dns.name.from_text(self.zone)
        try:
            rdtype = dns.rdatatype.from_text(self.rdtype)
            parsed = dns.rdata.from_text(
                dns.rdataclass.IN, rdtype, self.value, origin=origin, relativize=False
            )
            owner = self.owner  # validates the owner name too
        except (dns.exception.DNSException, ValueError) as exc:
            raise RecordError(
                f"{self.purpose} record {self.name} {self.rdtype} {self.value!r} for zone "
                f"{self.zone} is malformed: {exc}"
            ) from exc
        if not owner.is_subdomain(origin):
            raise RecordError(f"{self.purpose} record {owner} is outside zone {self.zone}")
        object.__setattr__(self, "rdata", parsed)

    @property
    def owner(self) -> dns.name.Name:
        origin = dns.name.from_text(self.zone)
        return origin if self.name == "@" else dns.name.from_text(self.name, origin=origin)

    @property
    def fqdn(self) -> str:
        return self.owner.to_text(omit_final_dot=True)

    def to_text(self) -> str:
        """One master-file line, absolute owner name."""
        return f"{self.owner.to_text()} {self.ttl} IN {self.rdtype} {self.rdata.to_text()}"

    @property
    def txt(self) -> str:
        """The concatenated text of a TXT record (what a verifier reads)."""
        if not isinstance(self.rdata, dns.rdtypes.ANY.TXT.TXT):
            raise TypeError(f"{self.purpose} is {self.rdtype}, not TXT")
        return b"".join(self.rdata.strings).decode()


@dataclass(frozen=True)
class DeferredRecord:
    """A record whose value only the cloud knows once a resource exists (e.g. SES's DKIM key).

    The provider component creates it from the resource's output and validates it then.
    """

    zone: str
    name: str
    rdtype: str
    ttl: int
    purpose: str
    source: str  # which output supplies the value, e.g. "tencent-ses:dkim"
    sending_domain: str


@dataclass(frozen=True)
class RecordSet:
    """Everything one mail domain publishes, plus what a person must do outside this stack."""

    zone: str
    records: tuple[Record, ...]
    deferred: tuple[DeferredRecord, ...] = ()
    notes: tuple[str, ...] = ()
    # Domains outside this zone that receive its DMARC reports and must authorise that.
    report_destinations: tuple[str, ...] = ()


def txt_value(text: str) -> str:
    """Master-file RDATA for a TXT record: quoted strings of at most 255 octets (RFC 1035, RFC 6376
    3.6.2.2 for DKIM keys longer than one string)."""
    data = text.encode("ascii")
    chunks = [data[i : i + MAX_TXT_STRING] for i in range(0, len(data), MAX_TXT_STRING)] or [b""]
    return " ".join(
        '"' + c.decode().replace("\\", "\\\\").replace('"', '\\"') + '"' for c in chunks
    )


def txt_record(zone: str, name: str, text: str, ttl: int, purpose: str, remark: str = "") -> Record:
    try:
        value = txt_value(text)
    except UnicodeEncodeError as exc:
        raise RecordError(f"{purpose} record {name} must be ASCII: {text!r}") from exc
    return Record(zone, name, "TXT", value, ttl, purpose, remark)


def absolute(host: str) -> str:
    """Host names in RDATA are written absolute so that no origin can be appended to them."""
    return host if host.endswith(".") else host + "."
