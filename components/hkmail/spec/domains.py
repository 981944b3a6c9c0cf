"""A mail domain (an entry of hkmail:domains): its mail suite and MX hosts, client endpoints,
CAA, in-zone host addresses, and the reader that assembles a :class:`DomainSpec` from the
sections (mail authentication, sending, private server).
"""

from __future__ import annotations

import dataclasses
import functools
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass

from hkmail.facts import (
    MX_PRIORITY_RANGE,
    TTL_ADVISORY_FLOOR,
    TTL_DEFAULT,
    TTL_FLOOR,
    TTL_MAX,
    DnsProvider,
)
from hkmail.presets import (
    SUITES,
    TENCENT_SES_SPF_INCLUDE,
    AutodiscoverySpec,
    MxHost,
    SrvTarget,
    SuitePreset,
)
from hkmail.spec.mailauth import (
    DkimKey,
    DmarcSpec,
    MtaStsSpec,
    PolicyHost,
    SpfSpec,
    TlsRptSpec,
    _read_dkim,
    _read_dmarc,
    _read_mta_sts,
    _read_spf,
    _read_tls_rpt,
)
from hkmail.spec.private_server import PrivateServerSpec
from hkmail.spec.reader import _Reader, display_name, normalize_hostname
from hkmail.spec.sending import Sender, _read_sender


@dataclass(frozen=True)
class CaaSpec:
    issue: tuple[str, ...] = ()
    issuewild: tuple[str, ...] = ()
    iodef: str | None = None


@dataclass(frozen=True)
class HostAddresses:
    """``hosts: {mx1: [203.0.113.25]}`` under a domain: A/AAAA records of an in-zone host."""

    name: str  # fully qualified, inside the domain
    addresses: tuple[str, ...]


@dataclass(frozen=True)
class DomainSpec:
    name: str
    ttl: int
    suite: SuitePreset
    mx: tuple[MxHost, ...]
    spf: SpfSpec
    dkim: tuple[DkimKey, ...] = ()
    dmarc: DmarcSpec | None = None
    mta_sts: MtaStsSpec | None = None
    tls_rpt: TlsRptSpec | None = None
    autodiscovery: AutodiscoverySpec | None = None
    caa: CaaSpec | None = None
    senders: tuple[Sender, ...] = ()
    server: PrivateServerSpec | None = None
    #: addresses this zone publishes for its own host names (A/AAAA records)
    hosts: tuple[HostAddresses, ...] = ()

    @property
    def display_name(self) -> str:
        return display_name(self.name)

    @property
    def sends_mail(self) -> bool:
        return self.suite.name != "none" or bool(self.senders)

    @property
    def receives_mail(self) -> bool:
        return bool(self.mx)


_DOMAIN_KEYS = (
    "name",
    "ttl",
    "mail",
    "spf",
    "dkim",
    "dmarc",
    "mtaSts",
    "tlsRpt",
    "autodiscovery",
    "caa",
    "sending",
    "hosts",
)


def _read_domain(
    r: _Reader,
    path: str,
    raw: object,
    dns_provider: DnsProvider | None,
    dns_plan: str,
    server: PrivateServerSpec | None = None,
    server_invalid: bool = False,
) -> DomainSpec | None:
    m = r.mapping(path, raw, _DOMAIN_KEYS)
    if m is None:
        return None
    errors_before = len(r.errors)
    name = r.hostname(f"{path}.name", m.get("name"), min_labels=2) or "invalid.example"
    floor = TTL_FLOOR[dns_provider][dns_plan] if dns_provider else 1
    advisory = TTL_ADVISORY_FLOOR[dns_provider][dns_plan] if dns_provider else 1
    ttl = (
        r.integer(f"{path}.ttl", m.get("ttl"), floor, TTL_MAX, default=max(TTL_DEFAULT, advisory))
        or floor
    )

    read_suite, mx = _read_mail(r, f"{path}.mail", m.get("mail"), dns_provider)
    # A suite that could not be read is reported once: what depends on the suite (client
    # endpoints, MTA-STS, "a domain without mail") is not judged against a stand-in.
    unknown_suite = read_suite is None
    suite = read_suite or SUITES["none"]
    spf = _read_spf(r, f"{path}.spf", m.get("spf"))
    dkim = r.each(f"{path}.dkim", m.get("dkim"), lambda p, v: _read_dkim(r, p, v))
    own_server = None
    # A bad hkmail:privateServer is reported once, where it is; the domain that relies on it
    # gets no further errors about what the server would have provided (MX, MTA-STS host).
    waiting_for_server = suite.name == "private" and server_invalid
    if suite.name == "private" and not waiting_for_server:
        # The private server is this domain's MX, client endpoint and MTA-STS host.
        if server is None or server.domain != name:
            r.fail(
                f"{path}.mail.suite",
                "private",
                f"another suite, or hkmail:privateServer with domain: {name}",
                "suite private needs the server that receives the mail",
            )
        else:
            own_server = server
            mx = (MxHost(server.hostname, 10),)
            # Every outbound message leaves through Tencent SES's Hong Kong relay (outbound port
            # 25 is blocked on both clouds), so receivers see SES's addresses: its include, or
            # SPF fails everywhere and DMARC rests on DKIM alone.
            relay = () if TENCENT_SES_SPF_INCLUDE in spf.include else (TENCENT_SES_SPF_INCLUDE,)
            spf = dataclasses.replace(spf, mx=True, include=(*spf.include, *relay))
            if server.dkim_selector not in [k.selector for k in dkim]:
                r.fail(
                    f"{path}.dkim",
                    [k.selector for k in dkim],
                    f"a key with selector {server.dkim_selector}",
                    "the public half of hkmail:dkimPrivateKey must be published",
                )
    selectors = [k.selector for k in dkim]
    for i, sel in enumerate(selectors):
        if selectors.index(sel) != i:
            r.fail(f"{path}.dkim[{i}].selector", sel, "each selector once", "duplicate selector")
    dmarc = _read_dmarc(r, f"{path}.dmarc", m.get("dmarc")) if m.get("dmarc") is not None else None
    mta_sts = (
        _read_mta_sts(r, f"{path}.mtaSts", m.get("mtaSts")) if m.get("mtaSts") is not None else None
    )
    tls_rpt = _read_tls_rpt(r, f"{path}.tlsRpt", m.get("tlsRpt"))
    autodiscovery = (
        None
        if unknown_suite
        else _read_autodiscovery(r, f"{path}.autodiscovery", m.get("autodiscovery"), suite)
    )
    caa = _read_caa(r, f"{path}.caa", m.get("caa"))
    senders: tuple[Sender, ...] = r.each(
        f"{path}.sending", m.get("sending"), functools.partial(_read_sender, r, domain=name)
    )

    if own_server is not None:
        host = own_server.hostname
        if m.get("autodiscovery") is True:
            autodiscovery = AutodiscoverySpec(
                SrvTarget(host, 587), SrvTarget(host, 465), SrvTarget(host, 993)
            )
        if mta_sts is not None and mta_sts.policy_host is None:
            mta_sts = dataclasses.replace(mta_sts, policy_host=PolicyHost(cname=host))
    if (
        mta_sts is not None
        and mta_sts.mode != "none"
        and not mx
        and not waiting_for_server
        and not unknown_suite
    ):
        r.fail(
            f"{path}.mtaSts.mode",
            mta_sts.mode,
            "none (or add MX hosts)",
            "MTA-STS describes the MX hosts and this domain receives no mail",
        )
    if (
        read_suite is not None
        and suite.name == "none"
        and (dkim or mta_sts or tls_rpt or autodiscovery)
        and not senders
    ):
        r.fail(
            f"{path}.mail.suite",
            "none",
            "a mail suite, or remove dkim/mtaSts/tlsRpt/autodiscovery",
            "a domain that sends and receives no mail publishes a null MX, "
            "SPF -all and DMARC reject only (RFC 7505)",
        )
    hosts = _read_hosts(r, f"{path}.hosts", m.get("hosts"), name)
    if len(r.errors) > errors_before or waiting_for_server:
        return None
    return DomainSpec(
        name=name,
        ttl=ttl,
        suite=suite,
        mx=mx,
        spf=spf,
        dkim=dkim,
        dmarc=dmarc,
        mta_sts=mta_sts,
        tls_rpt=tls_rpt,
        autodiscovery=autodiscovery,
        caa=caa,
        senders=senders,
        server=own_server,
        hosts=hosts,
    )


def _read_hosts(r: _Reader, path: str, raw: object, domain: str) -> tuple[HostAddresses, ...]:
    """``hosts: {mx1: [203.0.113.25, "2001:db8::25"]}``: names relative to the domain (or fully
    qualified inside it), each with its IPv4/IPv6 addresses."""
    if raw is None:
        return ()
    if not isinstance(raw, Mapping) or not raw:
        r.fail(path, raw, "a mapping of host name to addresses (e.g. mx1: [203.0.113.25])")
        return ()
    out: list[HostAddresses] = []
    for key, value in raw.items():
        host_path = f"{path}.{key}"
        relative = str(key).strip().rstrip(".")
        if relative.endswith("." + domain) or relative == domain:
            fqdn = normalize_hostname(relative)
        else:
            fqdn = normalize_hostname(f"{relative}.{domain}")
        if fqdn is None or not (fqdn == domain or fqdn.endswith("." + domain)):
            r.fail(host_path, key, f"a host name inside {domain} (e.g. mx1 or mx1.{domain})")
            continue
        addresses: list[str] = []
        for item_path, item in r.items(host_path, value):
            try:
                addresses.append(str(ipaddress.ip_address(str(item).strip())))
            except ValueError:
                r.fail(item_path, item, "an IPv4 or IPv6 address (e.g. 203.0.113.25)")
        if not addresses and not isinstance(value, str):
            r.fail(host_path, value, "a non-empty list of IPv4/IPv6 addresses")
        out.append(HostAddresses(fqdn, tuple(addresses)))
    return tuple(out)


def _read_mail(
    r: _Reader, path: str, raw: object, dns_provider: DnsProvider | None
) -> tuple[SuitePreset | None, tuple[MxHost, ...]]:
    """The suite and its MX hosts; None for a suite that could not be read (reported here)."""
    m = r.mapping(path, raw, ("suite", "mx"))
    if m is None:
        return None, ()
    suite_name = r.choice(f"{path}.suite", m.get("suite"), tuple(SUITES))
    if suite_name is None:
        return None, ()
    suite = SUITES[suite_name]
    if suite.stack_mx:
        before = len(r.errors)
        mx = r.each(f"{path}.mx", m.get("mx"), lambda p, v: _read_mx(r, p, v, dns_provider))
        if len(r.errors) > before:
            return None, ()  # each bad entry is reported where it is; nothing follows from it
        if not mx:
            r.fail(
                f"{path}.mx",
                m.get("mx"),
                "a non-empty list of {host, priority}",
                f"suite {suite_name} needs its MX hosts"
                + (
                    ""
                    if suite_name == "custom"
                    else ": the vendor publishes none, so give the values its console shows"
                ),
            )
            return None, ()  # one cause, one error: nothing that follows from MX is judged
    else:
        if m.get("mx") is not None:
            r.fail(
                f"{path}.mx",
                m.get("mx"),
                "no mx (the preset sets it), or suite custom or alibaba-mail-hk",
                f"suite {suite_name} has fixed MX hosts",
            )
        mx = suite.mx
    return suite, mx


def _read_mx(r: _Reader, path: str, raw: object, dns_provider: DnsProvider | None) -> MxHost | None:
    m = r.mapping(path, raw, ("host", "priority"))
    if m is None:
        return None
    low, high = MX_PRIORITY_RANGE[dns_provider] if dns_provider else (0, 65535)
    host = r.hostname(f"{path}.host", m.get("host"), min_labels=2)
    priority = r.integer(f"{path}.priority", m.get("priority"), low, high)
    if host is None or priority is None:
        return None
    return MxHost(host, priority)


def _read_autodiscovery(
    r: _Reader, path: str, raw: object, suite: SuitePreset
) -> AutodiscoverySpec | None:
    if raw is None or raw is False:
        return None
    if raw is True:
        if suite.name == "private":
            return None  # the private server's hostname, filled in once it is known
        if suite.autodiscovery is None:
            r.fail(
                path,
                raw,
                "a mapping of submission/submissions/imaps to {host, port}",
                f"suite {suite.name} has no preset client endpoints",
            )
        return suite.autodiscovery
    m = r.mapping(path, raw, ("submission", "submissions", "imaps"))
    if m is None:
        return None

    def target(key: str) -> SrvTarget | None:
        v = m.get(key)
        if v is None:
            return None
        t = r.mapping(f"{path}.{key}", v, ("host", "port"))
        if t is None:
            return None
        host = r.hostname(f"{path}.{key}.host", t.get("host"), min_labels=2)
        port = r.integer(
            f"{path}.{key}.port",
            t.get("port"),
            1,
            65535,
            default={"submission": 587, "submissions": 465, "imaps": 993}[key],
        )
        return SrvTarget(host, port) if host and port else None

    found = AutodiscoverySpec(
        submission=target("submission"), submissions=target("submissions"), imaps=target("imaps")
    )
    if found == AutodiscoverySpec():
        r.fail(path, dict(m), "at least one of submission, submissions, imaps")
    return found


def _read_caa(r: _Reader, path: str, raw: object) -> CaaSpec | None:
    if raw is None:
        return None
    m = r.mapping(path, raw, ("issue", "issuewild", "iodef"))
    if m is None:
        return None
    issue = r.each(f"{path}.issue", m.get("issue"), lambda p, v: r.hostname(p, v, min_labels=2))
    issuewild = r.each(
        f"{path}.issuewild", m.get("issuewild"), lambda p, v: r.hostname(p, v, min_labels=2)
    )
    iodef_raw = m.get("iodef")
    iodef = None
    if iodef_raw is not None:
        if isinstance(iodef_raw, str) and iodef_raw.startswith("https://"):
            iodef = iodef_raw
        else:
            iodef = r.mailto(f"{path}.iodef", iodef_raw)
    if not issue and not issuewild:
        r.fail(f"{path}.issue", m.get("issue"), "at least one CA domain (e.g. letsencrypt.org)")
    return CaaSpec(issue=issue, issuewild=issuewild, iodef=iodef)
