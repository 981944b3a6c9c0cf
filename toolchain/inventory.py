"""``scripts/inventory``: the pre-migration report of the current mail system.

Reads the old system over IMAP (every account's folders, message counts and sizes) and the live
DNS of its domains (MX with the TTL the authoritative servers publish, SPF with its live lookup
cost, DMARC, DKIM at the selectors asked for, MTA-STS, TLS-RPT, client SRV records), and writes
``inventory.md`` and ``inventory.json``. It ends with the ``hkmail:migration.old`` settings the
findings suggest (old MX hosts, MX TTL, SPF sources, IMAP host).

Exit 0 when everything could be read, 1 when an account or a domain could not, 2 on bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dns.exception
import dns.rcode
import dns.rdatatype

from hkmail.errors import RecordError
from hkmail.records import spf as spf_
from toolchain.imapcopy import (
    PRESETS,
    CopyError,
    Passwords,
    Server,
    connect,
    list_folders,
    map_folders,
    parse_server,
    read_accounts,
)
from toolchain.livedns import ROOT_SERVERS, Dns, DnsUnavailable, Endpoint, parse_endpoint

# Selectors tried when none are given: common defaults of mail systems and signing tools.
COMMON_SELECTORS = ("default", "dkim", "mail", "s1", "s2", "selector1", "selector2", "k1")


@dataclass
class FolderInventory:
    name: str
    role: str | None
    maps_to: str
    messages: int
    bytes: int


@dataclass
class AccountInventory:
    user: str
    folders: list[FolderInventory] = field(default_factory=list)
    error: str = ""

    @property
    def messages(self) -> int:
        return sum(f.messages for f in self.folders)

    @property
    def bytes(self) -> int:
        return sum(f.bytes for f in self.folders)


@dataclass
class DomainInventory:
    domain: str
    nameservers: list[str] = field(default_factory=list)
    mx: list[dict[str, Any]] = field(default_factory=list)
    mx_ttl: int | None = None
    spf: str | None = None
    spf_cost: dict[str, Any] | None = None
    dmarc: str | None = None
    dkim: dict[str, str] = field(default_factory=dict)
    mta_sts: str | None = None
    tls_rpt: str | None = None
    srv: dict[str, list[str]] = field(default_factory=dict)
    error: str = ""


def inventory_account(client: Any, user: str) -> AccountInventory:
    inv = AccountInventory(user)
    folders = list_folders(client)
    mapping = map_folders(folders, [])
    for f in folders:
        if not f.selectable:
            continue
        client.select_folder(f.name, readonly=True)
        uids = client.search(["ALL"])
        size = 0
        for i in range(0, len(uids), 1000):
            data = client.fetch(uids[i : i + 1000], [b"RFC822.SIZE"])
            size += sum(int(v.get(b"RFC822.SIZE", 0)) for v in data.values())
        inv.folders.append(FolderInventory(f.name, f.special, mapping[f.name], len(uids), size))
    return inv


def _authoritative(resolver: Dns, domain: str) -> list[Endpoint]:
    delegation = resolver.delegation(domain)
    return [
        Endpoint(a, resolver.port)
        for h in delegation.nameservers
        for a in delegation.addresses.get(h, ())
    ]


def _ask(
    resolver: Dns, servers: Sequence[Endpoint], name: str, rdtype: str
) -> tuple[list[Any], int | None]:
    """Records and TTL as the zone's own servers publish them (not a cache's countdown)."""
    for server in servers:
        try:
            response = resolver.ask(server, name, rdtype)
        except (dns.exception.DNSException, OSError):
            continue
        if response.rcode() not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
            continue
        for rrset in response.answer:
            if rrset.name.to_text() == name.rstrip(
                "."
            ) + "." and rrset.rdtype == dns.rdatatype.from_text(rdtype):
                return list(rrset), rrset.ttl
        return [], None
    raise DnsUnavailable(f"no name server of the zone answered for {name} {rdtype}")


def _txt(rdatas: Sequence[Any], prefix: str) -> str | None:
    for rd in rdatas:
        text = b"".join(rd.strings).decode(errors="replace")
        if text.lower().startswith(prefix.lower()):
            return text
    return None


def inventory_domain(resolver: Dns, domain: str, selectors: Sequence[str]) -> DomainInventory:
    inv = DomainInventory(domain)
    try:
        delegation = resolver.delegation(domain)
        inv.nameservers = [h.rstrip(".") for h in delegation.nameservers]
        servers = _authoritative(resolver, domain)
        mx, ttl = _ask(resolver, servers, domain, "MX")
        inv.mx = sorted(
            ({"host": rd.exchange.to_text().rstrip("."), "priority": rd.preference} for rd in mx),
            key=lambda m: (m["priority"], m["host"]),
        )
        inv.mx_ttl = ttl
        apex, _ = _ask(resolver, servers, domain, "TXT")
        inv.spf = _txt(apex, "v=spf1")
        inv.dmarc = _txt(_ask(resolver, servers, f"_dmarc.{domain}", "TXT")[0], "v=DMARC1")
        inv.mta_sts = _txt(_ask(resolver, servers, f"_mta-sts.{domain}", "TXT")[0], "v=STSv1")
        inv.tls_rpt = _txt(_ask(resolver, servers, f"_smtp._tls.{domain}", "TXT")[0], "v=TLSRPTv1")
        for sel in selectors:
            key = _txt(_ask(resolver, servers, f"{sel}._domainkey.{domain}", "TXT")[0], "v=DKIM1")
            if key is None:
                key = _txt(_ask(resolver, servers, f"{sel}._domainkey.{domain}", "TXT")[0], "k=")
            if key is not None:
                inv.dkim[sel] = key
        for srv in ("_imaps._tcp", "_imap._tcp", "_submission._tcp", "_submissions._tcp"):
            found, _ = _ask(resolver, servers, f"{srv}.{domain}", "SRV")
            if found:
                inv.srv[srv] = [rd.to_text() for rd in found]
        if inv.spf is not None:

            def resolve(name: str, rdtype: str) -> list[str] | None:
                try:
                    return resolver.lookup(name, rdtype)
                except DnsUnavailable:
                    return None

            try:
                cost = spf_.evaluate(domain, resolve)
                inv.spf_cost = {
                    "lookups": cost.lookups,
                    "voidLookups": cost.void_lookups,
                    "unresolved": list(cost.unknown),
                    "withinLimits": cost.within_limits,
                }
            except RecordError as exc:
                inv.spf_cost = {"error": str(exc)}
    except (LookupError, DnsUnavailable) as exc:
        inv.error = str(exc)
    return inv


def suggested_old(domains: Sequence[DomainInventory], source: Server) -> dict[str, Any]:
    """The hkmail:migration.old settings these findings suggest (first domain with MX)."""
    d = next((d for d in domains if d.mx), None)
    if d is None:
        return {}
    spf = spf_.SpfRecord.from_text(d.spf) if d.spf else None
    include = [t.value for t in spf.terms if t.name == "include"] if spf else []
    ip4 = [t.value for t in spf.terms if t.name == "ip4"] if spf else []
    ip6 = [t.value for t in spf.terms if t.name == "ip6"] if spf else []
    out: dict[str, Any] = {
        "mx": d.mx,
        "mxTtl": d.mx_ttl,
        "spf": {k: v for k, v in (("include", include), ("ip4", ip4), ("ip6", ip6)) if v},
        "imap": f"{source.host}:{source.port}",
    }
    return out


def to_json(
    accounts: Sequence[AccountInventory], domains: Sequence[DomainInventory], source: Server
) -> dict[str, Any]:
    return {
        "imap": {"host": source.host, "port": source.port, "security": source.security},
        "totals": {
            "accounts": len(accounts),
            "messages": sum(a.messages for a in accounts),
            "bytes": sum(a.bytes for a in accounts),
        },
        "accounts": [
            {
                "user": a.user,
                "messages": a.messages,
                "bytes": a.bytes,
                "error": a.error or None,
                "folders": [
                    {
                        "name": f.name,
                        "specialUse": f.role,
                        "mapsTo": f.maps_to,
                        "messages": f.messages,
                        "bytes": f.bytes,
                    }
                    for f in a.folders
                ],
            }
            for a in accounts
        ],
        "domains": [
            {
                "domain": d.domain,
                "nameservers": d.nameservers,
                "mx": d.mx,
                "mxTtl": d.mx_ttl,
                "spf": d.spf,
                "spfCost": d.spf_cost,
                "dmarc": d.dmarc,
                "dkim": d.dkim,
                "mtaSts": d.mta_sts,
                "tlsRpt": d.tls_rpt,
                "srv": d.srv,
                "error": d.error or None,
            }
            for d in domains
        ],
        "suggestedMigrationOld": suggested_old(domains, source),
    }


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


def to_markdown(doc: dict[str, Any]) -> str:
    t = doc["totals"]
    lines = [
        "# Pre-migration inventory",
        "",
        f"Old IMAP server {doc['imap']['host']}:{doc['imap']['port']}: {t['accounts']} account(s), "
        f"{t['messages']} messages, {_mb(t['bytes'])}.",
        "",
        "## Mailboxes",
        "",
    ]
    for a in doc["accounts"]:
        lines.append(f"### {a['user']}: {a['messages']} messages, {_mb(a['bytes'])}")
        if a["error"]:
            lines.append(f"Could not be read: {a['error']}")
            continue
        lines += [
            "",
            "| Folder | Special use | Copied to | Messages | Size |",
            "|---|---|---|---:|---:|",
        ]
        for f in a["folders"]:
            lines.append(
                f"| {f['name']} | {f['specialUse'] or ''} | {f['mapsTo']} | {f['messages']} | "
                f"{_mb(f['bytes'])} |"
            )
        lines.append("")
    lines += ["## DNS", ""]
    for d in doc["domains"]:
        lines.append(f"### {d['domain']}")
        if d["error"]:
            lines += [f"Could not be read: {d['error']}", ""]
            continue
        lines.append(f"- name servers: {', '.join(d['nameservers'])}")
        mx = ", ".join(f"{m['priority']} {m['host']}" for m in d["mx"]) or "none"
        lines.append(f"- MX: {mx} (TTL {d['mxTtl']} s)")
        cost = d["spfCost"] or {}
        spf_cost = (
            f" ({cost['lookups']} lookups, {cost['voidLookups']} void)" if "lookups" in cost else ""
        )
        lines.append(f"- SPF: `{d['spf']}`{spf_cost}" if d["spf"] else "- SPF: none")
        lines.append(f"- DMARC: `{d['dmarc']}`" if d["dmarc"] else "- DMARC: none")
        dkim = ", ".join(sorted(d["dkim"])) or "none found at the selectors asked"
        lines.append(f"- DKIM selectors: {dkim}")
        lines.append(f"- MTA-STS: `{d['mtaSts']}`" if d["mtaSts"] else "- MTA-STS: none")
        lines.append(f"- TLS-RPT: `{d['tlsRpt']}`" if d["tlsRpt"] else "- TLS-RPT: none")
        for name, targets in sorted(d["srv"].items()):
            lines.append(f"- {name}: {', '.join(targets)}")
        lines.append("")
    old = doc["suggestedMigrationOld"]
    if old:
        lines += [
            "## Suggested stack settings",
            "",
            "```yaml",
            "hkmail:migration:",
            "  old:",
            "    mx:",
            *(f"      - {{host: {m['host']}, priority: {m['priority']}}}" for m in old["mx"]),
            f"    mxTtl: {old['mxTtl']}",
        ]
        if old["spf"]:
            lines.append("    spf:")
            lines += [f"      {k}: [{', '.join(v)}]" for k, v in old["spf"].items()]
        lines += [f"    imap: {old['imap']}", "```", ""]
    return "\n".join(lines) + "\n"


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="scripts/inventory",
        description="Pre-migration report of the current mail system: mailboxes over IMAP, "
        "mail DNS live. Writes inventory.md and inventory.json.",
    )
    ap.add_argument("--accounts", required=True, help="accounts file (the source users are read)")
    presets = ", ".join(f"{n}:<host>" if host is None else n for n, (host, *_) in PRESETS.items())
    ap.add_argument(
        "--source",
        required=True,
        help=f"old IMAP server: a preset ({presets}) or host[:port]",
    )
    ap.add_argument(
        "--source-security",
        choices=("ssl", "starttls", "none"),
        help="how to reach a host[:port] source (default: ssl on 993, else starttls)",
    )
    ap.add_argument("--source-cafile", help="CA bundle for the IMAP server (default: system CAs)")
    ap.add_argument("--passwords", help="password file (mode 600); else HKMAIL_SOURCE_PASSWORD")
    ap.add_argument("--domain", action="append", default=[], help="mail domain (repeatable)")
    ap.add_argument("--dkim-selector", action="append", default=[], help="DKIM selector to look up")
    ap.add_argument(
        "--root-server",
        action="append",
        metavar="ADDR[:PORT]",
        help="where the DNS delegation walk starts (repeatable; default: the IANA root servers)",
    )
    ap.add_argument(
        "--dns-port",
        type=int,
        default=53,
        help="port of the name servers found by referral (default 53)",
    )
    ap.add_argument(
        "--resolver",
        metavar="ADDR[:PORT]",
        help="a recursive resolver for the live DNS checks (default: resolve iteratively "
        "from the root servers)",
    )
    ap.add_argument(
        "--timeout",
        type=float,
        default=30.0,
        help="seconds for each IMAP operation (DNS queries: at most 5)",
    )
    ap.add_argument("--output-dir", default=".", help="where inventory.md and inventory.json go")
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        accounts = read_accounts(Path(args.accounts))
        passwords = Passwords.load(Path(args.passwords) if args.passwords else None)
        source = parse_server(args.source, args.source_security)
        roots = [parse_endpoint(r, args.dns_port) for r in args.root_server or ROOT_SERVERS]
        resolver = Dns(
            roots=roots,
            port=args.dns_port,
            timeout=min(args.timeout, 5.0),
            resolver=parse_endpoint(args.resolver) if args.resolver else None,
        )
    except (CopyError, OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    results: list[AccountInventory] = []
    for account in accounts:
        try:
            client = connect(
                source,
                account.source,
                passwords.get("source", account.source),
                args.source_cafile,
                args.timeout,
            )
        except CopyError as exc:
            results.append(AccountInventory(account.source, error=str(exc)))
            continue
        try:
            results.append(inventory_account(client, account.source))
        finally:
            client.logout()
    selectors = tuple(dict.fromkeys([*args.dkim_selector, *COMMON_SELECTORS]))
    domains = [inventory_domain(resolver, d.lower().rstrip("."), selectors) for d in args.domain]
    doc = to_json(results, domains, source)
    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "inventory.json").write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    (out / "inventory.md").write_text(to_markdown(doc), encoding="utf-8")
    failed = [a.user for a in results if a.error] + [d.domain for d in domains if d.error]
    t = doc["totals"]
    print(
        f"inventory: {t['accounts']} account(s), {t['messages']} messages, {_mb(t['bytes'])}; "
        f"{len(domains)} domain(s); written to {out / 'inventory.md'} and {out / 'inventory.json'}"
    )
    for name in failed:
        print(f"could not read: {name}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
