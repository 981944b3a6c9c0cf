"""Benchmark: `scripts/archive restore` of a whole mailbox of about 10,000 messages, in one run.

    python benchmarks/restore_bench.py [--share 5.2] [--json FILE]        (as root: runs Dovecot)

Builds one account's corpus (tests/imap_support.py: nested non-ASCII folders, MB-sized
attachments, duplicates, messages without a Message-ID; ``--share`` scales the folders: 5.2 gives
about 10,000 messages), starts two Dovecot servers on loopback over TLS (the copy, as a restored
backup Maildir is served, and the live server with the mailbox empty, as after its loss), and
times in one run:
- restore: the whole mailbox into the empty live mailbox, closing check included;
- re-run: the same command again (incremental: scans both sides, copies nothing, checks again).
It prints the seconds, messages/s and MB/s of the restore and the ratio restore / re-run (how much
of a restore is moving bodies rather than scanning and checking), with the load average before
and after (the machine is shared: compare ratios from one run, not seconds across runs).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.imap_support import build_corpus, dovecot_pair  # noqa: E402
from toolchain import archive  # noqa: E402

COPY = {"carol": "copy-Pa55"}
LIVE = {"carol": "live-Pa55"}


def restore(args: list[str]) -> tuple[float, str]:
    out = io.StringIO()
    started = time.monotonic()
    with contextlib.redirect_stdout(out):
        code = archive.main(args)
    seconds = time.monotonic() - started
    if code != 0:
        raise SystemExit(f"restore failed (exit {code}): {out.getvalue()}")
    return seconds, out.getvalue().strip()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--share", type=float, default=5.2, help="corpus scale (5.2: ~10,000)")
    ap.add_argument("--json", type=Path, help="write the figures here too")
    a = ap.parse_args()
    files = Path(tempfile.mkdtemp(prefix="hkmail-restore-bench-"))
    corpus = build_corpus(files / "corpus", users={"carol": a.share})
    n, size = corpus.count("carol"), corpus.total_bytes
    print(f"corpus: {n} messages, {size / 1e6:.1f} MB")
    pw = files / "passwords"
    pw.write_text("source carol copy-Pa55\ndestination carol live-Pa55\n")
    pw.chmod(0o600)
    result: dict[str, Any] = {"messages": n, "bytes": size, "loadBefore": os.getloadavg()}
    with dovecot_pair(COPY, LIVE) as (copy, live, ca):
        copy.load(corpus)
        cmd = [
            "restore",
            *("--source", f"127.0.0.1:{copy.port}", "--source-security", "ssl"),
            *("--source-cafile", str(ca)),
            *("--server", f"hkmail:127.0.0.1:{live.port}", "--server-cafile", str(ca)),
            *("--passwords", str(pw), "--user", "carol"),
        ]
        first, line1 = restore(cmd)
        again, line2 = restore(cmd)
    result.update(
        {
            "restoreSeconds": round(first, 2),
            "rerunSeconds": round(again, 2),
            "messagesPerSecond": round(n / first, 1),
            "mbPerSecond": round(size / 1e6 / first, 2),
            "ratioRestoreToRerun": round(first / again, 2),
            "restoreLine": line1,
            "rerunLine": line2,
            "loadAfter": os.getloadavg(),
        }
    )
    print(line1)
    print(line2)
    print(
        f"restore: {first:.1f} s ({n / first:.0f} messages/s, {size / 1e6 / first:.1f} MB/s); "
        f"re-run (nothing to copy): {again:.1f} s; ratio restore/re-run {first / again:.2f}; "
        f"load {result['loadBefore'][0]:.1f} -> {result['loadAfter'][0]:.1f}"
    )
    if a.json:
        a.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
