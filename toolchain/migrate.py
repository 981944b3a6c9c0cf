"""``scripts/migrate``: the phased move from the current mail system (hkmail:migration).

    scripts/migrate plan --stack S    the records of every phase, what changes between them, and
                                      whether the configured phase is safe to apply now (exit 0)
                                      or could lose mail (exit 1, with the reason and the time
                                      from which it is safe)
    scripts/migrate copy ...          copy mailboxes over IMAP and check them (toolchain.imapcopy)

The phase rules themselves live in the mail library (hkmail.spec: migration_problems;
hkmail.records.migration: the records of each phase), so ``pulumi up`` refuses the same jumps.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from hkmail.errors import HkMailError, SpecErrors
from hkmail.records import stack_records
from hkmail.records.migration import records_digest
from hkmail.spec import MIGRATION_PHASES, MigrationSpec, StackSpec, read_stack

REPO_ROOT = Path(__file__).resolve().parents[1]
# The order a migration goes through; rollback is shown against the cut-over it undoes.
SEQUENCE = (
    ("prepare", None),
    ("sync", "prepare"),
    ("cutover", "sync"),
    ("dual-run", "cutover"),
    ("done", "dual-run"),
    ("rollback", "cutover"),
)


class MigrateError(Exception):
    pass


def stack_config(project: str, stack: str) -> dict[str, object]:
    """The stack's config as the program sees it (full keys, structured values decoded)."""
    from toolchain.engine.model import EngineError
    from toolchain.engine.project import load_project, load_stack_config
    from toolchain.stackarg import resolve_stack

    try:
        cfg = load_stack_config(load_project(project), resolve_stack(project, stack))
    except EngineError as exc:
        raise MigrateError(str(exc)) from exc
    out: dict[str, object] = {}
    for key, value in cfg.values.items():
        decoded: object = value
        if value[:1] in "[{":
            with contextlib.suppress(json.JSONDecodeError):
                decoded = json.loads(value)
        out[key] = decoded
    return out


def read_settings(
    config: Mapping[str, object], now: dt.datetime
) -> tuple[StackSpec, MigrationSpec]:
    """The stack as the spec reads it, every setting checked exactly as ``pulumi up`` checks it
    (an unknown phase, a time without a zone, a past monitorUntil: SpecErrors, exit 2), but not
    yet whether the phase is safe to apply now: the plan shows that beside the records."""
    if not isinstance(config.get("hkmail:migration"), Mapping):
        raise MigrateError("the stack has no hkmail:migration section")
    spec = read_stack(config, now=now, migration_phase_rules=False)
    assert spec.migration is not None
    return spec, spec.migration


def phase_records(
    spec: StackSpec, m: MigrationSpec, phase: str
) -> dict[tuple[str, str], list[str]]:
    probe = dataclasses.replace(
        spec,
        migration=dataclasses.replace(m, phase=phase, verified=None),  # type: ignore[arg-type]
    )
    rs = stack_records(probe)[m.domain]
    out: dict[tuple[str, str], list[str]] = {}
    for r in rs.records:
        out.setdefault((r.owner.to_text(), r.rdtype), []).append(f"{r.ttl} {r.rdata.to_text()}")
    return {k: sorted(v) for k, v in sorted(out.items())}


def phase_digest(spec: StackSpec, m: MigrationSpec, phase: str) -> str:
    probe = dataclasses.replace(
        spec,
        migration=dataclasses.replace(m, phase=phase, verified=None),  # type: ignore[arg-type]
    )
    return records_digest(stack_records(probe)[m.domain].records)


def changes(
    before: Mapping[tuple[str, str], list[str]], after: Mapping[tuple[str, str], list[str]]
) -> list[str]:
    lines = []
    for key in sorted(set(before) | set(after)):
        old, new = set(before.get(key, [])), set(after.get(key, []))
        owner, rdtype = key
        for v in sorted(old - new):
            lines.append(f"- {owner} {rdtype} {v}")
        for v in sorted(new - old):
            lines.append(f"+ {owner} {rdtype} {v}")
    return lines


@dataclasses.dataclass
class PhasePlan:
    domain: str
    phase: str
    now: dt.datetime
    safe: bool
    problems: list[str]
    earliest_cutover: dt.datetime | None
    earliest_done: dt.datetime | None
    phases: list[dict[str, Any]]
    prepare_digest: str


def plan(config: Mapping[str, object], now: dt.datetime) -> PhasePlan:
    spec, m = read_settings(config, now)
    records: dict[str, dict[tuple[str, str], list[str]]] = {
        p: phase_records(spec, m, p) for p in MIGRATION_PHASES
    }
    phases = []
    for phase, previous in SEQUENCE:
        phases.append(
            {
                "phase": phase,
                "from": previous,
                "records": [f"{o} {t} {v}" for (o, t), vs in records[phase].items() for v in vs],
                "changes": changes(records[previous], records[phase]) if previous else [],
            }
        )
    problems: list[str] = []
    try:
        # the phase rules are checked when the spec is read, the verified digest on the records
        stack_records(read_stack(config, now=now))
    except SpecErrors as exc:
        problems = [str(e) for e in exc.errors]
    except HkMailError as exc:
        problems = [str(exc)]
    return PhasePlan(
        domain=m.domain,
        phase=m.phase,
        now=now,
        safe=not problems,
        problems=problems,
        earliest_cutover=m.earliest_cutover,
        earliest_done=m.earliest_done,
        phases=phases,
        prepare_digest=phase_digest(spec, m, "sync"),
    )


def _iso(when: dt.datetime | None) -> str | None:
    return (
        when.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        if when
        else None
    )


def to_json(p: PhasePlan) -> dict[str, Any]:
    return {
        "domain": p.domain,
        "phase": p.phase,
        "now": _iso(p.now),
        "safe": p.safe,
        "problems": p.problems,
        "earliestCutover": _iso(p.earliest_cutover),
        "earliestDone": _iso(p.earliest_done),
        "syncDigest": p.prepare_digest,
        "phases": p.phases,
    }


def to_text(p: PhasePlan, markdown: bool = False) -> str:
    h1, h2 = ("# ", "## ") if markdown else ("", "")
    fence = ["```"] if markdown else []
    lines = [f"{h1}Migration of {p.domain}: phase {p.phase} ({_iso(p.now)})", ""]
    if p.safe:
        lines.append(f"Phase {p.phase} is safe to apply now.")
    else:
        lines.append(f"REFUSED: phase {p.phase} could lose mail if applied now:")
        lines += [f"  - {x}" for x in p.problems]
    lines.append(
        "Earliest safe cut-over: "
        + (_iso(p.earliest_cutover) or "not known until ttlLoweredAt is set (prepare applied)")
    )
    if p.earliest_done:
        lines.append(f"Earliest done (new MX live for the lowered TTL): {_iso(p.earliest_done)}")
    lines.append(f"Digest of the lowered records (scripts/verify must see it): {p.prepare_digest}")
    lines.append("")
    for ph in p.phases:
        mark = "  <- configured" if ph["phase"] == p.phase else ""
        if ph["from"] is None:
            lines.append(f"{h2}{ph['phase']}{mark}")
            lines += fence + [f"  {r}" for r in ph["records"]] + fence
        else:
            lines.append(f"{h2}{ph['from']} -> {ph['phase']}{mark}")
            lines += fence + [f"  {c}" for c in ph["changes"] or ["(no record changes)"]] + fence
        lines.append("")
    return "\n".join(lines)


def parse_now(text: str | None) -> dt.datetime:
    if text is None:
        return dt.datetime.now(dt.UTC)
    when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if when.tzinfo is None:
        raise ValueError(f"--now {text!r} needs a time zone")
    return when


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["copy"]:
        from toolchain.imapcopy import main as copy_main

        return copy_main(argv[1:])
    ap = argparse.ArgumentParser(
        prog="scripts/migrate", description="The phased move from the current mail system."
    )
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("plan", help="records of every phase, the changes, and the safety checks")
    p.add_argument(
        "--stack", required=True, help="stack name, or the path of its Pulumi.<stack>.yaml"
    )
    p.add_argument("--project", default=str(REPO_ROOT))
    p.add_argument("--format", choices=("text", "json", "markdown"), default="text")
    p.add_argument("--now", help="judge as of this time (ISO 8601 with zone); default: now")
    sub.add_parser(
        "copy", help="copy mailboxes over IMAP, then check them (scripts/migrate copy --help)"
    )
    args = ap.parse_args(argv)
    try:
        now = parse_now(args.now)
        config = stack_config(args.project, args.stack)
        result = plan(config, now)
    except (MigrateError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except SpecErrors as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.format == "json":
        sys.stdout.write(json.dumps(to_json(result), indent=2, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(to_text(result, markdown=args.format == "markdown"))
    return 0 if result.safe else 1


if __name__ == "__main__":
    sys.exit(main())
