"""``python -m toolchain.gate`` (``scripts/gate``): the contract is in DESIGN.md.

Exit 0: no mandatory violation. Exit 1: at least one. Exit 2: the program, the config or the pack
could not be run; the message on stderr says what and where.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from toolchain.engine.model import EngineError
from toolchain.gate.core import GateResult, run_gate, run_gate_on_state
from toolchain.gate.report import render, write

REPO_ROOT = Path(__file__).resolve().parents[2]
FORMATS = ("text", "json", "sarif", "junit", "markdown")


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="scripts/gate",
        description="Run a Pulumi Python program offline under mocks and hand every resource to a "
        "CrossGuard policy pack over Pulumi's analyzer protocol, as `pulumi preview "
        "--policy-pack` would.",
    )
    ap.add_argument("--stack", help="stack name (Pulumi.<stack>.yaml in the stackConfigDir)")
    ap.add_argument("--project", default=str(REPO_ROOT), help="Pulumi project directory")
    ap.add_argument(
        "--policy-pack", default=str(REPO_ROOT / "policies"), help="policy pack directory"
    )
    ap.add_argument(
        "--policy-config", help="policy config JSON, as for `pulumi preview --policy-pack-config`"
    )
    ap.add_argument("--state", help="audit a `pulumi stack export` document instead of a preview")
    ap.add_argument("--format", choices=FORMATS, default="text")
    ap.add_argument("--output", help="write the report to this file instead of standard output")
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds the program may run")
    ap.add_argument(
        "--pack-timeout",
        type=float,
        default=300.0,
        help="seconds the pack may take to start or to answer one call",
    )
    ap.add_argument(
        "--verbose", action="store_true", help="on a program error, also show its traceback"
    )
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if not args.stack and not args.state:
        print("error: --stack is required (or --state FILE)", file=sys.stderr)
        return 2
    try:
        result: GateResult
        if args.state:
            result = run_gate_on_state(
                args.state,
                args.policy_pack,
                policy_config=args.policy_config,
                pack_timeout=args.pack_timeout,
            )
        else:
            result = run_gate(
                args.project,
                args.stack,
                args.policy_pack,
                policy_config=args.policy_config,
                timeout=args.timeout,
                pack_timeout=args.pack_timeout,
            )
    except EngineError as exc:
        where = f" (at {exc.where})" if exc.where else ""
        text = str(exc).strip()
        print(text if text.startswith("error:") else f"error: {text}{where}", file=sys.stderr)
        tail = getattr(exc, "traceback_tail", "")
        if args.verbose and tail:
            print(tail.rstrip(), file=sys.stderr)
        print("gate: not run to completion; failing closed (exit 2)", file=sys.stderr)
        return 2
    if result.plan is not None:
        for diag in result.plan.diagnostics:
            if diag.severity == "warning":
                print(f"warning: {diag.message}", file=sys.stderr)
    write(render(result, args.format), args.output)
    if args.output or args.format != "text":
        print(
            f"gate: {'FAIL' if result.exit_code else 'PASS'} ({len(result.blocking)} mandatory "
            f"violations, {len(result.violations)} findings)",
            file=sys.stderr,
        )
    return result.exit_code
