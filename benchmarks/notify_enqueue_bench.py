"""Benchmark: what each delivery waits for in hkmail-notify's Sieve pipe, old against new.

    python benchmarks/notify_enqueue_bench.py [--baseline REV] [--runs 40] [--json FILE]

Dovecot's LMTP runs the rendered pipe program once per delivered recipient and waits for it to
exit before it answers Postfix (the mail server's logs show ``Waiting for program to finish``,
then ``Child process ended`` 0.2-0.3 s later on a loaded 2-core machine; without the notify rules
the same LMTP delivery takes 0.01-0.05 s). This times that program alone, spooling one job for a
message that matches a rule, as two variants that alternate run by run so the machine's load falls
on both alike:

- baseline: ``/usr/bin/python3 notify.py enqueue ...`` with notify.py as of ``--baseline`` (git);
- current: the command line and notify.py this checkout renders (``python3 -I -S``).

A third row, ``python3 -I -S -c pass``, is the interpreter's own floor. It prints the medians and
the ratio baseline/current (above 1: the current one is faster), and the load average before and
after: on a shared machine only ratios within one run mean anything.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CURRENT = REPO / "components/hkmail/mailserver/notify.py"
MESSAGE = (
    b"From: Partner <news@partner.example>\r\nTo: alice@hkmail.test\r\nSubject: PO-1 order\r\n"
    b"Authentication-Results: mail.hkmail.test; dmarc=pass header.from=partner.example\r\n"
    b"Message-ID: <{n}@partner.example>\r\n\r\nbody\r\n"
)


def _settings(root: Path) -> Path:
    settings = {
        "hostname": "mail.hkmail.test",
        "domain": "hkmail.test",
        "spool": str(root / "spool"),
        "log": str(root / "notify.log"),
        "rules": [
            {
                "name": "orders",
                "target": "sales",
                "recipients": ["alice"],
                "senders": ["partner.example"],
                "subject": "^PO-",
                "hasAttachment": None,
                "auth": "dmarc",
                "fields": ["subject", "senderName", "link"],
            }
        ],
    }
    path = root / "notify.json"
    path.write_text(json.dumps(settings))
    return path


def _time(cmd: list[str], stdin: bytes) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, input=stdin, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--baseline", default="HEAD~1", help="git revision of the old notify.py")
    ap.add_argument("--runs", type=int, default=40)
    ap.add_argument("--json", type=Path, help="write the figures here too")
    args = ap.parse_args()
    python = shutil.which("python3", path="/usr/bin") or sys.executable
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        old = root / "notify-baseline.py"
        old.write_text(
            subprocess.run(
                ["git", "-C", str(REPO), "show", f"{args.baseline}:{CURRENT.relative_to(REPO)}"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
        settings = _settings(root)
        enqueue = ["enqueue", str(settings), "alice@hkmail.test"]
        variants = {
            "baseline": [python, str(old), *enqueue],
            "current": [python, "-I", "-S", str(CURRENT), *enqueue],
            "floor": [python, "-I", "-S", "-c", "pass"],
        }
        times: dict[str, list[float]] = {name: [] for name in variants}
        for n in range(args.runs):
            for name, cmd in variants.items():
                msg = MESSAGE.replace(b"{n}", f"{name}-{n}".encode())
                times[name].append(_time(cmd, msg))
        spooled = len(os.listdir(root / "spool/pending"))
    expected = 2 * args.runs
    if spooled != expected:  # each enqueue must really have spooled its job
        print(f"error: {spooled} jobs spooled, expected {expected}", file=sys.stderr)
        return 1
    medians = {name: statistics.median(ts) * 1000 for name, ts in times.items()}
    result = {
        "runs": args.runs,
        "baseline": subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", args.baseline],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip(),
        "median_ms": {k: round(v, 1) for k, v in medians.items()},
        "ratio_baseline_current": round(medians["baseline"] / medians["current"], 2),
        "load_before": load_before,
        "load_after": os.getloadavg(),
    }
    for name, ms in medians.items():
        print(f"{name:9} {ms:7.1f} ms median of {args.runs}")
    print(f"baseline/current: {result['ratio_baseline_current']}")
    print(f"load average before {load_before}, after {result['load_after']}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
