"""The mail records of a domain: spec in, validated provider-neutral records out."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import dns.rdtypes.ANY.MX

from hkmail.errors import RecordError
from hkmail.facts import MX_PRIORITY_DOCUMENTED_MAX, TTL_ADVISORY_FLOOR, TTL_FLOOR_SOURCE
from hkmail.presets import (
    DIRECTMAIL_SPF_INCLUDES,
    TENCENT_SES_DKIM_SELECTOR,
    TENCENT_SES_SPF_INCLUDE,
)
from hkmail.records import spf as spf_
from hkmail.records.base import DeferredRecord, Record, RecordSet, absolute, txt_record
from hkmail.records.dkim import DkimKeyRecord
from hkmail.records.dmarc import DmarcRecord, report_authorisation_name
from hkmail.records.migration import migration_notes, phase_domain, records_digest
from hkmail.records.mtasts import MtaStsPolicy, policy_for, txt_text
from hkmail.spec import DomainSpec, Sender, StackSpec, TencentSesSender


def relative(fqdn: str, zone: str) -> str:
    """Owner name relative to ``zone`` ("@" for the apex)."""
    if fqdn == zone:
        return "@"
    if not fqdn.endswith("." + zone):
        raise ValueError(f"{fqdn} is not inside {zone}")
    return fqdn[: -len(zone) - 1]


def mta_sts_policy(domain: DomainSpec) -> MtaStsPolicy | None:
    if domain.mta_sts is None:
        return None
    return policy_for(domain.mta_sts.mode, [m.host for m in domain.mx], domain.mta_sts.max_age)


def domain_records(domain: DomainSpec) -> RecordSet:
    zone, ttl = domain.name, domain.ttl
    records: list[Record] = []
    deferred: list[DeferredRecord] = []
    notes: list[str] = []

    # MX, or null MX (RFC 7505) for a domain that accepts no mail.
    if domain.mx:
        for mx in domain.mx:
            records.append(Record(zone, "@", "MX", f"{mx.priority} {absolute(mx.host)}", ttl, "mx"))
    else:
        records.append(Record(zone, "@", "MX", "0 .", ttl, "null-mx"))
    if domain.suite.site:
        notes.append(f"{zone}: the {domain.suite.name} MX preset is the {domain.suite.site}")

    # SPF at the apex: the suite's include, SES when it sends as the apex, then the stack's own.
    includes = list(domain.suite.spf_includes)
    includes += [i for s in domain.senders if s.domain == zone and (i := _sender_spf_include(s))]
    includes += domain.spf.include
    spf_all = domain.spf.all[0]
    if not domain.sends_mail and not (domain.spf.ip4 or domain.spf.ip6 or includes):
        spf_all = "-"  # a domain that sends no mail says so outright
    apex_spf = spf_.build(
        includes=includes,
        ip4=domain.spf.ip4,
        ip6=domain.spf.ip6,
        a=domain.spf.a,
        mx=domain.spf.mx,
        all_qualifier=spf_all,
        what=f"SPF of {zone}",
    )
    records.append(txt_record(zone, "@", apex_spf.to_text(), ttl, "spf"))

    for key in domain.dkim:
        text = DkimKeyRecord(key.key_type, key.public_key).to_text()
        records.append(
            txt_record(zone, f"{key.selector}._domainkey", text, ttl, f"dkim:{key.selector}")
        )

    # Sending identities on subdomains publish their own SPF and their provider's DKIM key.
    for sender in domain.senders:
        owner = relative(sender.domain, zone)
        include = _sender_spf_include(sender)
        if sender.domain != zone and include:
            sub_spf = spf_.build(
                includes=[include], all_qualifier=domain.spf.all[0], what=f"SPF of {sender.domain}"
            )
            records.append(txt_record(zone, owner, sub_spf.to_text(), ttl, f"spf:{sender.domain}"))
        if isinstance(sender, TencentSesSender):
            sub = "" if owner == "@" else f".{owner}"
            deferred.append(
                DeferredRecord(
                    zone,
                    f"{TENCENT_SES_DKIM_SELECTOR}._domainkey{sub}",
                    "TXT",
                    ttl,
                    f"dkim:ses:{sender.domain}",
                    "tencent-ses:dkim",
                    sender.domain,
                )
            )
        else:
            notes.append(sender.cross_border.statement("Alibaba DirectMail", sender.domain))
            notes.append(
                f"DirectMail ({sender.cross_border.destination_region}) shows the ownership TXT "
                f"and DKIM records{'' if include else ' and the SPF include'} for "
                f"{sender.domain} in its console only (the provider does not expose them): "
                "publish them by hand once the domain is created"
            )

    if domain.server is not None:
        # The server's address is only known once its EIP exists.
        host = domain.server.hostname
        deferred.append(
            DeferredRecord(
                zone, relative(host, zone), "A", ttl, "private-server", PRIVATE_SERVER_IP, host
            )
        )
        notes.append(
            f"request the PTR record of the server's public IP: <ip>.in-addr.arpa. PTR "
            f"{host}. (stack output privateServer.ptrRecord)"
        )

    dmarc = _dmarc(domain)
    destinations: tuple[str, ...] = ()
    if dmarc is not None:
        ramp = domain.dmarc.ramp_until if domain.dmarc else None
        remark = f"dmarc-ramp-until={ramp.isoformat()}" if ramp else ""
        records.append(txt_record(zone, "_dmarc", dmarc.to_text(), ttl, "dmarc", remark))
        destinations = tuple(dmarc.external_destinations(zone))

    policy = mta_sts_policy(domain)
    if policy is not None and domain.mta_sts is not None:
        records.append(txt_record(zone, "_mta-sts", txt_text(policy), ttl, "mta-sts"))
        policy_host = domain.mta_sts.policy_host
        if policy_host is not None and policy_host.cname:
            records.append(
                Record(zone, "mta-sts", "CNAME", absolute(policy_host.cname), ttl, "mta-sts-host")
            )
        elif policy_host is not None:
            for ip in policy_host.ipv4:
                records.append(Record(zone, "mta-sts", "A", ip, ttl, "mta-sts-host"))
        else:
            notes.append(
                f"MTA-STS policy of {zone} must be served at https://mta-sts.{zone}"
                "/.well-known/mta-sts.txt (set mtaSts.policyHost to publish the host record)"
            )

    if domain.tls_rpt is not None:
        text = "v=TLSRPTv1; rua=" + ",".join(domain.tls_rpt.rua)
        records.append(txt_record(zone, "_smtp._tls", text, ttl, "tls-rpt"))

    if domain.autodiscovery is not None:
        ad = domain.autodiscovery
        for service, target in (
            ("_submission._tcp", ad.submission),
            ("_submissions._tcp", ad.submissions),
            ("_imaps._tcp", ad.imaps),
        ):
            if target is not None:
                records.append(
                    Record(
                        zone,
                        service,
                        "SRV",
                        f"0 1 {target.port} {absolute(target.host)}",
                        ttl,
                        "srv",
                    )
                )
        # RFC 6186 4 / RFC 8314 5.1: say that cleartext IMAP and POP3 are not offered.
        for service in ("_imap._tcp", "_pop3._tcp"):
            records.append(Record(zone, service, "SRV", "0 0 0 .", ttl, "srv"))

    if domain.caa is not None:
        for ca in domain.caa.issue:
            records.append(Record(zone, "@", "CAA", f'0 issue "{ca}"', ttl, "caa"))
        for ca in domain.caa.issuewild:
            records.append(Record(zone, "@", "CAA", f'0 issuewild "{ca}"', ttl, "caa"))
        if domain.caa.iodef:
            records.append(Record(zone, "@", "CAA", f'0 iodef "{domain.caa.iodef}"', ttl, "caa"))

    # Addresses of the zone's own hosts (hkmail:domains[].hosts): what in-zone MX, SRV and
    # MTA-STS targets resolve to.
    for own in domain.hosts:
        for address in own.addresses:
            rdtype = "AAAA" if ":" in address else "A"
            records.append(Record(zone, relative(own.name, zone), rdtype, address, ttl, "host"))

    return RecordSet(zone, tuple(records), tuple(deferred), tuple(notes), destinations)


PRIVATE_SERVER_IP = "private-server:ip"


def _sender_spf_include(sender: Sender) -> str | None:
    if isinstance(sender, TencentSesSender):
        return TENCENT_SES_SPF_INCLUDE
    return DIRECTMAIL_SPF_INCLUDES.get(sender.cross_border.destination_region)


def _dmarc(domain: DomainSpec) -> DmarcRecord | None:
    spec = domain.dmarc
    if spec is None:
        if domain.sends_mail:
            return None
        # RFC 7505 / M3AAWG parked-domain practice: no mail, so reject anything claiming it.
        return DmarcRecord(policy="reject", subdomain_policy="reject", adkim="s", aspf="s")
    return DmarcRecord(
        policy=spec.policy,
        subdomain_policy=spec.subdomain_policy,
        pct=spec.pct,
        rua=spec.rua,
        ruf=spec.ruf,
        adkim=spec.adkim,
        aspf=spec.aspf,
    )


def report_authorisation(source: str, dest: str, zone: str, ttl: int) -> Record:
    """The record by which ``zone`` (holding ``dest``) agrees to receive ``source``'s DMARC
    reports (RFC 7489 7.1): TXT "v=DMARC1" at <source>._report._dmarc.<dest>."""
    auth = report_authorisation_name(source, dest)
    return txt_record(zone, relative(auth, zone), "v=DMARC1", ttl, f"dmarc-report-auth:{source}")


def report_sources(spec: StackSpec) -> Mapping[str, tuple[tuple[str, str], ...]]:
    """For each zone of the stack: the (source domain, destination) pairs of the stack's DMARC
    reports that go to an address inside it."""
    names = [d.name for d in spec.domains]
    out: dict[str, list[tuple[str, str]]] = {z: [] for z in names}
    for d in spec.domains:
        for dest in domain_records(migrating(spec, d)).report_destinations:
            target = next((z for z in names if dest == z or dest.endswith("." + z)), None)
            if target is not None:
                out[target].append((d.name, dest))
    return {z: tuple(pairs) for z, pairs in out.items()}


def stack_records(spec: StackSpec) -> Mapping[str, RecordSet]:
    """Every zone's records. When a stack domain receives another's DMARC reports, the
    authorisation record (RFC 7489 7.1) goes into the receiving zone; for a destination outside
    the stack, a note says what its owner must publish."""
    sets = {d.name: domain_records(migrating(spec, d)) for d in spec.domains}
    ttl_of = {d.name: d.ttl for d in spec.domains}
    extra: dict[str, list[Record]] = {z: [] for z in sets}
    notes: dict[str, list[str]] = {z: list(rs.notes) for z, rs in sets.items()}
    for zone, rs in sets.items():
        for dest in rs.report_destinations:
            auth = report_authorisation_name(zone, dest)
            target = next((z for z in sets if dest == z or dest.endswith("." + z)), None)
            if target is not None:
                extra[target].append(report_authorisation(zone, dest, target, ttl_of[target]))
            else:
                notes[zone].append(
                    f"DMARC reports of {zone} go to {dest}: {dest} must publish "
                    f'TXT "v=DMARC1" at {auth} (RFC 7489 7.1)'
                )
    for zone, rs in sets.items():
        notes[zone] += _provider_figure_notes(spec, zone, rs.records + tuple(extra[zone]))
    server = spec.private_server
    if server and server.retention_days and not server.retention_locked and server.domain in notes:
        # Alibaba OSS API reference, InitiateBucketWorm: "If a time-based retention policy is not
        # locked within 24 hours after it is created, the policy automatically becomes invalid."
        notes[server.domain].append(
            f"{server.domain}: the archive's {server.retention_days}-day retention (WORM) policy "
            "is UNLOCKED (retentionLocked: false): it protects nothing after 24 hours, when an "
            "unlocked OSS retention policy becomes invalid; set retentionLocked: true to lock it "
            "(irreversible: the period can then only be extended)"
        )
    out = {
        z: RecordSet(
            z, rs.records + tuple(extra[z]), rs.deferred, tuple(notes[z]), rs.report_destinations
        )
        for z, rs in sets.items()
    }
    if spec.migration is not None:
        out[spec.migration.domain] = _checked_migration(spec, out[spec.migration.domain])
    return out


def _provider_figure_notes(spec: StackSpec, zone: str, records: tuple[Record, ...]) -> list[str]:
    """Warnings where a value is allowed but above or below a provider figure that is unverified
    or contradicted (facts.py): the provider may still reject it when the stack is applied."""
    provider, plan = spec.dns_provider, spec.dns_plan
    out: list[str] = []
    advisory = TTL_ADVISORY_FLOOR[provider][plan]
    low = min((r.ttl for r in records), default=None)
    if low is not None and low < advisory:
        out.append(
            f"{zone}: TTL {low} is below {advisory}, the minimum assumed for the {provider} "
            f"{plan} plan; {TTL_FLOOR_SOURCE[provider]}: {provider} may reject it when applied"
        )
    documented = MX_PRIORITY_DOCUMENTED_MAX[provider]
    preferences = [
        rd.preference for r in records if isinstance(rd := r.rdata, dns.rdtypes.ANY.MX.MX)
    ]
    high = [p for p in preferences if p > documented]
    if high:
        values = ", ".join(str(p) for p in high)
        out.append(
            f"{zone}: MX priority {values} is above {documented}, the most the {provider} "
            "provider's Terraform docs allow (the DNSPod API itself is reported to accept up to "
            f"65535; unverified): if `pulumi up` rejects it, use 1-{documented}"
        )
    return out


def migrating(spec: StackSpec, domain: DomainSpec) -> DomainSpec:
    """The domain as its hkmail:migration phase publishes it (itself when not migrating)."""
    m = spec.migration
    return phase_domain(domain, m) if m is not None and m.domain == domain.name else domain


def _checked_migration(spec: StackSpec, rs: RecordSet) -> RecordSet:
    """A cut-over only from records that scripts/verify found on every name server."""
    m = spec.migration
    assert m is not None
    domain = next(d for d in spec.domains if d.name == m.domain)
    if m.phase in ("cutover", "dual-run") and m.verified is not None:
        before = dataclasses.replace(spec, migration=dataclasses.replace(m, phase="sync"))
        expected = records_digest(stack_records(before)[m.domain].records)
        if m.verified.digest != expected:
            raise RecordError(
                f"hkmail:migration.verified.digest {m.verified.digest} is not the digest of the "
                f"records of phase sync ({expected}): verify the lowered records as they are "
                "configured now (phase sync, scripts/verify --record) before cutting over"
            )
    return dataclasses.replace(rs, notes=rs.notes + migration_notes(domain, m))
