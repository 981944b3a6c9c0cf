"""Benchmark: the shared test mail server's start and teardown, old support module against new.

    python benchmarks/mailserver_teardown_bench.py [--baseline REV] [--rounds 2] [--json FILE]
    (as root)

Starts and stops the tests' mail server (tests/mailserver_support.py: Postfix, Dovecot, OpenDKIM,
OpenDMARC, nginx, the hk-mail milters and policy services, Knot, Pebble; no extensions) with the
support module as of ``--baseline`` (git) and as in this checkout, alternating for ``--rounds``
rounds so the machine's load falls on both alike; one message is delivered each time so the
daemons have done work before they stop. Prints the median start and teardown seconds of each and
the teardown ratio baseline/current, and the load average before and after: on a shared machine
only ratios within one run mean anything.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import tests.mailserver_support as current  # noqa: E402


def _baseline(rev: str) -> ModuleType:
    source = subprocess.run(
        ["git", "-C", str(REPO), "show", f"{rev}:tests/mailserver_support.py"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    path = REPO / "tests" / "_mailserver_support_baseline.py"
    path.write_text(source)
    try:
        spec = importlib.util.spec_from_file_location("tests._mailserver_support_baseline", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        return module
    finally:
        path.unlink()


def _cycle(support: ModuleType) -> tuple[float, float]:
    t0 = time.monotonic()
    server_cm = support.running_server()
    server = server_cm.__enter__()
    started = time.monotonic()
    try:
        mid = server.submit("alice", f"bob@{support.DOMAIN}", "teardown benchmark")
        server.fetch("bob", mid, timeout=60)
    except BaseException:
        server_cm.__exit__(*sys.exc_info())
        raise
    t1 = time.monotonic()
    server_cm.__exit__(None, None, None)
    return started - t0, time.monotonic() - t1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--baseline", default="HEAD~1", help="git revision of the old support module")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--json", type=Path, help="write the figures here too")
    args = ap.parse_args()
    variants = {"baseline": _baseline(args.baseline), "current": current}
    load_before = os.getloadavg()
    runs: dict[str, dict[str, list[float]]] = {n: {"start": [], "stop": []} for n in variants}
    for _ in range(args.rounds):
        for name, support in variants.items():
            start, stop = _cycle(support)
            runs[name]["start"].append(start)
            runs[name]["stop"].append(stop)
            print(f"{name:9} start {start:5.1f} s  teardown {stop:5.1f} s", flush=True)
    med = {n: {k: statistics.median(v) for k, v in r.items()} for n, r in runs.items()}
    ratio = med["baseline"]["stop"] / med["current"]["stop"]
    result = {
        "baseline": subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", args.baseline],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip(),
        "rounds": args.rounds,
        "median_seconds": {n: {k: round(v, 2) for k, v in m.items()} for n, m in med.items()},
        "teardown_ratio_baseline_current": round(ratio, 2),
        "load_before": load_before,
        "load_after": os.getloadavg(),
    }
    print(f"teardown baseline/current: {ratio:.2f}")
    print(f"load average before {load_before}, after {result['load_after']}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
