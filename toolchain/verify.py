"""``scripts/verify``: compare what every authoritative name server serves with the plan.

For each zone the stack writes records into, the planned records come from the program's plan
(:func:`toolchain.zone.planned_records`, the same reading the zone export uses). The zone's name
servers come from the parent's delegation, found by walking referrals from the root; each of them
is then asked directly, for every (owner, type) the plan publishes and for the other record types
we emit at those owners. Differences are reported per name server: a change that reached one
server and not the other shows up as drift on one of them.

Live checks beside the records: the SPF lookup and void-lookup counts of RFC 7208 4.6.4 through
every include (:func:`hkmail.records.spf.evaluate`), and the MTA-STS policy fetched over HTTPS and
held against the ``_mta-sts`` id (RFC 8461).

Exit 0: everything matches. Exit 1: drift or a failed live check. Exit 2: the plan or the DNS
could not be read (the message on stderr says what).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import http.client
import json
import socket
import ssl
import sys
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import dns.exception
import dns.flags
import dns.name
import dns.rcode
import dns.rdatatype

from hkmail.errors import RecordError
from hkmail.records import spf as spf_
from hkmail.records.base import Record
from hkmail.records.migration import records_digest
from hkmail.records.mtasts import POLICY_PATH, MtaStsPolicy
from toolchain.livedns import (
    ROOT_SERVERS,
    Delegation,
    Dns,
    DnsUnavailable,
    Endpoint,
    answer_rrset,
    parse_endpoint,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
FORMATS = ("text", "json", "markdown")
# The record types the mail library emits (records/mail.py); at every planned owner each of them
# is asked for, so an unplanned record of these types there shows as extra.
EMITTED_TYPES = ("MX", "TXT", "CNAME", "A", "AAAA", "SRV", "CAA")
ERROR, WARNING = "error", "warning"


@dataclass(frozen=True)
class Finding:
    zone: str
    check: str  # records | delegation | spf | mta-sts
    kind: str  # missing | extra | different | split | ttl | lame | unreachable | ...
    severity: str  # error | warning
    message: str
    nameserver: str = ""  # "ns1.example.net (192.0.2.1)"
    owner: str = ""
    rdtype: str = ""
    expected: str = ""
    served: str = ""


@dataclass
class ServerReport:
    name: str
    address: str
    serial: int | None = None
    checked: int = 0  # (owner, type) pairs asked
    findings: list[Finding] = field(default_factory=list)


@dataclass
class ZoneReport:
    zone: str
    provider: str
    planned: int
    digest: str
    parent: str = ""
    nameservers: list[ServerReport] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    spf: dict[str, Any] | None = None
    mta_sts: dict[str, Any] | None = None
    findings: list[Finding] = field(default_factory=list)  # zone-level (delegation, spf, sts)

    def all_findings(self) -> list[Finding]:
        return self.findings + [f for s in self.nameservers for f in s.findings]


@dataclass
class VerifyReport:
    stack: str
    project: str
    checked_at: str
    zones: list[ZoneReport]
    queries: int = 0

    @property
    def errors(self) -> list[Finding]:
        return [f for z in self.zones for f in z.all_findings() if f.severity == ERROR]

    @property
    def warnings(self) -> list[Finding]:
        return [f for z in self.zones for f in z.all_findings() if f.severity == WARNING]

    @property
    def exit_code(self) -> int:
        return 1 if self.errors else 0


# ---------------------------------------------------------------------------------------------
# Comparing one name server's answers with the plan
# ---------------------------------------------------------------------------------------------


def _family(rdtype: str, text: str) -> str:
    """TXT records are told apart by their version tag (v=spf1, v=DKIM1, v=DMARC1, ...)."""
    if rdtype != "TXT":
        return rdtype
    head = text.strip('"').split(";")[0].split()[0] if text.strip('"') else ""
    return head.lower() if head.lower().startswith("v=") else "txt"


def _txt_joined(rd: Any) -> str | None:
    strings = getattr(rd, "strings", None)
    return None if strings is None else b"".join(strings).decode(errors="replace")


def compare_rrset(
    zone: str,
    ns: str,
    owner: str,
    rdtype: str,
    planned: Sequence[Record],
    served: Any,  # dns.rrset.RRset | None
) -> list[Finding]:
    out: list[Finding] = []

    def add(kind: str, severity: str, message: str, expected: str = "", got: str = "") -> None:
        out.append(
            Finding(zone, "records", kind, severity, message, ns, owner, rdtype, expected, got)
        )

    want = {r.rdata: r for r in planned}
    have = list(served) if served is not None else []
    if not planned:
        for rd in have:
            add(
                "extra",
                WARNING,
                f"{owner} {rdtype} {rd.to_text()} is served but not in the plan",
                got=rd.to_text(),
            )
        return out
    if not have:
        for r in planned:
            add("missing", ERROR, f"{owner} {rdtype} {r.rdata.to_text()} is missing", r.value)
        return out
    ttl = planned[0].ttl
    if served.ttl != ttl:
        add(
            "ttl",
            ERROR,
            f"{owner} {rdtype} TTL is {served.ttl}, planned {ttl}",
            str(ttl),
            str(served.ttl),
        )
    missing = [r for rd, r in want.items() if rd not in have]
    extra = [rd for rd in have if rd not in want]
    # The same TXT text in different strings: the plan's split (255-octet strings) was not kept.
    for r in list(missing):
        same = next((rd for rd in extra if _txt_joined(rd) == _txt_joined(r.rdata)), None)
        if same is not None and _txt_joined(same) is not None:
            missing.remove(r)
            extra.remove(same)
            add(
                "split",
                ERROR,
                f"{owner} {rdtype} has the planned text split into "
                f"{len(same.strings)} string(s) of {[len(s) for s in same.strings]} octets, "
                f"planned {[len(s) for s in getattr(r.rdata, 'strings', ())]}",
                r.rdata.to_text(),
                same.to_text(),
            )
    # Pair what is left by family (one SPF for another, one DKIM key for another): "different".
    for r in list(missing):
        fam = _family(rdtype, r.rdata.to_text())
        cands = [rd for rd in extra if _family(rdtype, rd.to_text()) == fam]
        mine = [m for m in missing if _family(rdtype, m.rdata.to_text()) == fam]
        if len(cands) == 1 and len(mine) == 1:
            missing.remove(r)
            extra.remove(cands[0])
            add(
                "different",
                ERROR,
                f"{owner} {rdtype} differs: served {cands[0].to_text()}, "
                f"planned {r.rdata.to_text()}",
                r.rdata.to_text(),
                cands[0].to_text(),
            )
    for r in missing:
        add("missing", ERROR, f"{owner} {rdtype} {r.rdata.to_text()} is missing", r.rdata.to_text())
    planned_families = {_family(rdtype, r.rdata.to_text()) for r in planned}
    for rd in extra:
        managed = _family(rdtype, rd.to_text()) in planned_families
        add(
            "extra",
            ERROR if managed else WARNING,
            f"{owner} {rdtype} {rd.to_text()} is served but not planned"
            + ("" if managed else " (not a kind of record this stack manages here)"),
            got=rd.to_text(),
        )
    return out


def check_server(
    resolver: Dns,
    zone: str,
    host: str,
    address: str,
    records: Sequence[Record],
    delegated: Sequence[str] = (),
) -> ServerReport:
    report = ServerReport(host, address)
    server = Endpoint(address, resolver.port)
    label = f"{host.rstrip('.')} ({address})"
    by_owner: dict[str, dict[str, list[Record]]] = {}
    for r in records:
        by_owner.setdefault(r.owner.to_text(), {}).setdefault(r.rdtype, []).append(r)
    try:
        soa = resolver.ask(server, zone, "SOA")
        if not soa.flags & dns.flags.AA or soa.rcode() != dns.rcode.NOERROR:
            report.findings.append(
                Finding(
                    zone,
                    "delegation",
                    "lame",
                    ERROR,
                    f"{label} is delegated {zone} but does not answer for it with authority "
                    f"({dns.rcode.to_text(soa.rcode())})",
                    label,
                )
            )
            return report
        rrset = answer_rrset(soa, zone, "SOA")
        report.serial = int(next(iter(rrset)).serial) if rrset is not None else None
        if delegated:
            apex = answer_rrset(resolver.ask(server, zone, "NS"), zone, "NS")
            served_ns = sorted(rd.to_text() for rd in apex) if apex is not None else []
            if served_ns != sorted(delegated):
                report.findings.append(
                    Finding(
                        zone,
                        "delegation",
                        "ns-mismatch",
                        WARNING,
                        f"{label} serves NS {', '.join(served_ns) or '(none)'} at the apex; the "
                        f"parent delegates to {', '.join(sorted(delegated))}",
                        label,
                        zone,
                        "NS",
                        " ".join(sorted(delegated)),
                        " ".join(served_ns),
                    )
                )
        for owner in sorted(by_owner):
            for rdtype in EMITTED_TYPES:
                planned = by_owner[owner].get(rdtype, [])
                response = resolver.ask(server, owner, rdtype)
                report.checked += 1
                rcode = response.rcode()
                if rcode not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
                    report.findings.append(
                        Finding(
                            zone,
                            "records",
                            "unreachable",
                            ERROR,
                            f"{label} answers {dns.rcode.to_text(rcode)} for {owner} {rdtype}",
                            label,
                            owner,
                            rdtype,
                        )
                    )
                    continue
                served = answer_rrset(response, owner, rdtype)
                report.findings += compare_rrset(zone, label, owner, rdtype, planned, served)
    except (dns.exception.DNSException, OSError) as exc:
        # An IPv6 address this host has no route to says nothing about the zone's data.
        v6_only_here = ":" in address and isinstance(exc, OSError)
        report.findings.append(
            Finding(
                zone,
                "delegation",
                "unreachable",
                WARNING if v6_only_here else ERROR,
                f"{label} did not answer: {exc or type(exc).__name__}"
                + (" (no IPv6 route from here: not checked)" if v6_only_here else ""),
                label,
            )
        )
    return report


# ---------------------------------------------------------------------------------------------
# SPF and MTA-STS, live
# ---------------------------------------------------------------------------------------------


def check_spf(
    resolver: Dns, zone: str, records: Sequence[Record]
) -> tuple[dict[str, Any], list[Finding]]:
    findings: list[Finding] = []

    def resolve(name: str, rdtype: str) -> list[str] | None:
        try:
            return resolver.lookup(name, rdtype)
        except DnsUnavailable:
            return None

    owners = sorted(
        {r.fqdn for r in records if r.rdtype == "TXT" and r.txt.lower().startswith("v=spf1")}
    )
    results: dict[str, Any] = {}
    for owner in owners:
        try:
            cost = spf_.evaluate(owner, resolve)
        except RecordError as exc:
            findings.append(
                Finding(zone, "spf", "invalid", ERROR, f"SPF of {owner}: {exc}", owner=owner)
            )
            continue
        results[owner] = {
            "lookups": cost.lookups,
            "voidLookups": cost.void_lookups,
            "unresolved": list(cost.unknown),
            "chain": list(cost.chain),
            "withinLimits": cost.within_limits,
        }
        if cost.lookups > spf_.MAX_LOOKUPS:
            findings.append(
                Finding(
                    zone,
                    "spf",
                    "lookups",
                    ERROR,
                    f"SPF of {owner} costs {cost.lookups} DNS lookups live; RFC 7208 4.6.4 allows "
                    f"{spf_.MAX_LOOKUPS} (receivers answer permerror)",
                    owner=owner,
                )
            )
        if cost.void_lookups > spf_.MAX_VOID_LOOKUPS:
            findings.append(
                Finding(
                    zone,
                    "spf",
                    "void-lookups",
                    ERROR,
                    f"SPF of {owner} has {cost.void_lookups} void lookups live; RFC 7208 4.6.4 "
                    f"allows {spf_.MAX_VOID_LOOKUPS}",
                    owner=owner,
                )
            )
        if cost.unknown:
            findings.append(
                Finding(
                    zone,
                    "spf",
                    "unresolved",
                    WARNING,
                    f"SPF of {owner}: no answer for {', '.join(cost.unknown)}; their cost is not "
                    "counted",
                    owner=owner,
                )
            )
    return results, findings


def fetch_policy(
    resolver: Dns, domain: str, *, https_port: int, cafile: str | None, timeout: float
) -> tuple[int, str, str]:
    """GET https://mta-sts.<domain>/.well-known/mta-sts.txt (RFC 8461 3.3): the host name is
    resolved live, the certificate must be valid for it, redirects are not followed."""
    host = f"mta-sts.{domain}"
    addresses = resolver.lookup(host, "A")
    if not addresses:
        raise OSError(f"{host} has no address")
    context = ssl.create_default_context(cafile=cafile)
    last: Exception | None = None
    for address in addresses:
        try:
            raw = socket.create_connection((address, https_port), timeout=timeout)
            conn = http.client.HTTPSConnection(host, https_port, timeout=timeout, context=context)
            conn.sock = context.wrap_socket(raw, server_hostname=host)
            try:
                conn.request("GET", POLICY_PATH, headers={"Host": host, "Connection": "close"})
                response = conn.getresponse()
                body = response.read(64 * 1024).decode("utf-8", errors="replace")
                return response.status, response.getheader("Content-Type", ""), body
            finally:
                conn.close()
        except (OSError, http.client.HTTPException) as exc:
            last = exc
    raise OSError(f"https://{host}{POLICY_PATH}: {last}")


def check_mta_sts(
    resolver: Dns,
    zone: str,
    records: Sequence[Record],
    planned_policy: str | None,
    *,
    https_port: int,
    cafile: str | None,
    timeout: float,
) -> tuple[dict[str, Any] | None, list[Finding]]:
    sts = [r for r in records if r.fqdn == f"_mta-sts.{zone}" and r.rdtype == "TXT"]
    if not sts:
        return None, []
    findings: list[Finding] = []

    def fail(kind: str, message: str, severity: str = ERROR) -> None:
        findings.append(Finding(zone, "mta-sts", kind, severity, message, owner=f"mta-sts.{zone}"))

    planned_id = _sts_id(sts[0].txt)
    result: dict[str, Any] = {
        "url": f"https://mta-sts.{zone}{POLICY_PATH}",
        "plannedId": planned_id,
    }
    try:
        served_txt = resolver.lookup(f"_mta-sts.{zone}", "TXT")
    except DnsUnavailable as exc:
        fail("txt", f"_mta-sts.{zone}: {exc}")
        return result, findings
    served_ids = [_sts_id(t) for t in served_txt if t.startswith("v=STSv1")]
    result["servedId"] = served_ids[0] if len(served_ids) == 1 else served_ids
    try:
        status, ctype, body = fetch_policy(
            resolver, zone, https_port=https_port, cafile=cafile, timeout=timeout
        )
    except (OSError, ssl.SSLError, DnsUnavailable) as exc:
        fail("fetch", f"policy could not be fetched: {exc}")
        return result, findings
    result["status"] = status
    if status != 200:
        fail("fetch", f"policy URL answered HTTP {status} (RFC 8461 3.3 needs 200, no redirects)")
        return result, findings
    if ctype.split(";")[0].strip().lower() != "text/plain":
        fail(
            "content-type", f"policy is served as {ctype!r}; RFC 8461 3.2 says text/plain", WARNING
        )
    try:
        policy = MtaStsPolicy.from_text(body)
    except (RecordError, ValueError) as exc:
        fail("policy", f"served policy is invalid: {exc}")
        return result, findings
    result["served"] = {"mode": policy.mode, "mx": list(policy.mx), "maxAge": policy.max_age}
    result["servedPolicyId"] = policy.policy_id
    if planned_policy is not None:
        expected = MtaStsPolicy.from_text(planned_policy)
        result["planned"] = {
            "mode": expected.mode,
            "mx": list(expected.mx),
            "maxAge": expected.max_age,
        }
        if (expected.mode, sorted(expected.mx), expected.max_age) != (
            policy.mode,
            sorted(policy.mx),
            policy.max_age,
        ):
            fail(
                "policy",
                f"served policy (mode {policy.mode}, mx {', '.join(policy.mx)}, max_age "
                f"{policy.max_age}) differs from the planned one (mode {expected.mode}, mx "
                f"{', '.join(expected.mx)}, max_age {expected.max_age})",
            )
    if served_ids and policy.policy_id not in served_ids:
        fail(
            "id",
            f"_mta-sts id {served_ids[0]} is not the id of the policy served ({policy.policy_id}): "
            "senders that cached the old policy will not fetch this one (RFC 8461 3.1)",
        )
    served_mx: list[str] = []
    with contextlib.suppress(DnsUnavailable):
        served_mx = [t.split()[-1].rstrip(".") for t in resolver.lookup(zone, "MX")]
    for host in served_mx:
        if host and not any(_mx_matches(p, host) for p in policy.mx):
            fail(
                "mx",
                f"MX host {host} is not covered by the policy's mx lines ({', '.join(policy.mx)})",
            )
    return result, findings


def _sts_id(text: str) -> str:
    for part in text.split(";"):
        key, _, value = part.strip().partition("=")
        if key == "id":
            return value.strip()
    return ""


def _mx_matches(pattern: str, host: str) -> bool:
    pattern, host = pattern.lower().rstrip("."), host.lower().rstrip(".")
    if pattern.startswith("*."):
        return host.endswith(pattern[1:]) and host.count(".") == pattern.count(".")
    return pattern == host


# ---------------------------------------------------------------------------------------------
# The whole run
# ---------------------------------------------------------------------------------------------


def verify_zones(
    zones: Mapping[str, tuple[str, list[Record], list[str]]],
    resolver: Dns,
    *,
    stack: str = "",
    project: str = "",
    policies: Mapping[str, str | None] | None = None,
    https_port: int = 443,
    cafile: str | None = None,
    timeout: float = 10.0,
) -> VerifyReport:
    report = VerifyReport(stack, project, dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), [])
    for zone, (provider, records, pending) in sorted(zones.items()):
        zr = ZoneReport(
            zone, provider, len(records), records_digest(records), pending=list(pending)
        )
        report.zones.append(zr)
        try:
            delegation = resolver.delegation(zone)
        except LookupError as exc:
            zr.findings.append(Finding(zone, "delegation", "not-delegated", ERROR, str(exc)))
            continue
        zr.parent = delegation.parent
        _check_delegation(zr, delegation)
        for host in delegation.nameservers:
            for address in delegation.addresses.get(host, ()):
                zr.nameservers.append(
                    check_server(resolver, zone, host, address, records, delegation.nameservers)
                )
        serials = {s.serial for s in zr.nameservers if s.serial is not None}
        if len(serials) > 1:
            zr.findings.append(
                Finding(
                    zone,
                    "delegation",
                    "serial",
                    WARNING,
                    "name servers serve different SOA serials ("
                    + ", ".join(f"{s.name.rstrip('.')}: {s.serial}" for s in zr.nameservers)
                    + "): a change has not reached all of them",
                )
            )
        zr.spf, spf_findings = check_spf(resolver, zone, records)
        zr.findings += spf_findings
        zr.mta_sts, sts_findings = check_mta_sts(
            resolver,
            zone,
            records,
            (policies or {}).get(zone),
            https_port=https_port,
            cafile=cafile,
            timeout=timeout,
        )
        zr.findings += sts_findings
    report.queries = resolver.queries
    return report


def _check_delegation(zr: ZoneReport, delegation: Delegation) -> None:
    for host in delegation.nameservers:
        if not delegation.addresses.get(host):
            zr.findings.append(
                Finding(
                    zr.zone,
                    "delegation",
                    "no-address",
                    ERROR,
                    f"name server {host} of {zr.zone} has no address: it cannot be asked",
                )
            )


def planned_from_project(
    project: str, stack: str, timeout: float
) -> tuple[
    dict[str, tuple[str, list[Record], list[str]]], dict[str, str | None], Mapping[str, object]
]:
    from toolchain.engine.run import run_program
    from toolchain.zone import planned_records

    plan = run_program(project, stack, timeout=timeout)
    zones = planned_records(plan.resources)
    policies: dict[str, str | None] = {}
    for zone in zones:
        out = plan.outputs.get(zone)
        if isinstance(out, Mapping) and isinstance(out.get("mtaStsPolicy"), str):
            policies[zone] = str(out["mtaStsPolicy"])
    return zones, policies, plan.config


# ---------------------------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------------------------


def to_json(report: VerifyReport) -> dict[str, Any]:
    return {
        "stack": report.stack,
        "project": report.project,
        "checkedAt": report.checked_at,
        "result": "pass" if report.exit_code == 0 else "drift",
        "errors": len(report.errors),
        "warnings": len(report.warnings),
        "queries": report.queries,
        "zones": [
            {
                "zone": z.zone,
                "provider": z.provider,
                "plannedRecords": z.planned,
                "digest": z.digest,
                "parent": z.parent,
                "notChecked": z.pending,
                "nameservers": [
                    {
                        "name": s.name,
                        "address": s.address,
                        "serial": s.serial,
                        "checked": s.checked,
                        "drift": [_finding(f) for f in s.findings],
                    }
                    for s in z.nameservers
                ],
                "spf": z.spf,
                "mtaSts": z.mta_sts,
                "findings": [_finding(f) for f in z.findings],
            }
            for z in report.zones
        ],
    }


def _finding(f: Finding) -> dict[str, str]:
    return {k: v for k, v in asdict(f).items() if v != ""}


def to_text(report: VerifyReport, *, markdown: bool = False) -> str:
    h1, h2, bullet = ("# ", "## ", "- ") if markdown else ("", "", "  ")
    nested = "  - " if markdown else "    "
    lines = [f"{h1}Live DNS verification of stack {report.stack} ({report.checked_at})", ""]
    for z in report.zones:
        lines.append(f"{h2}{z.zone} ({z.provider}, {z.planned} planned records, digest {z.digest})")
        if z.parent:
            lines.append(
                f"{bullet}delegated from {z.parent} to "
                + ", ".join(f"{s.name.rstrip('.')} ({s.address})" for s in z.nameservers)
            )
        for s in z.nameservers:
            errs = [f for f in s.findings if f.severity == ERROR]
            state = (
                "OK"
                if not s.findings
                else f"{len(errs)} drift, {len(s.findings) - len(errs)} warning(s)"
            )
            lines.append(
                f"{bullet}{s.name.rstrip('.')} ({s.address}) serial {s.serial}: "
                f"{s.checked} lookups, {state}"
            )
            for f in s.findings:
                lines.append(f"{nested}{f.severity.upper()} {f.kind}: {f.message}")
        if z.spf:
            for owner, cost in z.spf.items():
                lines.append(
                    f"{bullet}SPF {owner}: {cost['lookups']} lookups, {cost['voidLookups']} void "
                    f"(limits {spf_.MAX_LOOKUPS}/{spf_.MAX_VOID_LOOKUPS})"
                )
        if z.mta_sts:
            sts = z.mta_sts
            lines.append(
                f"{bullet}MTA-STS {sts['url']}: HTTP {sts.get('status', '-')}, id "
                f"{sts.get('servedId', '-')} (planned {sts['plannedId']})"
            )
        for f in z.findings:
            lines.append(f"{bullet}{f.severity.upper()} {f.check} {f.kind}: {f.message}")
        for p in z.pending:
            lines.append(f"{bullet}not checked (value known only after apply): {p}")
        lines.append("")
    verdict = "PASS" if report.exit_code == 0 else "DRIFT"
    lines.append(
        f"{verdict}: {len(report.errors)} error(s), {len(report.warnings)} warning(s), "
        f"{report.queries} DNS queries."
    )
    return "\n".join(lines) + "\n"


def render(report: VerifyReport, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(to_json(report), indent=2, ensure_ascii=False) + "\n"
    return to_text(report, markdown=fmt == "markdown")


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="scripts/verify",
        description="Ask every authoritative name server of the stack's zones, found from the "
        "parent delegation, for the records the plan publishes; check SPF lookups and the "
        "MTA-STS policy live. Exit 0 match, 1 drift, 2 could not check.",
    )
    ap.add_argument(
        "--stack", required=True, help="stack name, or the path of its Pulumi.<stack>.yaml"
    )
    ap.add_argument("--project", default=str(REPO_ROOT), help="Pulumi project directory")
    ap.add_argument(
        "--format", choices=FORMATS, default="text", help="report format (default text)"
    )
    ap.add_argument("--output", help="write the report to this file instead of standard output")
    ap.add_argument(
        "--root-server",
        action="append",
        metavar="ADDR[:PORT]",
        help="where the delegation walk starts (repeatable; default: the IANA root servers)",
    )
    ap.add_argument(
        "--dns-port",
        type=int,
        default=53,
        help="port of the name servers found by referral (default 53; tests use one loopback port)",
    )
    ap.add_argument(
        "--resolver",
        metavar="ADDR[:PORT]",
        help="a recursive resolver for names outside the stack's zones (SPF includes, the "
        "MTA-STS host); default: resolve them iteratively from the root servers",
    )
    ap.add_argument("--https-port", type=int, default=443, help="port of the MTA-STS policy host")
    ap.add_argument("--cafile", help="CA bundle for the MTA-STS policy host (default: system CAs)")
    ap.add_argument("--timeout", type=float, default=4.0, help="seconds per DNS query")
    ap.add_argument(
        "--program-timeout", type=float, default=600.0, help="seconds the plan may take"
    )
    ap.add_argument(
        "--record",
        action="store_true",
        help="on a pass of a stack in migration phase prepare or sync, write the pass into the "
        "stack file as hkmail:migration.verified (the cut-over requires it)",
    )
    ap.add_argument(
        "--stamp",
        help="on a pass, write a verification stamp (stack, time, zone digests) to this JSON file",
    )
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    from toolchain.engine.model import EngineError
    from toolchain.output import OutputError, check_output
    from toolchain.stackarg import resolve_stack

    try:
        if args.output:
            check_output(args.output)
        args.stack = resolve_stack(args.project, args.stack)
    except (EngineError, OutputError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        zones, policies, config = planned_from_project(
            args.project, args.stack, args.program_timeout
        )
    except EngineError as exc:
        print(f"error: the plan of stack {args.stack} could not be made: {exc}", file=sys.stderr)
        return 2
    if not zones:
        print(f"error: stack {args.stack} plans no DNS records to verify", file=sys.stderr)
        return 2
    try:
        roots = [parse_endpoint(r, args.dns_port) for r in args.root_server or ROOT_SERVERS]
        resolver = Dns(
            roots=roots,
            port=args.dns_port,
            timeout=args.timeout,
            resolver=parse_endpoint(args.resolver) if args.resolver else None,
        )
    except ValueError as exc:
        print(f"error: bad server address: {exc}", file=sys.stderr)
        return 2
    try:
        report = verify_zones(
            zones,
            resolver,
            stack=args.stack,
            project=args.project,
            policies=policies,
            https_port=args.https_port,
            cafile=args.cafile,
            timeout=args.timeout,
        )
    except DnsUnavailable as exc:
        print(f"error: DNS could not be read: {exc}", file=sys.stderr)
        return 2
    text = render(report, args.format)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    if args.stamp and report.exit_code == 0:
        write_stamp(Path(args.stamp), report)
    if args.record:
        if report.exit_code != 0:
            print("not recorded: verification did not pass", file=sys.stderr)
            return report.exit_code
        try:
            line = record_verification(args.project, args.stack, config, report)
        except RecordingError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(f"recorded in the stack file: {line.strip()}", file=sys.stderr)
    return report.exit_code


class RecordingError(Exception):
    pass


def _migration_config(config: Mapping[str, object]) -> dict[str, Any] | None:
    raw = config.get("hkmail:migration")
    if isinstance(raw, str) and raw.startswith("{"):
        raw = json.loads(raw)
    return raw if isinstance(raw, dict) else None


def record_verification(
    project: str, stack: str, config: Mapping[str, object], report: VerifyReport
) -> str:
    """Write ``verified: {at, digest}`` under hkmail:migration in the stack file, keeping every
    other line (and comment) as it is. Returns the line written."""
    import re

    import yaml

    from toolchain.engine.project import load_project

    migration = _migration_config(config)
    if migration is None:
        raise RecordingError(f"stack {stack} has no hkmail:migration to record the pass in")
    if migration.get("phase") not in ("prepare", "sync"):
        raise RecordingError(
            f"hkmail:migration.phase is {migration.get('phase')!r}: a pass is recorded for the "
            "lowered records of phase prepare or sync, before the cut-over"
        )
    domain = str(migration.get("domain", "")).lower().rstrip(".")
    zone = next((z for z in report.zones if z.zone == domain), None)
    if zone is None:
        raise RecordingError(f"hkmail:migration.domain {domain!r} is not a zone of the plan")
    path = load_project(project).stack_file(stack.rsplit("/", 1)[-1])
    original = path.read_text(encoding="utf-8")
    lines = original.splitlines(keepends=True)
    head = next(
        (i for i, line in enumerate(lines) if re.match(r"^\s*hkmail:migration:\s*(#.*)?$", line)),
        None,
    )
    if head is None:
        raise RecordingError(
            f"{path}: hkmail:migration is not a block mapping; add verified by hand"
        )
    indent = len(lines[head]) - len(lines[head].lstrip())
    end, child = head + 1, None
    while end < len(lines):
        text = lines[end]
        if text.strip() and not text.lstrip().startswith("#"):
            here = len(text) - len(text.lstrip())
            if here <= indent:
                break
            child = child if child is not None else here
        end += 1
    pad = " " * (child if child is not None else indent + 2)
    line = f'{pad}verified: {{at: "{report.checked_at}", digest: "{zone.digest}"}}\n'
    kept: list[str] = []
    skipping = False
    for i in range(head + 1, end):
        text = lines[i]
        here = len(text) - len(text.lstrip())
        if text.startswith(pad + "verified:"):
            skipping = True
            continue
        if skipping and text.strip() and here > len(pad):
            continue
        skipping = False
        kept.append(text)
    while kept and not kept[-1].strip():
        end -= 1
        kept.pop()
    new = lines[: head + 1] + kept + [line] + lines[end:]
    updated = "".join(new)
    doc = yaml.safe_load(updated)
    got = (doc.get("config") or {}).get("hkmail:migration", {}).get("verified", {})
    if got.get("digest") != zone.digest:
        raise RecordingError(
            f"{path}: could not write hkmail:migration.verified; add it by hand: {line.strip()}"
        )
    path.write_text(updated, encoding="utf-8")
    return line


def write_stamp(path: Path, report: VerifyReport) -> None:
    stamp = {
        "stack": report.stack,
        "verifiedAt": report.checked_at,
        "zones": {z.zone: z.digest for z in report.zones},
    }
    path.write_text(json.dumps(stamp, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
