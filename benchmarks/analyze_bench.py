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

import collections
import hashlib
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pack_bench  # also puts the repo on sys.path for toolchain

from toolchain.gate.core import ANALYZE_WINDOW
from toolchain.gate.pack import PolicyPackProcess, analyze_request


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
    args = pack_bench.parse(__doc__, argv)
    plan = pack_bench.plan(args)
    known = {r.urn: r for r in plan.resources}
    requests = [
        analyze_request(r, known.get(r.provider_urn or ""))
        for r in plan.resources
        if not r.external
    ]
    print(f"{args.domains} domains, {len(requests)} Analyze calls; load average "
          f"{os.getloadavg()[0]:.1f}")  # fmt: skip
    with pack_bench.packs(args, plan.project) as procs:
        for n in range(args.rounds):
            for pack, proc in procs:
                pid = pack_bench.pid(proc)
                c0, t0 = pack_bench.cpu_seconds(pid), time.perf_counter()
                answers = _all(proc, requests)
                wall, cpu = time.perf_counter() - t0, pack_bench.cpu_seconds(pid) - c0
                lines = [
                    f"{r.urn}\t{d.policyName}\t{d.enforcementLevel}\t{d.message}"
                    for r, a in zip(requests, answers, strict=True)
                    for d in a.diagnostics
                ]
                digest = hashlib.sha256("\n".join(lines).encode()).hexdigest()[:12]
                print(f"round {n + 1} {pack}: wall {wall:.2f} s, pack CPU {cpu:.2f} s, "
                      f"{len(lines)} diagnostics {digest}", flush=True)  # fmt: skip
    print(f"load average {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
