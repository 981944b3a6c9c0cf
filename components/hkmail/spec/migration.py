"""Migration from the current mail system (hkmail:migration): the old system, the phases, and
whether a phase is safe to apply now.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

from hkmail.facts import (
    MX_PRIORITY_RANGE,
    TTL_ADVISORY_FLOOR,
    TTL_FLOOR,
    TTL_MAX,
    DnsProvider,
)
from hkmail.presets import SUITE_IMAP, SUITES, MxHost
from hkmail.spec.domains import DomainSpec, _read_mx
from hkmail.spec.mailauth import SpfSpec, _read_spf
from hkmail.spec.reader import _Reader, normalize_hostname

#   hkmail:migration:
#     domain: example.com.hk          # a domain of hkmail:domains: its settings are the new system
#     phase: prepare                  # prepare | sync | cutover | dual-run | done | rollback
#     old:
#       suite: tencent-exmail         # tencent-exmail | alibaba-mail: MX, SPF include and IMAP host
#                                     # alibaba-mail-hk: none published (mx, imap from console)
#       mx: [{host: mx.old.example, priority: 10}]   # or the old MX hosts listed (suite custom)
#       mxTtl: 3600                   # the TTL the old MX records are published with now
#       spf: {include: [...], ip4: [...], ip6: [...]}  # the old system's sending sources
#       imap: imap.old.example:993
#     lowTtl: 600                     # the zone's TTL while migrating (default: the plan's floor)
#     monitorUntil: 2026-12-31        # DMARC p=none (monitoring) ramp end while migrating
#     ttlLoweredAt: 2026-11-27T10:00:00+08:00   # when the prepare phase was applied
#     verified: {at: ..., digest: ...}          # written by scripts/verify --record
#     cutoverAt: 2026-11-28T22:00:00+08:00      # when the cutover phase was applied
#
# Phases only move mail when it is safe: a cut-over waits until the lowered TTL has been live for
# the old MX TTL (every resolver has dropped the old, long-lived MX answer) and until the lowered
# records have been verified on every authoritative name server.

MigrationPhase = Literal["prepare", "sync", "cutover", "dual-run", "done", "rollback"]
MIGRATION_PHASES: Final[tuple[MigrationPhase, ...]] = (
    "prepare",
    "sync",
    "cutover",
    "dual-run",
    "done",
    "rollback",
)
# IMAP endpoints of the hosted suites (DESIGN.md, "Lifecycle facts"). Alibaba Mail's Hong Kong
# site publishes neither its IMAP host nor its MX hosts (presets.py): old.imap and old.mx give them.
OLD_SUITE_IMAP: Final = SUITE_IMAP


@dataclass(frozen=True)
class OldMailSystem:
    mx: tuple[MxHost, ...]
    mx_ttl: int
    spf: SpfSpec
    imap_host: str | None = None
    imap_port: int = 993
    suite: str | None = None


@dataclass(frozen=True)
class MigrationVerification:
    at: dt.datetime
    digest: str


@dataclass(frozen=True)
class MigrationSpec:
    domain: str
    phase: MigrationPhase
    old: OldMailSystem
    low_ttl: int
    monitor_until: dt.date
    ttl_lowered_at: dt.datetime | None = None
    verified: MigrationVerification | None = None
    cutover_at: dt.datetime | None = None

    @property
    def earliest_cutover(self) -> dt.datetime | None:
        """When every resolver has dropped the old MX answer: the lowered TTL applied, plus the
        old TTL that caches may still hold."""
        if self.ttl_lowered_at is None:
            return None
        return self.ttl_lowered_at + dt.timedelta(seconds=self.old.mx_ttl)

    @property
    def earliest_done(self) -> dt.datetime | None:
        """When every resolver has the new MX: the cut-over applied, plus the lowered TTL."""
        if self.cutover_at is None:
            return None
        return self.cutover_at + dt.timedelta(seconds=self.low_ttl)


_HONG_KONG = dt.timezone(dt.timedelta(hours=8))  # UTC+8 all year: the pack's calendar days
_MIGRATION_KEYS = (
    "domain",
    "phase",
    "old",
    "lowTtl",
    "monitorUntil",
    "ttlLoweredAt",
    "verified",
    "cutoverAt",
)


_GO_TIME = re.compile(r"(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d(?:\.\d+)?) ([+-])(\d\d)(\d\d)(?: \S+)?")


def _read_time(r: _Reader, path: str, value: object) -> dt.datetime | None:
    if value is None:
        return None
    when: dt.datetime | None = value if isinstance(value, dt.datetime) else None
    text = str(value)
    # An unquoted timestamp in a stack file reaches the program in Go's time.Time String() form:
    # "2026-11-27 10:00:00 +0800 +0800" / "2026-11-27 02:00:00 +0000 UTC".
    go_time = _GO_TIME.fullmatch(text)
    if go_time is not None:
        day, clock, sign, hh, mm = go_time.groups()
        text = f"{day}T{clock}{sign}{hh}:{mm}"
    if when is None:
        try:
            when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            when = None
    if when is None or when.tzinfo is None:
        r.fail(path, value, "a time with its zone, e.g. 2026-11-27T18:00:00+08:00")
        return None
    return when.astimezone(dt.UTC)


def _read_old_system(
    r: _Reader, path: str, raw: object, dns_provider: DnsProvider | None
) -> OldMailSystem | None:
    m = r.mapping(path, raw, ("suite", "mx", "mxTtl", "spf", "imap"))
    if m is None:
        return None
    before = len(r.errors)
    suite_name = None
    mx: tuple[MxHost, ...] = ()
    includes: tuple[str, ...] = ()
    imap: tuple[str, int] | None = None
    if m.get("suite") is not None:
        suite_name = r.choice(f"{path}.suite", m.get("suite"), tuple(OLD_SUITE_IMAP))
        if suite_name is not None:
            mx = SUITES[suite_name].mx
            includes = SUITES[suite_name].spf_includes
            imap = OLD_SUITE_IMAP[suite_name]
    if m.get("mx") is not None:
        mx = r.each(f"{path}.mx", m.get("mx"), lambda p, v: _read_mx(r, p, v, dns_provider))
    if not mx:
        why = "" if suite_name is None else f"suite {suite_name} publishes no MX hosts"
        r.fail(f"{path}.mx", m.get("mx"), "the old MX hosts [{host, priority}], or old.suite", why)
    mx_ttl = r.integer(f"{path}.mxTtl", m.get("mxTtl"), 1, 7 * 86400)
    spf = _read_spf(r, f"{path}.spf", m.get("spf"))
    spf = dataclasses.replace(spf, include=tuple(dict.fromkeys(includes + spf.include)))
    if m.get("imap") is not None:
        host, _, port = str(m.get("imap")).partition(":")
        name = normalize_hostname(host, min_labels=2)
        with contextlib.suppress(ValueError):
            name = name or str(ipaddress.IPv4Address(host))
        if name is None or (port and not (port.isdigit() and 1 <= int(port) <= 65535)):
            r.fail(
                f"{path}.imap",
                m.get("imap"),
                "host[:port] of the old IMAP server, the port from 1 to 65535",
            )
        else:
            imap = (name, int(port or 993))
    if len(r.errors) > before or mx_ttl is None:
        return None
    return OldMailSystem(
        mx=mx,
        mx_ttl=mx_ttl,
        spf=spf,
        imap_host=imap[0] if imap else None,
        imap_port=imap[1] if imap else 993,
        suite=suite_name,
    )


def read_migration(
    r: _Reader,
    raw: object,
    domains: Sequence[DomainSpec],
    dns_provider: DnsProvider | None,
    dns_plan: str,
    now: dt.datetime | None = None,
    phase_rules: bool = True,
) -> MigrationSpec | None:
    """hkmail:migration, and whether its phase is safe to apply ``now`` (``phase_rules=False``:
    the settings only, for scripts/migrate plan, which reports the phase rules itself)."""
    path = "hkmail:migration"
    m = r.mapping(path, raw, _MIGRATION_KEYS)
    if m is None:
        return None
    before = len(r.errors)
    receiving = [d.name for d in domains if d.receives_mail]
    name = r.hostname(f"{path}.domain", m.get("domain"), min_labels=2)
    domain = next((d for d in domains if d.name == name), None)
    if name is not None and (domain is None or not domain.receives_mail):
        r.fail(f"{path}.domain", name, " | ".join(receiving) or "a domain that receives mail")
    phase = r.choice(f"{path}.phase", m.get("phase"), MIGRATION_PHASES)
    old = _read_old_system(r, f"{path}.old", m.get("old"), dns_provider)
    floor = TTL_FLOOR[dns_provider][dns_plan] if dns_provider else 1
    advisory = TTL_ADVISORY_FLOOR[dns_provider][dns_plan] if dns_provider else 1
    low_ttl = r.integer(
        f"{path}.lowTtl", m.get("lowTtl"), floor, TTL_MAX, default=max(advisory, 300)
    )
    monitor = r.date(f"{path}.monitorUntil", m.get("monitorUntil"))
    if monitor is None and m.get("monitorUntil") is None:
        r.fail(
            f"{path}.monitorUntil",
            None,
            "a date (YYYY-MM-DD)",
            "DMARC is set to p=none (monitoring) while migrating, until this date",
        )
    when = now or dt.datetime.now(dt.UTC)
    today = when.astimezone(_HONG_KONG).date()
    if monitor is not None and phase != "done" and monitor < today:
        r.fail(
            f"{path}.monitorUntil",
            monitor.isoformat(),
            f"a date from {today.isoformat()} (today in Hong Kong) on",
            "DMARC is published as p=none (monitoring) until this date; past it the policy "
            "pack refuses p=none, so move the date or finish the migration (phase: done)",
        )
    lowered = _read_time(r, f"{path}.ttlLoweredAt", m.get("ttlLoweredAt"))
    cutover_at = _read_time(r, f"{path}.cutoverAt", m.get("cutoverAt"))
    verified = None
    if m.get("verified") is not None:
        v = r.mapping(f"{path}.verified", m.get("verified"), ("at", "digest"))
        if v is not None:
            at = _read_time(r, f"{path}.verified.at", v.get("at"))
            digest = v.get("digest")
            if not isinstance(digest, str) or not re.fullmatch(r"[0-9a-f]{16}", digest):
                r.fail(
                    f"{path}.verified.digest",
                    digest,
                    "the 16-hex-digit digest scripts/verify --record writes",
                )
            elif at is not None:
                verified = MigrationVerification(at, digest)
    if len(r.errors) > before:
        return None
    assert name and phase and old and low_ttl and monitor and domain
    if phase == "dual-run" and dns_provider is not None:
        low, high = MX_PRIORITY_RANGE[dns_provider]
        top = max(mx.priority for mx in domain.mx)
        if top + len(old.mx) > high:
            r.fail(
                f"{path}.phase",
                phase,
                "cutover or done",
                f"{dns_provider} allows MX priorities {low}-{high}; the new MX hosts already use "
                f"up to {top}, leaving no lower priority for the old hosts",
            )
    spec = MigrationSpec(
        domain=name,
        phase=phase,
        old=old,
        low_ttl=low_ttl,
        monitor_until=monitor,
        ttl_lowered_at=lowered,
        verified=verified,
        cutover_at=cutover_at,
    )
    if phase_rules:
        for field_path, problem in migration_problems(spec, when):
            r.fail(field_path, problem[0], problem[1], problem[2])
    return spec


def _iso(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def migration_problems(
    m: MigrationSpec, now: dt.datetime
) -> list[tuple[str, tuple[object, str, str]]]:
    """Why the phase could lose mail if applied ``now``: (config path, (value, allowed, reason))."""
    path = "hkmail:migration"
    out: list[tuple[str, tuple[object, str, str]]] = []
    phase = m.phase
    for key, when in (("ttlLoweredAt", m.ttl_lowered_at), ("cutoverAt", m.cutover_at)):
        if when is not None and when > now:
            out.append((f"{path}.{key}", (_iso(when), f"a time before now ({_iso(now)})", "")))
    if phase == "prepare":
        return out
    if m.ttl_lowered_at is None:
        out.append(
            (
                f"{path}.ttlLoweredAt",
                (
                    None,
                    "the time the prepare phase (lowered TTL) was applied",
                    f"phase {phase} comes after prepare",
                ),
            )
        )
        return out
    earliest = m.earliest_cutover
    assert earliest is not None
    if phase in ("cutover", "dual-run"):
        if now < earliest:
            out.append(
                (
                    f"{path}.phase",
                    (
                        phase,
                        f"prepare or sync until {_iso(earliest)}",
                        f"the lowered TTL has been live since {_iso(m.ttl_lowered_at)}, less than "
                        f"the old MX TTL ({m.old.mx_ttl}s): resolvers may still hold the old MX. "
                        f"Earliest safe cut-over: {_iso(earliest)}",
                    ),
                )
            )
        if m.verified is None or m.verified.at < m.ttl_lowered_at:
            out.append(
                (
                    f"{path}.verified",
                    (
                        _iso(m.verified.at) if m.verified else None,
                        "a pass of scripts/verify --record made after ttlLoweredAt",
                        "cut over only once every name server serves the lowered records",
                    ),
                )
            )
    if m.cutover_at is not None and m.cutover_at < earliest:
        out.append(
            (
                f"{path}.cutoverAt",
                (
                    _iso(m.cutover_at),
                    f"a time from {_iso(earliest)} on",
                    "that is before the earliest safe cut-over",
                ),
            )
        )
    if phase in ("dual-run", "done") and m.cutover_at is None:
        out.append(
            (
                f"{path}.cutoverAt",
                (None, "the time the cutover phase was applied", f"phase {phase} follows cutover"),
            )
        )
    done_at = m.earliest_done
    if phase == "done" and done_at is not None and now < done_at:
        out.append(
            (
                f"{path}.phase",
                (
                    phase,
                    f"cutover or dual-run until {_iso(done_at)}",
                    f"the new MX has been live for less than the lowered TTL ({m.low_ttl}s)",
                ),
            )
        )
    return out
