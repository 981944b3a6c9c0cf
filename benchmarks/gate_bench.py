"""Benchmark: the gate against the floor (the program alone under mocks) on synthetic stacks.

    python benchmarks/gate_bench.py [--sizes 10,100,1000] [--policy-pack policies]

For each N it writes a throw-away project whose stack has N mail domains (copies of the first
domain of an example stack, renamed), then times, in the same run:
- floor: the repo's program alone under Pulumi's mocks (``toolchain.engine.run_program``), i.e. what
  any offline check has to pay before a single policy runs;
- gate: the whole gate (program + policy pack over the analyzer protocol + AnalyzeStack), as
  scripts/gate runs it (the update-mode pass only when the preview says it could find more);
- gate+update: the same with the update-mode pass forced (a second run of the program in update
  mode with mock ids, on the second core): the worst case, a program with an apply() on an id.
It prints both, their ratio, resources per second, the CPU seconds each used (all processes),
and the gate's tail (time from the program's end to the verdict).
Targets: gate within 1.3x of the floor at 1,000 domains (issue 5); the whole gate, extra passes
included, within 1.5x (issue 13).
"""

from __future__ import annotations

import argparse
import copy
import json
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from toolchain.engine.run import run_program  # noqa: E402
from toolchain.gate import core  # noqa: E402
from toolchain.gate.core import run_gate  # noqa: E402

PROGRAM = """\
# Synthetic benchmark project: runs the hk-mail program of the repository.
import runpy
import sys

sys.path.insert(0, {repo!r})
runpy.run_path({main!r}, run_name="__main__")
"""


def _rename(value: Any, old: str, new: str) -> Any:
    if isinstance(value, str):
        return value.replace(old, new)
    if isinstance(value, list):
        return [_rename(v, old, new) for v in value]
    if isinstance(value, dict):
        return {k: _rename(v, old, new) for k, v in value.items()}
    return value


def make_project(root: Path, domains: int, base_stack: Path) -> Path:
    """A project directory whose stack ``bench`` has ``domains`` mail domains."""
    project = yaml.safe_load((REPO / "Pulumi.yaml").read_text())
    project.pop("main", None)
    project["runtime"] = {"name": "python"}  # the current interpreter (the repo's venv)
    project["stackConfigDir"] = "."
    (root / "Pulumi.yaml").write_text(yaml.safe_dump(project, sort_keys=False))
    (root / "__main__.py").write_text(
        PROGRAM.format(repo=str(REPO), main=str(REPO / "__main__.py"))
    )
    stack = yaml.safe_load(base_stack.read_text())
    config = stack["config"]
    key = next(k for k in config if k.endswith(":domains"))
    template = config[key][0]
    name = template["name"]
    config[key] = [
        _rename(copy.deepcopy(template), name, f"d{i:04d}.{name}") for i in range(domains)
    ]
    # the mail-flow declarations name the base stack's own domain, which the copies replace
    for k in [k for k in config if k.endswith(":mailFlows")]:
        del config[k]
    (root / "Pulumi.bench.yaml").write_text(yaml.safe_dump(stack, sort_keys=False))
    return root


def _cpu() -> float:
    """CPU seconds used so far by this process and its finished children."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def measure(domains: int, pack: Path, base_stack: Path) -> dict[str, float | int]:
    with tempfile.TemporaryDirectory(prefix=f"hkmail-bench-{domains}-") as tmp:
        project = make_project(Path(tmp), domains, base_stack)
        c0, t0 = _cpu(), time.perf_counter()
        plan = run_program(project, "bench", timeout=3600)
        floor, floor_cpu = time.perf_counter() - t0, _cpu() - c0
        c0, t0 = _cpu(), time.perf_counter()
        result = run_gate(project, "bench", pack, timeout=3600, pack_timeout=600)
        gate, gate_cpu = time.perf_counter() - t0, _cpu() - c0
        c0, t0 = _cpu(), time.perf_counter()
        forced = run_gate(
            project, "bench", pack, timeout=3600, pack_timeout=600, force_update_pass=True
        )
        full, full_cpu = time.perf_counter() - t0, _cpu() - c0
    resources = len(plan.resources)
    assert len(result.resources) == resources
    assert forced.update_pass == "forced" and len(forced.resources) == resources
    return {
        "domains": domains,
        "resources": resources,
        "floor_s": round(floor, 3),
        "gate_s": round(gate, 3),
        "ratio": round(gate / floor, 3),
        "update_pass": result.update_pass,
        "gate_update_s": round(full, 3),
        "ratio_update": round(full / floor, 3),
        "gate_update_cpu_s": round(full_cpu, 2),
        "floor_resources_per_s": round(resources / floor, 1),
        "gate_resources_per_s": round(resources / gate, 1),
        "violations": len(result.violations),
        # CPU seconds (all processes): what the gate adds on top of the program's own work
        "floor_cpu_s": round(floor_cpu, 2),
        "gate_cpu_s": round(gate_cpu, 2),
        # when, within the gate run, the pack was ready and the program had finished, and how
        # long the tail took: the rest of the Analyze calls, building and running AnalyzeStack
        # (and, when a helper pack process joined, when and how many calls it took)
        **{
            (k if k == "helper_calls" else f"{k}_s"): round(v, 3) for k, v in result.timings.items()
        },
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--sizes", default="10,100,1000", help="comma-separated domain counts")
    ap.add_argument("--policy-pack", default=str(REPO / "policies"))
    ap.add_argument("--base-stack", default=str(REPO / "stacks" / "Pulumi.tencent-exmail.yaml"))
    ap.add_argument("--json", help="also write the results to this JSON file")
    ap.add_argument(
        "--helper-backlog",
        type=int,
        default=core.HELPER_BACKLOG,
        help="Analyze calls waiting from which the gate starts a second pack process "
        f"(default {core.HELPER_BACKLOG}, the gate's; a huge number: never, to compare)",
    )
    args = ap.parse_args(argv)
    if args.helper_backlog < 1:
        ap.error(f"--helper-backlog must be a positive number of calls, not {args.helper_backlog}")
    core.HELPER_BACKLOG = args.helper_backlog
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    rows = []
    header = (
        f"{'domains':>8} {'resources':>9} {'floor s':>8} {'gate s':>8} {'ratio':>6} "
        f"{'floor res/s':>11} {'gate res/s':>10} {'floor cpu':>9} {'gate cpu':>8} {'tail s':>6} "
        f"{'gate+upd s':>10} {'ratio':>6} {'cpu':>6}"
    )
    print(header)
    for n in sizes:
        row = measure(n, Path(args.policy_pack), Path(args.base_stack))
        rows.append(row)
        tail = float(row["total_s"]) - float(row["program_done_s"])
        print(
            f"{row['domains']:>8} {row['resources']:>9} {row['floor_s']:>8.2f} "
            f"{row['gate_s']:>8.2f} {row['ratio']:>6.2f} {row['floor_resources_per_s']:>11.0f} "
            f"{row['gate_resources_per_s']:>10.0f} {row['floor_cpu_s']:>9.1f} "
            f"{row['gate_cpu_s']:>8.1f} {tail:>6.2f} {row['gate_update_s']:>10.2f} "
            f"{row['ratio_update']:>6.2f} {row['gate_update_cpu_s']:>6.1f}",
            flush=True,
        )
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
