"""``python -m toolchain.gate`` (``scripts/gate``): the contract is in DESIGN.md.

Exit 0: no mandatory violation. Exit 1: at least one. Exit 2: the program, the config or the pack
could not be run; the message on stderr says what and where.

One invocation judges one or more stacks (``--stack`` repeated, or ``--all-stacks``) with one
policy pack process, and writes every report asked for from that one run: ``--report FORMAT=FILE``
(repeatable; FILE ``-`` is standard output), or ``--format``/``--output`` pairs (repeatable, paired
in order; a ``--format`` without an ``--output`` goes to standard output).
"""

from __future__ import annotations

import argparse
import sys
import textwrap
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from toolchain.engine.childenv import refused_pass_env
from toolchain.engine.model import EngineError
from toolchain.engine.project import load_project
from toolchain.gate.core import GateResult, StackFailure, run_gate_on_state, run_gates
from toolchain.gate.report import render_many, summary_line, write
from toolchain.output import OutputError, check_output
from toolchain.stackarg import resolve_stack, stack_names

REPO_ROOT = Path(__file__).resolve().parents[2]
FORMATS = ("text", "json", "sarif", "junit", "markdown")


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="scripts/gate",
        description="Run a Pulumi Python program offline under mocks and hand every resource to a "
        "CrossGuard policy pack over Pulumi's analyzer protocol, as `pulumi preview "
        "--policy-pack` would. This RUNS the project's code: never run it on code you do not "
        "trust in an environment that holds secrets.",
    )
    ap.add_argument(
        "--stack",
        action="append",
        default=[],
        help="stack name, or the path of its Pulumi.<stack>.yaml in the stackConfigDir; "
        "repeat for several",
    )
    ap.add_argument(
        "--all-stacks",
        action="store_true",
        help="judge every Pulumi.<stack>.yaml in the project's stackConfigDir",
    )
    ap.add_argument("--project", default=str(REPO_ROOT), help="Pulumi project directory")
    ap.add_argument(
        "--policy-pack", default=str(REPO_ROOT / "policies"), help="policy pack directory"
    )
    ap.add_argument(
        "--policy-config", help="policy config JSON, as for `pulumi preview --policy-pack-config`"
    )
    ap.add_argument("--state", help="audit a `pulumi stack export` document instead of a preview")
    ap.add_argument(
        "--format",
        action="append",
        choices=FORMATS,
        default=[],
        help="report format (repeatable; paired in order with --output)",
    )
    ap.add_argument(
        "--output",
        action="append",
        default=[],
        help="file for the report of the --format at the same position (default stdout)",
    )
    ap.add_argument(
        "--report",
        action="append",
        default=[],
        metavar="FORMAT=FILE",
        help=f"write a report in FORMAT ({', '.join(FORMATS)}) to FILE ('-' for stdout); "
        "repeatable",
    )
    ap.add_argument(
        "--pass-env",
        action="append",
        default=[],
        metavar="NAME",
        help="pass this environment variable on to the program and the pack (by default they "
        "get only locale, time zone, PATH and the stack's config); region variables never pass",
    )
    ap.add_argument(
        "--no-update-pass",
        action="store_true",
        help="skip the update-mode pass that finds resources registered inside apply() on "
        "values unknown during preview (the gate then sees only what `pulumi preview` sees)",
    )
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds the program may run")
    ap.add_argument(
        "--pack-timeout",
        type=float,
        default=300.0,
        help="seconds the pack may take to start or to answer one call",
    )
    ap.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="one line on stderr as each stack is judged (default: when stderr is a terminal "
        "and there are several stacks)",
    )
    ap.add_argument(
        "--verbose", action="store_true", help="on a program error, also show its traceback"
    )
    return ap


def _wrap_warning(text: str) -> str:
    return "\n".join(textwrap.wrap(text, width=100, subsequent_indent="  ", break_long_words=False))


def _progress(stacks: Sequence[str]) -> Callable[[int, GateResult | StackFailure], None]:
    started = time.monotonic()
    width = len(str(len(stacks)))

    def done(i: int, result: GateResult | StackFailure) -> None:
        took = time.monotonic() - started
        head = f"gate: [{i + 1:>{width}}/{len(stacks)}] {stacks[i]}:"
        if isinstance(result, StackFailure):
            line = f"{head} could not be run"
        else:
            mandatory = len(result.blocking)
            advisory = sum(not v.blocking and not v.exempt for v in result.violations)
            line = (
                f"{head} {'FAIL' if mandatory else 'PASS'}, {len(result.resources)} resources, "
                f"{mandatory} mandatory, {advisory} advisory"
            )
        print(f"{line} ({took:.1f} s)", file=sys.stderr, flush=True)

    return done


def _reports(args: argparse.Namespace) -> list[tuple[str, str | None]]:
    """(format, file or None for stdout) for every report asked for."""
    if len(args.output) > max(len(args.format), 1):
        raise ValueError("more --output than --format")
    reports: list[tuple[str, str | None]] = []
    formats = args.format or (["text"] if not args.report else [])
    flags: dict[str, str] = {}
    for i, fmt in enumerate(formats):
        out = args.output[i] if i < len(args.output) else None
        reports.append((fmt, out))
        if out is not None:
            flags[out] = "--output "
    for spec in args.report:
        fmt, sep, file = spec.partition("=")
        if not sep or fmt not in FORMATS or not file:
            raise ValueError(
                f"--report {spec!r}: expected FORMAT=FILE with FORMAT one of {', '.join(FORMATS)}"
            )
        reports.append((fmt, None if file == "-" else file))
        if file != "-":
            flags[file] = f"--report {fmt}="
    if sum(out is None for _, out in reports) > 1:
        raise ValueError("only one report can go to standard output; give the others a file")
    for _, out in reports:
        if out is not None:
            # before the (slow) run; missing directories are created when the report is written
            try:
                check_output(out, flag=flags[out], create_dirs=True)
            except OutputError as exc:
                raise ValueError(str(exc)) from None
    return reports


def _all_stacks(project_dir: str) -> list[str]:
    project = load_project(project_dir)
    names = stack_names(project)
    if not names:
        raise EngineError(
            f"no Pulumi.<stack>.yaml in {project.stack_config_dir}", str(project.stack_config_dir)
        )
    return names


def _print_error(exc: EngineError, verbose: bool, stack: str = "") -> None:
    where = f" (at {exc.where})" if exc.where else ""
    text = str(exc).strip()
    if stack and not text.startswith(f"stack {stack}:"):
        text = f"stack {stack}: {text}"
    print(text if text.startswith("error:") else f"error: {text}{where}", file=sys.stderr)
    tail = getattr(exc, "traceback_tail", "")
    if verbose and tail:
        print(tail.rstrip(), file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    ap = parser()
    args = ap.parse_args(argv)
    if not args.stack and not args.state and not args.all_stacks:
        print("error: --stack is required (or --all-stacks, or --state FILE)", file=sys.stderr)
        return 2
    try:
        reports = _reports(args)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    refused = refused_pass_env(args.pass_env)
    if refused:
        print(
            f"error: --pass-env {', '.join(refused)}: region and zone variables are never passed "
            "to the program (its placement must come from the stack's config)",
            file=sys.stderr,
        )
        return 2
    results: list[GateResult | StackFailure]
    try:
        if args.state:
            results = [
                run_gate_on_state(
                    args.state,
                    args.policy_pack,
                    policy_config=args.policy_config,
                    pack_timeout=args.pack_timeout,
                    pass_env=tuple(args.pass_env),
                )
            ]
        else:
            stacks = []
            for arg in args.stack:
                name = resolve_stack(args.project, arg)
                stacks += [name] if name not in stacks else []
            if args.all_stacks:
                stacks += [s for s in _all_stacks(args.project) if s not in stacks]
            show = (
                args.progress
                if args.progress is not None
                else (len(stacks) > 1 and sys.stderr.isatty())
            )
            results = run_gates(
                args.project,
                stacks,
                args.policy_pack,
                policy_config=args.policy_config,
                timeout=args.timeout,
                pack_timeout=args.pack_timeout,
                pass_env=tuple(args.pass_env),
                update_pass=not args.no_update_pass,
                on_stack_done=_progress(stacks) if show else None,
            )
    except EngineError as exc:
        _print_error(exc, args.verbose)
        print("gate: not run to completion; failing closed (exit 2)", file=sys.stderr)
        return 2
    failures = [r for r in results if isinstance(r, StackFailure)]
    judged = [r for r in results if isinstance(r, GateResult)]
    for failure in failures:
        _print_error(failure.error, args.verbose, failure.stack)
    for result in judged:
        if result.plan is not None:
            # with several stacks, each warning says which stack it comes from
            which = f"stack {result.stack}: " if len(results) > 1 else ""
            for diag in result.plan.diagnostics:
                if diag.severity == "warning":
                    print(_wrap_warning(f"warning: {which}{diag.message}"), file=sys.stderr)
    if len(results) == 1 and failures:
        # the single-stack contract: nothing on stdout, what and where on stderr
        print("gate: not run to completion; failing closed (exit 2)", file=sys.stderr)
        return 2
    for fmt, out in reports:
        write(render_many(results, fmt), out)
    blocking = sum(len(r.blocking) for r in judged)
    code = 2 if failures else (1 if blocking else 0)
    if failures:
        print(
            f"gate: {len(failures)} of {len(results)} stack(s) could not be run; failing closed "
            "(exit 2)",
            file=sys.stderr,
        )
    print(summary_line(results), file=sys.stderr)
    return code
