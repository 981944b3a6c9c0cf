"""Mail authentication strictness, read from the DNS record resources (DNSPod, Alidns)."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date

from ..controls import MAIL_AUTH
from ..model import Context, Finding, Resource, Rule, violation
from ..values import Leaf, first


@dataclass(frozen=True)
class RecordShape:
    type: str
    name: str
    domain: str
    value: str
    remark: str | None  # where a dated DMARC ramp may be declared on the record itself


# Type token -> the input names of record type, host name (relative), zone and value.
RECORD_SHAPES = {
    "tencentcloud:Dnspod/record:Record": RecordShape(
        "recordType", "subDomain", "domain", "value", "remark"
    ),
    "alicloud:dns/alidnsRecord:AlidnsRecord": RecordShape(
        "type", "rr", "domainName", "value", "remark"
    ),
    "alicloud:dns/record:Record": RecordShape("type", "hostRecord", "name", "value", None),
}


@dataclass(frozen=True)
class Txt:
    host: str  # relative name, e.g. "_dmarc" or "s1._domainkey"
    domain: str
    text: str  # quoted strings joined, as a resolver would assemble them
    leaf: Leaf
    remark: str


TXT_TYPES = ("TXT", "SPF")


def _txt(resource: Resource) -> Txt | None:
    shape = RECORD_SHAPES.get(resource.type)
    if shape is None:
        return None
    rtype, value = first(resource.props, shape.type), first(resource.props, shape.value)
    # the legacy SPF RR type (RFC 7208 3.1 deprecates it) carries the same text
    if rtype is None or not isinstance(rtype.value, str) or rtype.value.upper() not in TXT_TYPES:
        return None
    if value is None or value.unknown or not isinstance(value.value, str):
        return None  # a value computed at apply time is checked by the gate under mocks
    host, domain = first(resource.props, shape.name), first(resource.props, shape.domain)
    raw = value.value.strip()
    parts = re.findall(r'"((?:[^"\\]|\\.)*)"', raw)
    text = "".join(parts) if parts and raw.startswith('"') else raw
    remark = first(resource.props, shape.remark) if shape.remark else None
    return Txt(
        str(host.value) if host is not None and isinstance(host.value, str) else "@",
        str(domain.value) if domain is not None and isinstance(domain.value, str) else "",
        text,
        value,
        str(remark.value) if remark is not None and isinstance(remark.value, str) else "",
    )


def _tags(text: str) -> dict[str, str]:
    tags: dict[str, str] = {}
    for part in text.split(";"):
        if "=" in part:
            k, v = part.split("=", 1)
            tags.setdefault(k.strip().lower(), v.strip())
    return tags


# --- DKIM -----------------------------------------------------------------------------------

RSA_OID = bytes.fromhex("2a864886f70d010101")


def _der(data: bytes, i: int) -> tuple[int, bytes, int]:
    """One DER TLV at i: (tag, contents, index after it)."""
    tag, length = data[i], data[i + 1]
    i += 2
    if length & 0x80:
        n = length & 0x7F
        length = int.from_bytes(data[i : i + n], "big")
        i += n
    if i + length > len(data):
        raise ValueError("truncated DER")
    return tag, data[i : i + length], i + length


def rsa_modulus_bits(der: bytes) -> int:
    """Modulus size of a DER RSA public key: SubjectPublicKeyInfo (what DKIM p= holds) or a
    bare PKCS#1 RSAPublicKey (which some signers publish)."""
    tag, body, _ = _der(der, 0)
    if tag != 0x30:
        raise ValueError("not a DER SEQUENCE")
    tag, first_el, nxt = _der(body, 0)
    if tag == 0x30:  # SubjectPublicKeyInfo: AlgorithmIdentifier, BIT STRING(RSAPublicKey)
        _, oid, _ = _der(first_el, 0)
        if oid != RSA_OID:
            raise ValueError("the key is not an RSA key")
        tag, bits, _ = _der(body, nxt)
        if tag != 0x03:
            raise ValueError("no BIT STRING")
        tag, body, _ = _der(bits[1:], 0)
        tag, first_el, _ = _der(body, 0)
    if tag != 0x02:
        raise ValueError("no modulus INTEGER")
    return int.from_bytes(first_el, "big").bit_length()


def _dkim_problem(tags: dict[str, str], min_bits: int) -> str | None:
    key_type = tags.get("k", "rsa").lower()
    p = re.sub(r"\s+", "", tags.get("p", ""))
    if not p:
        return None  # an empty p= revokes the selector (RFC 6376 3.6.1)
    try:
        raw = base64.b64decode(p, validate=True)
    except (binascii.Error, ValueError):
        return "p= is not valid base64"
    if key_type == "ed25519":
        return None if len(raw) == 32 else f"ed25519 key is {len(raw)} bytes, not 32"
    if key_type != "rsa":
        return f"unsupported key type k={key_type}"
    try:
        bits = rsa_modulus_bits(raw)
    except (ValueError, IndexError) as e:
        return f"p= is not a DER RSA public key ({e})"
    return None if bits >= min_bits else f"RSA key is {bits} bits"


def check_dkim(resource: Resource, ctx: Context) -> Iterable[Finding]:
    txt = _txt(resource)
    if txt is None:
        return
    is_dkim = "_domainkey" in txt.host.lower() or txt.text.lower().startswith("v=dkim1")
    if not is_dkim:
        return
    min_bits = int(ctx.config.get("minRsaBits", 2048))
    problem = _dkim_problem(_tags(txt.text), min_bits)
    if problem:
        yield violation(
            resource, txt.leaf, f"DKIM key at {txt.host}: {problem}",
            f"RSA of at least {min_bits} bits or k=ed25519",
        )  # fmt: skip


# --- SPF ------------------------------------------------------------------------------------


def check_spf(resource: Resource, ctx: Context) -> Iterable[Finding]:
    txt = _txt(resource)
    if txt is None or not re.match(r"(?i)^v=spf1(\s|$)", txt.text):
        return
    terms = txt.text.split()[1:]
    alls = [t for t in terms if re.fullmatch(r"(?i)[-~?+]?all", t)]
    if not alls:
        why = "no final all mechanism"
        if any(t.lower().startswith("redirect=") for t in terms):
            why += " (redirect= hands the verdict to another domain's record)"
        yield violation(resource, txt.leaf, why, "a final '-all' or '~all'")
    elif terms[-1] != alls[0] or alls[0][0] not in "-~":
        yield violation(
            resource, txt.leaf, f"the record ends with '{terms[-1]}'", "a final '-all' or '~all'"
        )


# --- DMARC ----------------------------------------------------------------------------------


def _dmarc_domain(txt: Txt) -> str:
    sub = txt.host[len("_dmarc") :].lstrip(".")
    return f"{sub}.{txt.domain}" if sub else txt.domain


RAMP_REMARK = re.compile(r"dmarc-ramp-until=(\d{4}-\d{2}-\d{2})")


def _ramp(domain: str, remark: str, ctx: Context) -> tuple[date | None, str]:
    """The ramp end date: the pack config's noneRampUntil wins over the record's remark."""
    ramps = ctx.config.get("noneRampUntil", {})
    value = ramps.get(domain) if isinstance(ramps, dict) else None
    declared = RAMP_REMARK.search(remark)
    if value is None and declared is not None:
        value = declared.group(1)
    if value is None:
        return None, f"no ramp date for {domain} (noneRampUntil or remark dmarc-ramp-until=)"
    try:
        until = date.fromisoformat(str(value))
    except ValueError:
        return None, f"ramp date {value!r} is not a date"
    max_days = int(ctx.config.get("maxRampDays", 180))
    if until < ctx.today:
        return None, f"the p=none ramp for {domain} ended on {until.isoformat()}"
    if (until - ctx.today).days > max_days:
        return None, f"ramp date {until.isoformat()} is more than {max_days} days away"
    return until, ""


def _dmarc_problems(tags: dict[str, str], domain: str, remark: str, ctx: Context) -> Iterator[str]:
    for tag in ("p", "sp"):
        if tag == "sp" and tag not in tags:
            continue
        value = tags.get(tag, "").lower()
        if value in ("quarantine", "reject"):
            continue
        if value == "none":
            until, why = _ramp(domain, remark, ctx)
            if until is None:
                yield f"{tag}=none without a valid ramp ({why})"
        else:
            yield f"{tag}={value or '(missing)'}"


def check_dmarc(resource: Resource, ctx: Context) -> Iterable[Finding]:
    txt = _txt(resource)
    if txt is None or not txt.host.lower().startswith("_dmarc"):
        return
    if not txt.text.lower().startswith("v=dmarc1"):
        return
    domain = _dmarc_domain(txt)
    for problem in _dmarc_problems(_tags(txt.text), domain, txt.remark, ctx):
        yield violation(
            resource,
            txt.leaf,
            f"DMARC for {domain}: {problem}",
            "p=quarantine or p=reject; p=none only until a ramp date (noneRampUntil config "
            "or record remark dmarc-ramp-until=YYYY-MM-DD) at most maxRampDays ahead",
        )


RFC_DKIM = "RFC-6376-8301-8463"
# ISO 5.14 (information transfer) covers electronic messaging since the 2022 edition.
MAIL_CONTROLS = MAIL_AUTH
RULES = (
    Rule(
        id="mailauth-dkim-key-strength",
        title="DKIM keys of at least 2048 bits",
        description="DKIM TXT records publish an RSA key of at least 2048 bits (measured from "
        "the decoded p= key) or an Ed25519 key.",
        severity="high",
        enforcement="mandatory",
        remediation="Generate a 2048-bit RSA (or Ed25519, alongside RSA) selector in the mail "
        "console or with opendkim-genkey -b 2048, publish it, then retire the short key.",
        controls=(RFC_DKIM, *MAIL_CONTROLS, "ISO27001-A.8.24"),
        check=check_dkim,
        types=tuple(RECORD_SHAPES),
        config_schema={
            "minRsaBits": {
                "type": "integer",
                "minimum": 1024,
                "default": 2048,
                "description": "Smallest RSA modulus accepted.",
            },
        },
    ),
    Rule(
        id="mailauth-spf-strict",
        title="SPF ends with -all or ~all",
        description="SPF records end with '-all' (fail) or '~all' (softfail); '?all', '+all', "
        "a missing all or a redirect= are not accepted.",
        severity="medium",
        enforcement="mandatory",
        remediation="End the SPF record with -all (or ~all while DMARC is ramping).",
        controls=("RFC-7208", *MAIL_CONTROLS),
        check=check_spf,
        types=tuple(RECORD_SHAPES),
    ),
    Rule(
        id="mailauth-dmarc-enforced",
        title="DMARC enforced (or a dated ramp)",
        description="DMARC records set p=quarantine or p=reject (and sp= likewise when present); "
        "p=none is accepted only with a dated ramp: a date in this rule's noneRampUntil config "
        "for the domain, or 'dmarc-ramp-until=YYYY-MM-DD' in the DNS record's remark (the config "
        "wins), that has not passed and is at most maxRampDays ahead.",
        severity="medium",
        enforcement="mandatory",
        remediation="Set p=quarantine or p=reject; while monitoring a new domain, declare the "
        "end of the ramp: remark='dmarc-ramp-until=YYYY-MM-DD' on the _dmarc record, or "
        '"noneRampUntil": {"example.com": "YYYY-MM-DD"} in the policy pack config.',
        controls=("RFC-7489", *MAIL_CONTROLS),
        check=check_dmarc,
        types=tuple(RECORD_SHAPES),
        config_schema={
            "noneRampUntil": {
                "type": "object",
                "additionalProperties": {"type": "string", "format": "date"},
                "default": {},
                "description": "Domain -> last day (YYYY-MM-DD) p=none is accepted.",
            },
            "maxRampDays": {
                "type": "integer",
                "minimum": 1,
                "default": 180,
                "description": "Longest ramp accepted from today.",
            },
        },
    ),
)
