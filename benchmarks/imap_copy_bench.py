"""Benchmark: `scripts/migrate copy` beside Debian's `mbsync` (isync) on the same corpus.

    python benchmarks/imap_copy_bench.py [--rounds 2] [--json FILE]      (as root: runs Dovecot)

Builds the test corpus once (tests/imap_support.py: thousands of messages in nested non-ASCII
folders, MB-sized attachments, duplicates, messages without a Message-ID), starts two Dovecot
servers on loopback (the old one with the corpus, the new one empty), and in the same run times,
alternately, a full first copy of every account by each tool into the emptied new server:
- hkmail: `scripts/migrate copy` (imapclient; includes its closing per-folder verification);
- mbsync: `mbsync -a` with Create Near, Sync Pull, CopyArrivalDate (keeps internal dates); the
  new server's own special-use folders are left out of its patterns (mbsync would otherwise look
  for them on the old server), and it copies the Chinese folders under their own names.
Both go over TLS to the same servers. It prints messages/s, MB/s and the ratio mbsync/hkmail.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.imap_support import Corpus, Dovecot, build_corpus, dovecot_pair  # noqa: E402

OLD = {"alice": "bench-old-a", "bob": "bench-old-b"}
NEW = {"alice": "bench-new-a", "bob": "bench-new-b"}


def wipe(server: Dovecot) -> None:
    for child in server.mail.iterdir():
        shutil.rmtree(child)


def count_new(server: Dovecot, ca: Path) -> int:
    total = 0
    for user in NEW:
        client: Any = server.client(user, ca)
        try:
            for flags, _d, name in client.list_folders():
                if b"\\Noselect" in flags or b"\\NonExistent" in flags:
                    continue
                total += client.folder_status(name, [b"MESSAGES"])[b"MESSAGES"]
        finally:
            client.logout()
    return total


def run_hkmail(old: Dovecot, new: Dovecot, ca: Path, work: Path) -> float:
    accounts = work / "accounts"
    accounts.write_text("".join(f"{u} {u}\n" for u in OLD))
    pw = work / "passwords"
    pw.write_text(
        "".join(f"source {u} {p}\n" for u, p in OLD.items())
        + "".join(f"destination {u} {p}\n" for u, p in NEW.items())
    )
    pw.chmod(0o600)
    cmd = [
        str(REPO / "scripts" / "migrate"),
        "copy",
        *("--accounts", str(accounts), "--passwords", str(pw), "--no-progress"),
        *("--source", f"127.0.0.1:{old.port}", "--source-security", "ssl"),
        *("--source-cafile", str(ca)),
        *("--destination", f"hkmail:127.0.0.1:{new.port}", "--destination-cafile", str(ca)),
    ]
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"hkmail copy failed: {done.stdout}{done.stderr}")
    return elapsed


def run_mbsync(old: Dovecot, new: Dovecot, ca: Path, work: Path) -> float:
    state = work / "mbsync-state"
    shutil.rmtree(state, ignore_errors=True)
    state.mkdir()
    parts = []
    for user in OLD:
        parts.append(
            f"""
IMAPAccount old-{user}
Host localhost
Port {old.port}
User {user}
Pass {OLD[user]}
SSLType IMAPS
CertificateFile {ca}
AuthMechs PLAIN

IMAPStore old-{user}
Account old-{user}

IMAPAccount new-{user}
Host localhost
Port {new.port}
User {user}
Pass {NEW[user]}
SSLType IMAPS
CertificateFile {ca}
AuthMechs PLAIN

IMAPStore new-{user}
Account new-{user}

Channel {user}
Far :old-{user}:
Near :new-{user}:
Patterns * !Drafts !Junk !Sent !Trash
Create Near
Sync Pull
Expunge None
CopyArrivalDate yes
SyncState {state}/{user}-
"""
        )
    conf = work / "mbsyncrc"
    conf.write_text("".join(parts))
    conf.chmod(0o600)
    start = time.perf_counter()
    done = subprocess.run(
        ["mbsync", "-q", "-c", str(conf), "-a"], capture_output=True, text=True, timeout=3600
    )
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"mbsync failed: {done.stdout}{done.stderr}")
    return elapsed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=2, help="timed copies per tool (alternating)")
    ap.add_argument("--json", help="write the numbers to this file")
    args = ap.parse_args()
    if shutil.which("mbsync") is None:
        raise SystemExit("mbsync not found: apt-get install isync")
    work = Path(tempfile.mkdtemp(prefix="hkmail-bench-"))
    try:
        corpus: Corpus = build_corpus(work / "corpus")
        n, size = len(corpus.messages), corpus.total_bytes
        times: dict[str, list[float]] = {"hkmail": [], "mbsync": []}
        counts: dict[str, list[int]] = {"hkmail": [], "mbsync": []}
        with dovecot_pair(OLD, NEW) as (old, new, ca):
            old.load(corpus)
            for _ in range(args.rounds):
                for tool, run in (("hkmail", run_hkmail), ("mbsync", run_mbsync)):
                    wipe(new)
                    times[tool].append(run(old, new, ca, work))
                    counts[tool].append(count_new(new, ca))
        result: dict[str, Any] = {"messages": n, "bytes": size, "rounds": args.rounds}
        for tool, ts in times.items():
            best = min(ts)
            result[tool] = {
                "seconds": ts,
                "best": best,
                "median": statistics.median(ts),
                "messagesPerSecond": n / best,
                "mbPerSecond": size / 1e6 / best,
                "copied": counts[tool],
            }
        result["ratioMbsyncOverHkmail"] = min(times["mbsync"]) / min(times["hkmail"])
        print(f"corpus: {n} messages, {size / 1e6:.1f} MB, 2 accounts")
        for tool in ("hkmail", "mbsync"):
            r = result[tool]
            runs = ", ".join(f"{t:.2f}" for t in r["seconds"])
            print(
                f"{tool:7s} best {r['best']:.2f} s (runs {runs}): "
                f"{r['messagesPerSecond']:.0f} msg/s, {r['mbPerSecond']:.2f} MB/s, "
                f"copied {r['copied']}"
            )
        print(
            f"throughput hkmail/mbsync: {result['ratioMbsyncOverHkmail']:.2f} "
            "(mbsync time / hkmail time; below 1 means hkmail is slower)"
        )
        if args.json:
            Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
