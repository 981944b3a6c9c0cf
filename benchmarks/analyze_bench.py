"""Benchmark: the policy pack's per-resource Analyze calls, in CPU seconds of the pack process.

    python benchmarks/analyze_bench.py [--domains 300] [--rounds 3] [--policy-pack DIR ...]

Builds a synthetic stack of N mail domains (as gate_bench.py does), runs the program once under
mocks, then sends one AnalyzeRequest per resource (as the gate sends them, ANALYZE_WINDOW calls in
flight) to each policy pack given, ROUNDS times, alternating packs. It prints, per round, the wall
time, the CPU seconds the pack process used (from /proc; less sensitive to other load than wall
time) and a digest of the diagnostics (in call order), which must be equal across packs. Give two
pack directories (e.g. a `git archive` of an older commit's policies/ and the current one) to
compare.
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

import gate_bench  # noqa: E402

from toolchain.engine.run import run_program  # noqa: E402
from toolchain.gate.core import ANALYZE_WINDOW, _prepare  # noqa: E402
from toolchain.gate.pack import PolicyPackProcess, analyze_request  # noqa: E402


def _cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _all(proc: PolicyPackProcess, requests: list[Any]) -> list[Any]:
    """Every request through Analyze with a window of calls in flight, answers in call order."""
    pending: collections.deque[Any] = collections.deque()
    answers = []
    for request in requests:
        if len(pending) >= ANALYZE_WINDOW:
            answers.append(pending.popleft().result())
        pending.append(proc.analyze_async(request))
    answers.extend(f.result() for f in pending)
    return answers


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--domains", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--policy-pack", action="append", help="a pack directory (repeatable)")
    ap.add_argument("--base-stack", default=str(REPO / "stacks" / "Pulumi.tencent-exmail.yaml"))
    args = ap.parse_args(argv)
    packs = args.policy_pack or [str(REPO / "policies")]
    with tempfile.TemporaryDirectory(prefix="hkmail-abench-") as tmp:
        project = gate_bench.make_project(Path(tmp), args.domains, Path(args.base_stack))
        plan = run_program(project, "bench", timeout=3600)
    known = {r.urn: r for r in plan.resources}
    requests = [
        analyze_request(r, known.get(r.provider_urn or ""))
        for r in plan.resources
        if not r.external
    ]
    print(f"{args.domains} domains, {len(requests)} Analyze calls; load average "
          f"{os.getloadavg()[0]:.1f}")  # fmt: skip
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
                answers = _all(proc, requests)
                wall, cpu = time.perf_counter() - t0, _cpu(pid) - c0
                lines = [
                    f"{r.urn}\t{d.policyName}\t{d.enforcementLevel}\t{d.message}"
                    for r, a in zip(requests, answers, strict=True)
                    for d in a.diagnostics
                ]
                digest = hashlib.sha256("\n".join(lines).encode()).hexdigest()[:12]
                print(f"round {n + 1} {pack}: wall {wall:.2f} s, pack CPU {cpu:.2f} s, "
                      f"{len(lines)} diagnostics {digest}", flush=True)  # fmt: skip
    finally:
        for _, proc in procs:
            proc.__exit__(None, None, None)
    print(f"load average {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
