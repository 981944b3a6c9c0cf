"""Benchmark: the policy pack's AnalyzeStack alone, in CPU seconds of the pack process.

    python benchmarks/analyze_stack_bench.py [--domains 300] [--rounds 3] [--policy-pack DIR ...]

Builds a synthetic stack of N mail domains (as gate_bench.py does), runs the program once under
mocks, then sends the same AnalyzeStackRequest (every resource with its outputs, as the gate sends
it) to each policy pack given, ROUNDS times, alternating packs. It prints, per call, the wall time
and the CPU seconds the pack process used (from /proc; less sensitive to other load than wall
time) and a digest of the diagnostics, which must be equal across packs; then each pack's peak
resident memory. Give two pack directories (e.g. a `git archive` of an older commit's policies/
and the current one) to compare.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

import gate_bench  # noqa: E402

from toolchain.engine.run import run_program  # noqa: E402
from toolchain.gate.core import _prepare, _stack_properties  # noqa: E402
from toolchain.gate.pack import PolicyPackProcess, stack_resource_message  # noqa: E402


def _cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _peak_rss_mib(pid: int) -> float:
    """The process's peak resident set (VmHWM), to see what the pack keeps during a call."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--domains", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--policy-pack", action="append", help="a pack directory (repeatable)")
    ap.add_argument("--base-stack", default=str(REPO / "stacks" / "Pulumi.tencent-exmail.yaml"))
    args = ap.parse_args(argv)
    packs = args.policy_pack or [str(REPO / "policies")]
    with tempfile.TemporaryDirectory(prefix="hkmail-asbench-") as tmp:
        project = gate_bench.make_project(Path(tmp), args.domains, Path(args.base_stack))
        plan = run_program(project, "bench", timeout=3600)
    known = {r.urn: r for r in plan.resources}
    msgs = [
        stack_resource_message(r, known.get(r.provider_urn or ""), _stack_properties(r))
        for r in plan.resources
    ]
    print(f"{args.domains} domains, {len(msgs)} resources; load average {os.getloadavg()[0]:.1f}")
    procs = []
    for pack in packs:
        proc = PolicyPackProcess(pack, project=plan.project, stack="bench", timeout=600)
        proc.__enter__()
        _prepare(proc, None)
        procs.append((pack, proc))
    try:
        for n in range(args.rounds):
            for pack, proc in procs:
                pid = proc._proc.pid  # type: ignore[union-attr]
                c0, t0 = _cpu(pid), time.perf_counter()
                resp = proc.analyze_stack(msgs)
                wall, cpu = time.perf_counter() - t0, _cpu(pid) - c0
                digest = hashlib.sha256(
                    "\n".join(sorted(d.message for d in resp.diagnostics)).encode()
                ).hexdigest()[:12]
                print(f"round {n + 1} {pack}: wall {wall:.2f} s, pack CPU {cpu:.2f} s, "
                      f"{len(resp.diagnostics)} diagnostics {digest}", flush=True)  # fmt: skip
        for pack, proc in procs:
            print(f"{pack}: pack peak RSS {_peak_rss_mib(proc._proc.pid):.0f} MiB")  # type: ignore[union-attr]
    finally:
        for _, proc in procs:
            proc.__exit__(None, None, None)
    print(f"load average {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
