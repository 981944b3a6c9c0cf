"""The records of a domain while it migrates from its old mail system (hkmail:migration).

The domain's own settings describe the new system. Each phase publishes:

    phase      MX                          TTL        SPF              DMARC      MTA-STS
    prepare    old hosts                   lowered    old + new        p=none     testing
    sync       old hosts                   lowered    old + new        p=none     testing
    cutover    new hosts                   lowered    old + new        p=none     testing
    dual-run   new hosts, old ones after   lowered    old + new        p=none     testing
    done       new hosts                   restored   new              as set     as set
    rollback   old hosts                   lowered    old + new        p=none     testing

While both systems can send, SPF authorises both; while the MX moves, MTA-STS only reports
(testing), so a policy cached with the other system's hosts never blocks delivery. The whole zone
uses the lowered TTL (the MX above all), so each step reaches every resolver within minutes.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence

from hkmail.presets import MxHost
from hkmail.records.base import Record
from hkmail.spec import DmarcSpec, DomainSpec, MigrationPhase, MigrationSpec, MtaStsSpec, SpfSpec

OLD_MX_PHASES = ("prepare", "sync", "rollback")


def records_digest(records: Sequence[Record]) -> str:
    """A short fingerprint of a zone's records (owner, TTL, type, RDATA), order-independent.

    scripts/verify prints it for what every name server was found to serve; the cut-over checks
    that it is the digest of the prepare phase's records."""
    lines = sorted(r.to_text() for r in records)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()[:16]


def phase_mx(domain: DomainSpec, m: MigrationSpec, phase: MigrationPhase) -> tuple[MxHost, ...]:
    if phase in OLD_MX_PHASES:
        return m.old.mx
    if phase == "dual-run":
        # The old system stays reachable as the less preferred MX, in its own order.
        top = max(mx.priority for mx in domain.mx)
        ranked = sorted(m.old.mx, key=lambda mx: mx.priority)
        known = {mx.host for mx in domain.mx}
        return domain.mx + tuple(
            MxHost(mx.host, top + i + 1) for i, mx in enumerate(ranked) if mx.host not in known
        )
    return domain.mx


def phase_domain(
    domain: DomainSpec, m: MigrationSpec, phase: MigrationPhase | None = None
) -> DomainSpec:
    """The domain spec the records of ``phase`` (default: the configured one) are made from."""
    phase = phase or m.phase
    if phase == "done":
        return domain
    spf = SpfSpec(
        include=tuple(dict.fromkeys(domain.spf.include + m.old.spf.include)),
        ip4=tuple(dict.fromkeys(domain.spf.ip4 + m.old.spf.ip4)),
        ip6=tuple(dict.fromkeys(domain.spf.ip6 + m.old.spf.ip6)),
        a=domain.spf.a or m.old.spf.a,
        mx=domain.spf.mx or m.old.spf.mx,
        # while two systems send, a soft fail is the safe verdict for a source not yet listed
        all="~all",
    )
    dmarc = (
        dataclasses.replace(domain.dmarc, policy="none", ramp_until=m.monitor_until)
        if domain.dmarc is not None
        else DmarcSpec(policy="none", ramp_until=m.monitor_until)
    )
    mta_sts = (
        MtaStsSpec("testing", min(domain.mta_sts.max_age, 86400), domain.mta_sts.policy_host)
        if domain.mta_sts is not None
        else None
    )
    return dataclasses.replace(
        domain,
        ttl=min(m.low_ttl, domain.ttl),
        mx=phase_mx(domain, m, phase),
        spf=spf,
        dmarc=dmarc,
        mta_sts=mta_sts,
    )


def migration_notes(domain: DomainSpec, m: MigrationSpec) -> tuple[str, ...]:
    """What the plan tells the operator about this phase and the next."""
    notes = [
        f"MIGRATION {domain.name}: phase {m.phase} "
        f"(old MX TTL {m.old.mx_ttl}s, lowered {m.low_ttl}s)"
    ]
    if m.phase in ("prepare", "sync"):
        if m.ttl_lowered_at is None:
            notes.append(
                "MIGRATION: after `pulumi up`, set hkmail:migration.ttlLoweredAt to the time of "
                f"the apply; the earliest safe cut-over is that time + {m.old.mx_ttl}s"
            )
        else:
            notes.append(
                f"MIGRATION: earliest safe cut-over {m.earliest_cutover:%Y-%m-%dT%H:%M:%SZ}"
            )
        notes.append(
            "MIGRATION: before cutover, run scripts/verify --stack <stack> --record (every name "
            "server must serve these records)"
        )
    if m.phase in ("cutover", "dual-run"):
        notes.append(
            "MIGRATION: after `pulumi up`, set hkmail:migration.cutoverAt; post-sync the mailboxes "
            "(scripts/migrate copy) until no new mail reaches the old system"
        )
        if m.earliest_done is not None:
            notes.append(
                f"MIGRATION: phase done possible from {m.earliest_done:%Y-%m-%dT%H:%M:%SZ}"
            )
    if m.phase == "rollback":
        notes.append(
            "MIGRATION: MX back on the old system; copy mail that reached the new system back "
            "(scripts/migrate copy with the accounts file reversed)"
        )
    return tuple(notes)
