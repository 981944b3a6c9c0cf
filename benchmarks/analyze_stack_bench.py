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

import hashlib
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pack_bench  # also puts the repo on sys.path for toolchain

from toolchain.gate.core import _stack_properties
from toolchain.gate.pack import stack_resource_message


def main(argv: list[str] | None = None) -> int:
    args = pack_bench.parse(__doc__, argv)
    plan = pack_bench.plan(args)
    known = {r.urn: r for r in plan.resources}
    msgs = [
        stack_resource_message(r, known.get(r.provider_urn or ""), _stack_properties(r))
        for r in plan.resources
    ]
    print(f"{args.domains} domains, {len(msgs)} resources; load average {os.getloadavg()[0]:.1f}")
    with pack_bench.packs(args, plan.project) as procs:
        for n in range(args.rounds):
            for pack, proc in procs:
                pid = pack_bench.pid(proc)
                c0, t0 = pack_bench.cpu_seconds(pid), time.perf_counter()
                resp = proc.analyze_stack(msgs)
                wall, cpu = time.perf_counter() - t0, pack_bench.cpu_seconds(pid) - c0
                digest = hashlib.sha256(
                    "\n".join(sorted(d.message for d in resp.diagnostics)).encode()
                ).hexdigest()[:12]
                print(f"round {n + 1} {pack}: wall {wall:.2f} s, pack CPU {cpu:.2f} s, "
                      f"{len(resp.diagnostics)} diagnostics {digest}", flush=True)  # fmt: skip
        for pack, proc in procs:
            print(f"{pack}: pack peak RSS {pack_bench.peak_rss_mib(pack_bench.pid(proc)):.0f} MiB")
    print(f"load average {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
