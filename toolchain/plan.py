"""``python -m toolchain.plan``: the offline plan of a stack — what ``pulumi up`` would create.

Runs the project's program under Pulumi's mocks (see :mod:`toolchain.engine`) and prints the
resources as a table (``text``), as JSON (``json``) or as RFC 1035 zone files (``zone``).
Exit status: 0 on success, 2 when the program, its project or its config cannot be run.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from toolchain.engine.model import EngineError, Plan, PlannedResource
from toolchain.engine.project import load_project, load_stack_config
from toolchain.engine.run import run_program
from toolchain.engine.wire import to_display
from toolchain.governance import check_pack_records
from toolchain.output import OutputError, check_output, write_output
from toolchain.stackarg import resolve_stack

REPO_ROOT = Path(__file__).resolve().parents[1]
_MAX_INPUTS = 70


def resource_region(plan: Plan, resource: PlannedResource) -> str | None:
    """The region a custom resource is placed in by its provider (a provider's own region)."""
    if resource.is_provider:
        region = resource.inputs.get("region")
        return region if isinstance(region, str) else None
    if not resource.custom:
        return None
    return plan.region_of(resource)


def to_json(plan: Plan) -> dict[str, Any]:
    """The ``--format json`` document; secrets are ``"[secret]"``, unknowns ``"[unknown]"``."""
    return {
        "project": plan.project,
        "stack": plan.stack,
        "resources": [
            {
                "urn": r.urn,
                "type": r.type,
                "name": r.name,
                "parent": r.parent,
                "provider": r.provider_urn,
                "region": resource_region(plan, r),
                "protect": r.options.protect,
                "inputs": to_display(dict(sorted(r.inputs.items()))),
            }
            for r in plan.resources
        ],
        "outputs": to_display(dict(sorted(plan.outputs.items()))),
    }


def _short(value: object) -> str:
    shown = to_display(value)
    text = shown if isinstance(shown, str) else json.dumps(shown, ensure_ascii=False)
    return text


def to_text(plan: Plan, verbose: bool = False) -> str:
    """The human plan: grouped by domain, full values wrapped to 100 columns, Action needed;
    cloud-init user-data summarised (in full with ``verbose``)."""
    from toolchain.plan_text import to_text as human

    return human(plan, verbose)


def to_zone(plan: Plan, state: str | None = None) -> str:
    """Every zone's master file, each with its header once. With ``state`` (a ``pulumi stack
    export``), values known only after apply are filled in from what was deployed. An in-zone
    CNAME/MX/SRV target without an address is an error: the file would not serve mail."""
    from toolchain.gate.state import load_state
    from toolchain.zone import dangling_targets, planned_zones, zone_text

    deployed = {r.urn: r for r in load_state(state)[2]} if state else None
    parts, problems = [], []
    for zone, zp in sorted(planned_zones(plan.resources, deployed).items()):
        text = zone_text(zone, zp.records, zp.provider, zp.pending, zp.deployed)
        problems += [f"{zone}: {p}" for p in dangling_targets(zone, text, zp.pending)]
        parts.append(text.rstrip() + "\n")
    if problems:
        raise EngineError(
            "the zone export would not serve mail: " + "; ".join(problems), plan.stack
        )
    return "\n".join(parts)


def format_error(exc: EngineError) -> str:
    text = str(exc).strip()
    if text.startswith("error:"):
        return text  # the program's own message, unchanged
    where = f" (at {exc.where})" if exc.where else ""
    return f"error: {exc}{where}"


def _config_warnings(project: str, stack: str) -> tuple[str, ...]:
    try:
        return load_stack_config(load_project(project), stack).warnings
    except EngineError:
        return ()  # the run reports it


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="scripts/plan",
        description="Run a stack's Pulumi program offline under mocks and show what it creates, "
        "and the mail-data flows its records set up (where each goes, and whether it is Hong "
        "Kong, attested or declared; the verdict needs --gate).",
    )
    ap.add_argument(
        "--stack",
        required=True,
        help="stack name, or the path of its Pulumi.<stack>.yaml (stacks/Pulumi.<stack>.yaml)",
    )
    ap.add_argument("--project", default=str(REPO_ROOT), help="Pulumi project directory")
    ap.add_argument(
        "--format",
        choices=("text", "json", "zone"),
        default="text",
        help="text (grouped by domain, 100 columns), json (every input; secrets shown as "
        "[secret]) or zone (RFC 1035 master files)",
    )
    ap.add_argument("--output", help="write to this file instead of standard output")
    ap.add_argument(
        "--state",
        help="with --format zone: a `pulumi stack export` JSON whose deployed values fill in "
        "what is only known after apply (the private server's address)",
    )
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds the program may run")
    ap.add_argument(
        "--gate",
        action="store_true",
        help="also run the policy pack on the plan and show its verdicts (exit 1 if blocked)",
    )
    ap.add_argument(
        "--policy-pack",
        default=str(REPO_ROOT / "policies"),
        help="policy pack directory: its exemptions file is checked, its mail-flow rules list "
        "the flows with their attestations and exemptions; verdicts with --gate",
    )
    ap.add_argument("--policy-config", help="policy config JSON, for --gate")
    ap.add_argument(
        "--verbose",
        action="store_true",
        help="print cloud-init user-data in full in the text plan (it is summarised: files, "
        "packages, services, digest); on a program error, also show its traceback",
    )
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.state and args.format != "zone":
        print("error: --state fills the zone export: use it with --format zone", file=sys.stderr)
        return 2
    if args.gate and args.format == "zone":
        print("error: --gate shows verdicts with --format text or json", file=sys.stderr)
        return 2
    if args.output:
        try:
            check_output(args.output)
        except OutputError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    try:
        args.stack = resolve_stack(args.project, args.stack)
    except EngineError as exc:
        print(format_error(exc), file=sys.stderr)
        return 2

    # What the stack file says that the CLI reads differently from how it looks (octal numbers,
    # keys outside `config:`): shown first, so that it is seen even when the program then fails.
    shown: set[str] = set()
    for warning in _config_warnings(args.project, args.stack):
        print(f"warning: {warning}", file=sys.stderr)
        shown.add(warning)
    exit_code = 0
    try:
        if args.gate:
            # one run of the program serves both the plan and the verdicts
            from toolchain.gate.core import run_gate
            from toolchain.gate.report import to_json as gate_json
            from toolchain.gate.report import to_text as gate_text

            result = run_gate(
                args.project,
                args.stack,
                args.policy_pack,
                policy_config=args.policy_config,
                timeout=args.timeout,
            )
            assert result.plan is not None
            plan = result.plan
            exit_code = result.exit_code
            from toolchain import mailflows

            flows = mailflows.rows(result.violations)
            if args.format == "json":
                doc = {**to_json(plan), "gate": gate_json(result)}
                doc["mailFlows"] = [dataclasses.asdict(f) for f in flows]
                text = json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
            else:
                flow_text = mailflows.to_text(flows)
                text = to_text(plan, args.verbose) + flow_text + "\n" + gate_text(result)
        else:
            # the exemptions file, with the pack's own validation (the gate does the same)
            check_pack_records(args.policy_pack)
            plan = run_program(args.project, args.stack, timeout=args.timeout)
            if args.format == "zone":
                text = to_zone(plan, args.state)
            else:
                # the mail flows come from the planned records: no pack run, no verdict
                from toolchain import mailflows, planflows

                listed = planflows.rows(plan, args.policy_pack)
                if args.format == "json":
                    doc = {**to_json(plan), "mailFlows": [dataclasses.asdict(f) for f in listed]}
                    text = json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
                else:
                    text = to_text(plan, args.verbose) + mailflows.to_text(listed, planflows.NOTE)
    except EngineError as exc:
        print(format_error(exc), file=sys.stderr)
        tail = getattr(exc, "traceback_tail", "")
        if args.verbose and tail:
            print(tail.rstrip(), file=sys.stderr)
        return 2
    except ImportError as exc:
        print(f"error: the zone export is not available: {exc}", file=sys.stderr)
        return 2
    for diag in plan.diagnostics:
        if diag.severity == "warning" and diag.message not in shown:
            print(f"warning: {diag.message}", file=sys.stderr)
    if args.output:
        try:
            write_output(args.output, text)
        except OutputError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    else:
        sys.stdout.write(text)
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
