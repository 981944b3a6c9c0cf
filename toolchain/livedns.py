"""Live DNS from first principles: delegations from the parent, answers from each authoritative
server asked directly, and a small iterative resolver for names outside the zones we check.

Nothing here trusts a recursive resolver's cache unless the user names one (``--resolver``): the
point of live verification is to see what every authoritative server hands out right now.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset

# IANA root servers (a, b, c, d, e, f, k, m; https://www.iana.org/domains/root/servers).
ROOT_SERVERS: tuple[str, ...] = (
    "198.41.0.4",
    "170.247.170.2",
    "192.33.4.12",
    "199.7.91.13",
    "192.203.230.10",
    "192.5.5.241",
    "193.0.14.129",
    "202.12.27.33",
)
MAX_STEPS = 30


class DnsUnavailable(Exception):
    """No server that should answer did (timeouts, refusals): nothing could be judged."""


@dataclass(frozen=True)
class Endpoint:
    address: str
    port: int

    def __str__(self) -> str:
        return (
            f"[{self.address}]:{self.port}"
            if ":" in self.address
            else self.address + (f":{self.port}" if self.port != 53 else "")
        )


def parse_endpoint(text: str, default_port: int = 53) -> Endpoint:
    """``ADDR``, ``ADDR:PORT`` or ``[V6]:PORT``."""
    text = text.strip()
    if text.startswith("["):
        addr, _, rest = text[1:].partition("]")
        return Endpoint(addr, int(rest[1:]) if rest.startswith(":") else default_port)
    if text.count(":") == 1:
        addr, _, port = text.partition(":")
        return Endpoint(addr, int(port))
    return Endpoint(text, default_port)


@dataclass(frozen=True)
class Delegation:
    """What the parent zone says about ``zone``: its name servers and their addresses."""

    zone: str
    parent: str
    nameservers: tuple[str, ...]
    addresses: dict[str, tuple[str, ...]] = field(default_factory=dict, compare=False)


@dataclass
class Dns:
    """Queries with UDP (TCP when truncated); referrals followed from ``roots``.

    ``port`` is the port of every server found by referral (53 on the Internet; tests run all
    their servers on one loopback port). ``resolver``, when given, answers lookups of names
    outside the checked zones instead of the iterative walk.
    """

    roots: Sequence[Endpoint] = tuple(Endpoint(a, 53) for a in ROOT_SERVERS)
    port: int = 53
    timeout: float = 4.0
    resolver: Endpoint | None = None
    queries: int = 0
    _cuts: dict[str, list[Endpoint]] = field(default_factory=dict)

    # -- one query ---------------------------------------------------------------------------

    def ask(
        self, server: Endpoint, name: str, rdtype: str, *, recursion: bool = False
    ) -> dns.message.Message:
        query = dns.message.make_query(name, rdtype, use_edns=0, payload=1232)
        if not recursion:
            query.flags &= ~dns.flags.RD
        self.queries += 1
        response, _tcp = dns.query.udp_with_fallback(
            query, server.address, port=server.port, timeout=self.timeout
        )
        return response

    def ask_any(
        self, servers: Sequence[Endpoint], name: str, rdtype: str
    ) -> tuple[Endpoint, dns.message.Message]:
        errors = []
        for server in servers:
            try:
                response = self.ask(server, name, rdtype)
            except (dns.exception.DNSException, OSError) as exc:
                errors.append(f"{server}: {exc or type(exc).__name__}")
                continue
            if response.rcode() in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
                return server, response
            errors.append(f"{server}: {dns.rcode.to_text(response.rcode())}")
        raise DnsUnavailable(
            f"no answer for {name} {rdtype}: " + "; ".join(errors or ["no servers"])
        )

    # -- the iterative walk -------------------------------------------------------------------

    def _start(self, name: dns.name.Name) -> tuple[str, list[Endpoint]]:
        """The deepest known zone cut above ``name`` and its servers."""
        n = name
        while True:
            key = n.to_text()
            if key in self._cuts:
                return key, self._cuts[key]
            if n == dns.name.root:
                return ".", list(self.roots)
            n = n.parent()

    def _referral(
        self, response: dns.message.Message, name: dns.name.Name, current: str
    ) -> tuple[dns.name.Name, list[str], dict[str, list[str]]] | None:
        for rrset in response.authority:
            if rrset.rdtype != dns.rdatatype.NS:
                continue
            owner = rrset.name
            if not name.is_subdomain(owner) or owner == dns.name.from_text(current):
                continue
            if not owner.is_subdomain(dns.name.from_text(current)):
                continue
            hosts = sorted(rd.target.to_text() for rd in rrset)
            glue: dict[str, list[str]] = {}
            for add in response.additional:
                if add.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
                    glue.setdefault(add.name.to_text(), []).extend(rd.address for rd in add)
            return owner, hosts, glue
        return None

    def _addresses(
        self, hosts: Sequence[str], glue: dict[str, list[str]], depth: int
    ) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for host in hosts:
            if glue.get(host):
                out[host] = list(glue[host])
                continue
            if depth > 6:
                continue
            with contextlib.suppress(DnsUnavailable):
                found = self.lookup(host, "A", depth=depth + 1)
                if found:
                    out[host] = found
        return out

    def walk(
        self, name: str, rdtype: str, *, depth: int = 0
    ) -> tuple[dns.message.Message, str, list[Endpoint], Endpoint]:
        """Follow referrals for (name, rdtype) to the servers that answer with authority.

        Returns the final response, the zone those servers serve, the servers and the one asked.
        """
        qname = dns.name.from_text(name)
        zone, servers = self._start(qname)
        for _ in range(MAX_STEPS):
            asked, response = self.ask_any(servers, name, rdtype)
            if response.flags & dns.flags.AA or response.rcode() == dns.rcode.NXDOMAIN:
                return response, zone, servers, asked
            if any(r.name == qname for r in response.answer):
                return response, zone, servers, asked
            ref = self._referral(response, qname, zone)
            if ref is None:
                return response, zone, servers, asked
            owner, hosts, glue = ref
            addrs = self._addresses(hosts, glue, depth)
            next_servers = [Endpoint(a, self.port) for h in hosts for a in addrs.get(h, [])]
            if not next_servers:
                raise DnsUnavailable(
                    f"no address for any name server of {owner} ({', '.join(hosts)})"
                )
            zone, servers = owner.to_text(), next_servers
            self._cuts[zone] = servers
        raise DnsUnavailable(f"too many referrals for {name}")

    def delegation(self, zone: str) -> Delegation:
        """The NS set the parent publishes for ``zone`` (the referral), with addresses."""
        qname = dns.name.from_text(zone)
        current, servers = ".", list(self.roots)
        for _ in range(MAX_STEPS):
            asked, response = self.ask_any(servers, zone, "NS")
            if response.rcode() == dns.rcode.NXDOMAIN:
                raise LookupError(
                    f"{zone} does not exist: the parent zone {current} answers NXDOMAIN"
                )
            ref = self._referral(response, qname, current)
            if ref is None:
                # The parent's servers also serve the zone itself: its NS answer is the delegation.
                ns = (
                    response.find_rrset(response.answer, qname, dns.rdataclass.IN, dns.rdatatype.NS)
                    if response.answer
                    else None
                )
                if ns is None and not response.flags & dns.flags.AA:
                    # neither a referral nor an authoritative answer (a captive or broken
                    # resolver in the way): nothing can be judged about the zone from here
                    raise DnsUnavailable(
                        f"{asked}, a server of {current}, answered {zone} NS with neither a "
                        "referral nor an authoritative answer; no usable DNS from here"
                    )
                if ns is None:
                    raise LookupError(f"{current} has no delegation for {zone}")
                hosts = sorted(rd.target.to_text() for rd in ns)
                glue: dict[str, list[str]] = {}
                for add in response.additional:
                    if add.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
                        glue.setdefault(add.name.to_text(), []).extend(rd.address for rd in add)
                addrs = self._addresses(hosts, glue, 0)
                return Delegation(
                    zone, current, tuple(hosts), {h: tuple(a) for h, a in addrs.items()}
                )
            owner, hosts, glue = ref
            addrs = self._addresses(hosts, glue, 0)
            if owner == qname:
                return Delegation(
                    zone, current, tuple(hosts), {h: tuple(a) for h, a in addrs.items()}
                )
            next_servers = [Endpoint(a, self.port) for h in hosts for a in addrs.get(h, [])]
            if not next_servers:
                raise DnsUnavailable(f"no address for any name server of {owner}")
            current, servers = owner.to_text(), next_servers
            self._cuts[current] = servers
        raise DnsUnavailable(f"too many referrals for {zone}")

    def lookup(self, name: str, rdtype: str, *, depth: int = 0) -> list[str]:
        """Record texts (TXT strings joined), [] for no such name or no data; follows CNAMEs.

        Uses ``resolver`` when one is configured, the iterative walk otherwise.
        """
        target = name
        want = dns.rdatatype.from_text(rdtype)
        for _ in range(8):
            if self.resolver is not None:
                self.queries += 1
                q = dns.message.make_query(target, rdtype, use_edns=0, payload=1232)
                response, _ = dns.query.udp_with_fallback(
                    q, self.resolver.address, port=self.resolver.port, timeout=self.timeout
                )
                if response.rcode() not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
                    raise DnsUnavailable(
                        f"resolver {self.resolver}: {dns.rcode.to_text(response.rcode())}"
                    )
            else:
                response, *_ = self.walk(target, rdtype, depth=depth)
            qname = dns.name.from_text(target)
            if response.rcode() == dns.rcode.NXDOMAIN and not response.answer:
                return []
            found = [r for r in response.answer if r.name == qname and r.rdtype == want]
            if found:
                return [rdata_text(rd) for rd in found[0]]
            cname = [
                r for r in response.answer if r.name == qname and r.rdtype == dns.rdatatype.CNAME
            ]
            if not cname:
                return []
            target = next(iter(cname[0])).target.to_text()
            # a resolver or server may have included the target's answer already
            tname = dns.name.from_text(target)
            chained = [r for r in response.answer if r.name == tname and r.rdtype == want]
            if chained:
                return [rdata_text(rd) for rd in chained[0]]
        raise DnsUnavailable(f"CNAME chain of {name} is too long")


def rdata_text(rd: dns.rdata.Rdata) -> str:
    strings = getattr(rd, "strings", None)
    if strings is not None:
        return b"".join(strings).decode(errors="replace")
    address = getattr(rd, "address", None)
    if isinstance(address, str):
        return address
    return str(rd.to_text())


def answer_rrset(response: dns.message.Message, name: str, rdtype: str) -> dns.rrset.RRset | None:
    qname = dns.name.from_text(name)
    want = dns.rdatatype.from_text(rdtype)
    for rrset in response.answer:
        if rrset.name == qname and rrset.rdtype == want:
            return rrset
    return None
