"""Benchmark: the whole test suite serially and under pytest-xdist, as CI runs it.

    python benchmarks/suite_bench.py --mode serial|xdist [--workers N] [--json FILE] [--log FILE]
        [-- PYTEST ARGS]
    python benchmarks/suite_bench.py --summary FILE
    (as root, from a shell that has NOT sourced scripts/_venv.sh)

Runs ``scripts/test`` (apt check, venv, ruff, mypy, pytest) with CI=true and HKMAIL_TEST_WORKERS
set for the mode (serial: 0; xdist: --workers, default one per core), its output in --log. Appends
one record to --json: the wall time of the whole script and of pytest (pytest's own closing line),
the tests passed/failed, the cores and the load average before and after. ``--summary`` prints
the records and the serial/xdist ratio of the pytest times. Run the modes back to back: on a shared
machine only runs under similar load compare.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
_CLOSING = re.compile(r"=+ (?P<counts>.*?) in (?P<seconds>[0-9.]+)s(?: \([0-9:]+\))? =+\s*$")


def _counts(text: str) -> dict[str, int]:
    return {word: int(n) for n, word in re.findall(r"(\d+) (\w+)", text)}


def run(mode: str, workers: int, log: Path, pytest_args: list[str]) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["CI"] = "true"
    env["HKMAIL_TEST_WORKERS"] = "0" if mode == "serial" else str(workers)
    load_before = os.getloadavg()
    started = dt.datetime.now(dt.UTC)
    t0 = time.monotonic()
    with log.open("w") as out:
        done = subprocess.run(
            [str(REPO / "scripts" / "test"), *pytest_args],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            check=False,
        )
    wall = time.monotonic() - t0
    text = log.read_text(errors="replace")
    closing = [m for line in text.splitlines() if (m := _CLOSING.match(line))]
    record: dict[str, Any] = {
        "mode": mode,
        "workers": 0 if mode == "serial" else workers,
        "cores": len(os.sched_getaffinity(0)),
        "started_utc": started.strftime("%Y-%m-%d %H:%M:%S"),
        "exit_code": done.returncode,
        "wall_seconds": round(wall, 1),
        "pytest_seconds": float(closing[-1]["seconds"]) if closing else None,
        "counts": _counts(closing[-1]["counts"]) if closing else {},
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in os.getloadavg()],
        "pytest_args": pytest_args,
        "log": str(log),
    }
    return record


def summary(records: list[dict[str, Any]]) -> str:
    lines = []
    for r in records:
        lines.append(
            f"{r['started_utc']} {r['mode']:6} workers={r['workers']} exit={r['exit_code']} "
            f"pytest={r['pytest_seconds']}s wall={r['wall_seconds']}s {r['counts']} "
            f"load {r['load_before'][0]} -> {r['load_after'][0]}"
        )
    serial = [r["pytest_seconds"] for r in records if r["mode"] == "serial" and r["exit_code"] == 0]
    xdist = [r["pytest_seconds"] for r in records if r["mode"] == "xdist" and r["exit_code"] == 0]
    if serial and xdist:
        s, x = sum(serial) / len(serial), sum(xdist) / len(xdist)
        lines.append(f"serial/xdist (pytest time, mean of passing runs): {s / x:.2f}x")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--mode", choices=["serial", "xdist"])
    ap.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)))
    ap.add_argument("--json", type=Path, default=REPO / "benchmarks" / "suite-runs.json")
    ap.add_argument("--log", type=Path, help="scripts/test's output (default: /tmp/suite-MODE.log)")
    ap.add_argument("--summary", type=Path, metavar="FILE", help="print FILE's records and stop")
    ap.add_argument("pytest_args", nargs="*", help="after --: passed to pytest")
    args = ap.parse_args()
    if args.summary:
        if not args.summary.is_file():
            print(f"error: --summary {args.summary}: no such file", file=sys.stderr)
            return 2
        print(summary(json.loads(args.summary.read_text())))
        return 0
    if args.mode is None:
        ap.error("--mode is required (allowed: serial, xdist), or give --summary FILE")
    if args.mode == "xdist" and args.workers < 2:
        ap.error(f"--workers {args.workers}: xdist needs 2 or more (serial: --mode serial)")
    log = args.log or Path(f"/tmp/suite-{args.mode}.log")
    record = run(args.mode, args.workers, log, args.pytest_args)
    records = json.loads(args.json.read_text()) if args.json.is_file() else []
    records.append(record)
    args.json.write_text(json.dumps(records, indent=2) + "\n")
    print(summary(records))
    return 0 if record["exit_code"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
