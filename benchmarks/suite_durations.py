"""Where the suite's time goes: ``--durations=0`` output summed per module and per shared fixture.

    ./scripts/test --durations=0 -q > suite.log 2>&1      (serial: HKMAIL_TEST_WORKERS=0)
    python benchmarks/suite_durations.py suite.log [--top 25]

Sums pytest's setup, call and teardown lines per test module, and lists the longest setups and
teardowns: a shared (session or module) fixture's cost shows as the setup of the first test that
uses it and the teardown of the last. Under xdist the per-test lines still add up, but a worker's
waits overlap the other's work, so the sums are CPU-side load, not wall time.
"""

from __future__ import annotations

import argparse
import collections
import re
import sys
from pathlib import Path

_LINE = re.compile(r"^(?P<s>[0-9.]+)s (?P<phase>setup|call|teardown)\s+(?P<nodeid>\S+)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("log", type=Path)
    ap.add_argument("--top", type=int, default=25)
    args = ap.parse_args()
    if not args.log.is_file():
        print(f"error: {args.log}: no such file", file=sys.stderr)
        return 2
    per_module: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    shared: list[tuple[float, str, str]] = []
    for line in args.log.read_text(errors="replace").splitlines():
        m = _LINE.match(line.strip())
        if not m:
            continue
        seconds, phase, nodeid = float(m["s"]), m["phase"], m["nodeid"]
        per_module[nodeid.split("::", 1)[0]][phase] += seconds
        if phase != "call":
            shared.append((seconds, phase, nodeid))
    if not per_module:
        print(f"error: {args.log}: no --durations lines (run pytest with --durations=0)")
        return 2
    total = sum(sum(c.values()) for c in per_module.values())
    print(f"{'module':55} {'setup':>8} {'call':>8} {'teardown':>8} {'total':>8} {'share':>6}")
    for module, c in sorted(per_module.items(), key=lambda kv: -sum(kv[1].values()))[: args.top]:
        t = sum(c.values())
        print(
            f"{module:55} {c['setup']:8.1f} {c['call']:8.1f} {c['teardown']:8.1f} {t:8.1f} "
            f"{100 * t / total:5.1f}%"
        )
    print(f"{'all ' + str(len(per_module)) + ' modules':55} {'':8} {'':8} {'':8} {total:8.1f}")
    print("\nlongest setups and teardowns (shared fixtures start and stop here):")
    for seconds, phase, nodeid in sorted(shared, reverse=True)[: args.top]:
        print(f"{seconds:8.1f}s {phase:8} {nodeid}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
