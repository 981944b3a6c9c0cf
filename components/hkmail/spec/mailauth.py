"""A domain's mail-authentication and transport-security records as the stack declares them:
SPF, DKIM, DMARC, MTA-STS and TLS-RPT (the keys spf, dkim, dmarc, mtaSts, tlsRpt of a domain).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import ipaddress
import re
from dataclasses import dataclass
from typing import Final, Literal

from hkmail.spec.reader import _Reader

DmarcPolicy = Literal["none", "quarantine", "reject"]
Alignment = Literal["r", "s"]
MtaStsMode = Literal["enforce", "testing", "none"]
SpfAll = Literal["-all", "~all"]
KeyType = Literal["rsa", "ed25519"]
DMARC_POLICIES: Final[tuple[DmarcPolicy, ...]] = ("none", "quarantine", "reject")
ALIGNMENTS: Final[tuple[Alignment, ...]] = ("r", "s")
MTA_STS_MODES: Final[tuple[MtaStsMode, ...]] = ("enforce", "testing", "none")
SPF_ALLS: Final[tuple[SpfAll, ...]] = ("-all", "~all")
KEY_TYPES: Final[tuple[KeyType, ...]] = ("rsa", "ed25519")


@dataclass(frozen=True)
class SpfSpec:
    include: tuple[str, ...] = ()
    ip4: tuple[str, ...] = ()
    ip6: tuple[str, ...] = ()
    a: bool = False
    mx: bool = False
    all: Literal["-all", "~all"] = "-all"


@dataclass(frozen=True)
class DkimKey:
    selector: str
    key_type: Literal["rsa", "ed25519"]
    public_key: str  # base64 of the p= tag: SubjectPublicKeyInfo DER (rsa) or 32 raw bytes
    bits: int  # RSA modulus size, or 256 for ed25519


@dataclass(frozen=True)
class DmarcSpec:
    policy: Literal["none", "quarantine", "reject"]
    subdomain_policy: Literal["none", "quarantine", "reject"] | None = None
    pct: int = 100
    rua: tuple[str, ...] = ()  # mailto: URIs
    ruf: tuple[str, ...] = ()
    adkim: Literal["r", "s"] = "r"
    aspf: Literal["r", "s"] = "r"
    # p=none is a monitoring phase, declared with the date by which it must be raised.
    ramp_until: dt.date | None = None


@dataclass(frozen=True)
class PolicyHost:
    """Where mta-sts.<domain> points: a CNAME target or IPv4 addresses."""

    cname: str | None = None
    ipv4: tuple[str, ...] = ()


@dataclass(frozen=True)
class MtaStsSpec:
    mode: Literal["enforce", "testing", "none"]
    max_age: int = 604800
    policy_host: PolicyHost | None = None


@dataclass(frozen=True)
class TlsRptSpec:
    rua: tuple[str, ...]  # mailto: or https: URIs


def _read_spf(r: _Reader, path: str, raw: object) -> SpfSpec:
    if raw is None:
        return SpfSpec()
    m = r.mapping(path, raw, ("include", "ip4", "ip6", "a", "mx", "all"))
    if m is None:
        return SpfSpec()
    include = r.each(
        f"{path}.include",
        m.get("include"),
        lambda p, v: r.hostname(p, v, min_labels=2, underscore=True),
    )
    ip4 = r.each(f"{path}.ip4", m.get("ip4"), lambda p, v: _read_network(r, p, v, 4))
    ip6 = r.each(f"{path}.ip6", m.get("ip6"), lambda p, v: _read_network(r, p, v, 6))
    all_ = r.choice(f"{path}.all", m.get("all"), SPF_ALLS, "-all") or "-all"
    return SpfSpec(
        include=include,
        ip4=ip4,
        ip6=ip6,
        a=r.boolean(f"{path}.a", m.get("a"), False),
        mx=r.boolean(f"{path}.mx", m.get("mx"), False),
        all=all_,
    )


def _read_network(r: _Reader, path: str, raw: object, version: int) -> str | None:
    try:
        net = ipaddress.ip_network(str(raw), strict=True)
    except ValueError:
        net = None
    if net is None or net.version != version or not isinstance(raw, str):
        r.fail(path, raw, f"an IPv{version} address or network in CIDR form (host bits zero)")
        return None
    # A single address is written without its /32 or /128, as RFC 7208 examples do.
    return str(net.network_address) if net.num_addresses == 1 else str(net)


def _read_dkim(r: _Reader, path: str, raw: object) -> DkimKey | None:
    m = r.mapping(path, raw, ("selector", "publicKey", "keyType"))
    if m is None:
        return None
    selector = r.hostname(f"{path}.selector", m.get("selector"))
    key_type = r.choice(f"{path}.keyType", m.get("keyType"), KEY_TYPES, "rsa")
    key_raw = m.get("publicKey")
    if isinstance(key_raw, str) and "p=" in key_raw:
        # Consoles hand out the whole record ("v=DKIM1; k=rsa; p=MIIB..."): take its p= tag.
        tags = dict(t.strip().split("=", 1) for t in key_raw.split(";") if "=" in t)
        key_raw = tags.get("p", "")
    if not isinstance(key_raw, str):
        r.fail(f"{path}.publicKey", key_raw, "the base64 public key (the p= tag of the record)")
        return None
    public_key = re.sub(r"\s+", "", key_raw)
    bits = dkim_key_bits(public_key, key_type or "rsa")
    if isinstance(bits, str):
        r.fail(f"{path}.publicKey", _abbrev(public_key), f"a {key_type} public key", bits)
        return None
    if selector is None or key_type is None:
        return None
    return DkimKey(selector=selector, key_type=key_type, public_key=public_key, bits=bits)


def dkim_key_bits(public_key: str, key_type: str) -> int | str:
    """Key size in bits, or the reason the key is unusable (RFC 6376, 8301, 8463)."""
    try:
        der = base64.b64decode(public_key, validate=True)
    except (binascii.Error, ValueError):
        return "not base64"
    if key_type == "ed25519":
        return 256 if len(der) == 32 else f"an ed25519 key is 32 bytes, this is {len(der)}"
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import load_der_public_key

    try:
        key = load_der_public_key(der)
    except (ValueError, UnsupportedAlgorithm):
        return "not a DER SubjectPublicKeyInfo (the p= value of an RSA DKIM record)"
    if not isinstance(key, rsa.RSAPublicKey):
        return "not an RSA key"
    if key.key_size < 1024:
        return f"{key.key_size}-bit RSA; RFC 8301 requires at least 1024, 2048 recommended"
    return key.key_size


def _abbrev(text: str) -> str:
    return text if len(text) <= 24 else f"{text[:12]}...{text[-8:]}"


def _read_dmarc(r: _Reader, path: str, raw: object) -> DmarcSpec | None:
    keys = ("policy", "subdomainPolicy", "pct", "rua", "ruf", "adkim", "aspf", "rampUntil")
    m = r.mapping(path, raw, keys)
    if m is None:
        return None
    policies = DMARC_POLICIES
    policy = r.choice(f"{path}.policy", m.get("policy"), policies)
    sp = (
        r.choice(f"{path}.subdomainPolicy", m.get("subdomainPolicy"), policies)
        if m.get("subdomainPolicy") is not None
        else None
    )
    pct = r.integer(f"{path}.pct", m.get("pct"), 0, 100, default=100)
    rua = r.each(f"{path}.rua", m.get("rua"), r.mailto)
    ruf = r.each(f"{path}.ruf", m.get("ruf"), r.mailto)
    adkim = r.choice(f"{path}.adkim", m.get("adkim"), ALIGNMENTS, "r")
    aspf = r.choice(f"{path}.aspf", m.get("aspf"), ALIGNMENTS, "r")
    ramp = r.date(f"{path}.rampUntil", m.get("rampUntil"))
    if policy is None or pct is None or adkim is None or aspf is None:
        return None
    return DmarcSpec(
        policy=policy,
        subdomain_policy=sp,
        pct=pct,
        rua=rua,
        ruf=ruf,
        adkim=adkim,
        aspf=aspf,
        ramp_until=ramp,
    )


def _read_mta_sts(r: _Reader, path: str, raw: object) -> MtaStsSpec | None:
    m = r.mapping(path, raw, ("mode", "maxAge", "policyHost"))
    if m is None:
        return None
    mode = r.choice(f"{path}.mode", m.get("mode"), MTA_STS_MODES)
    # RFC 8461 3.2: max_age up to 31557600 seconds (about one year).
    max_age = r.integer(f"{path}.maxAge", m.get("maxAge"), 86400, 31557600, default=604800)
    host: PolicyHost | None = None
    if m.get("policyHost") is not None:
        h = r.mapping(f"{path}.policyHost", m.get("policyHost"), ("cname", "ipv4"))
        if h is not None:
            cname = (
                r.hostname(f"{path}.policyHost.cname", h.get("cname"), min_labels=2)
                if h.get("cname") is not None
                else None
            )
            ipv4 = r.each(
                f"{path}.policyHost.ipv4", h.get("ipv4"), lambda p, v: _read_address(r, p, v)
            )
            if (cname is None) == (not ipv4):
                r.fail(f"{path}.policyHost", dict(h), "exactly one of cname or ipv4")
            host = PolicyHost(cname=cname, ipv4=ipv4)
    if mode is None or max_age is None:
        return None
    return MtaStsSpec(mode=mode, max_age=max_age, policy_host=host)


def _read_address(r: _Reader, path: str, raw: object) -> str | None:
    try:
        if isinstance(raw, str):
            return str(ipaddress.IPv4Address(raw))
    except ValueError:
        pass
    r.fail(path, raw, "an IPv4 address (e.g. 203.0.113.10)")
    return None


def _read_tls_rpt(r: _Reader, path: str, raw: object) -> TlsRptSpec | None:
    if raw is None:
        return None
    m = r.mapping(path, raw, ("rua",))
    if m is None:
        return None

    def read_uri(p: str, v: object) -> str | None:
        if isinstance(v, str) and v.startswith("https://") and " " not in v and "," not in v:
            return v
        if isinstance(v, str) and v.startswith("https:"):
            r.fail(p, v, "an https:// URL without spaces or commas")
            return None
        return r.mailto(p, v)

    rua = r.each(f"{path}.rua", m.get("rua"), read_uri)
    if not rua:
        r.fail(f"{path}.rua", m.get("rua"), "at least one mailto: or https: report destination")
        return None
    return TlsRptSpec(rua=rua)
