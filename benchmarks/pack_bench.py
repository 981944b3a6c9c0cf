"""What analyze_bench.py and analyze_stack_bench.py share: their options, the synthetic stack's
plan, the pack processes they time, and the pack's CPU and memory read from /proc."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

import gate_bench  # noqa: E402

from toolchain.engine.model import Plan  # noqa: E402
from toolchain.engine.run import run_program  # noqa: E402
from toolchain.gate.core import _prepare  # noqa: E402
from toolchain.gate.pack import PolicyPackProcess  # noqa: E402


def parse(doc: str | None, argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--domains", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--policy-pack", action="append", help="a pack directory (repeatable)")
    ap.add_argument("--base-stack", default=str(REPO / "stacks" / "Pulumi.tencent-exmail.yaml"))
    return ap.parse_args(argv)


def plan(args: argparse.Namespace) -> Plan:
    """The program's plan of a synthetic stack of --domains mail domains (as gate_bench.py's)."""
    with tempfile.TemporaryDirectory(prefix="hkmail-packbench-") as tmp:
        project = gate_bench.make_project(Path(tmp), args.domains, Path(args.base_stack))
        return run_program(project, "bench", timeout=3600)


@contextlib.contextmanager
def packs(args: argparse.Namespace, project: str) -> Iterator[list[tuple[str, PolicyPackProcess]]]:
    """Each --policy-pack (default: the repo's) started and configured as the gate does."""
    procs: list[tuple[str, PolicyPackProcess]] = []
    try:
        for pack in args.policy_pack or [str(REPO / "policies")]:
            proc = PolicyPackProcess(pack, project=project, stack="bench", timeout=600)
            proc.__enter__()
            procs.append((pack, proc))
            _prepare(proc, None)
        yield procs
    finally:
        for _, proc in procs:
            proc.__exit__(None, None, None)


def pid(proc: PolicyPackProcess) -> int:
    return proc._proc.pid  # type: ignore[union-attr]


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process (from /proc; less sensitive to other load than wall time)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mib(pid: int) -> float:
    """The process's peak resident set (VmHWM), to see what the pack keeps during a call."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")
