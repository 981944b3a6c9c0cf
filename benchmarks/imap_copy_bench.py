"""Benchmark: `scripts/migrate copy --jobs N` beside Debian's `mbsync` (isync), one process per
account, on the same corpus and accounts, in one run, on loopback and over a simulated WAN.

    python benchmarks/imap_copy_bench.py [--accounts 4] [--share 0.5] [--delay-ms 20]
        [--rounds 1] [--json FILE]                                     (as root: runs Dovecot)

Builds the corpus once (tests/imap_support.py: nested non-ASCII folders, MB-sized attachments,
duplicates, messages without a Message-ID; ``--share`` scales each account's folders), starts two
Dovecot servers on loopback (the old one with the corpus, the new one empty), and times a full
first copy of every account into the emptied new server by each tool, alternating, in two
settings:
- loopback: straight to the servers;
- wan: through tests/delay_proxy.py, which delays each direction by ``--delay-ms`` (default 20 ms,
  a 40 ms round trip) for both tools alike (this kernel has no netem qdisc).
The tools:
- hkmail: `scripts/migrate copy --jobs <accounts>`, its closing check (size, internal date and
  flags of every message) included;
- mbsync: one `mbsync <account>` process per account started at once, as an administrator runs
  it; Create Near, Sync Pull, CopyArrivalDate (keeps internal dates). The new server's own
  special-use folders are left out of its patterns (mbsync would look for them on the old
  server), and it copies the Chinese folders under their own names. It does no closing check.
Both go over TLS to the same servers. It prints messages/s, MB/s and the ratio of throughputs
hkmail/mbsync per setting (above 1: hkmail is faster).

``--big-mailbox N`` then copies one more account alone with hkmail on loopback: N small messages
in one folder and one 25 MB message, and reports its time and the copier's peak resident memory
(GNU time's %M), which must stay bounded (batches of 500 headers, bodies 16 MB at a time).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.delay_proxy import delay_proxy  # noqa: E402
from tests.imap_support import Corpus, Dovecot, build_corpus, dovecot_pair  # noqa: E402


def wipe(server: Dovecot) -> None:
    for child in server.mail.iterdir():
        shutil.rmtree(child)


def count_new(server: Dovecot, ca: Path, users: Mapping[str, str]) -> int:
    total = 0
    for user in users:
        client: Any = server.client(user, ca)
        try:
            for flags, _d, name in client.list_folders():
                if b"\\Noselect" in flags or b"\\NonExistent" in flags:
                    continue
                total += client.folder_status(name, [b"MESSAGES"])[b"MESSAGES"]
        finally:
            client.logout()
    return total


Ports = tuple[int, int]  # (old, new) as the tools see them
Runner = Callable[[Ports, Path, Path, Mapping[str, str], Mapping[str, str]], float]


def run_hkmail(
    ports: Ports, ca: Path, work: Path, old: Mapping[str, str], new: Mapping[str, str]
) -> float:
    accounts = work / "accounts"
    accounts.write_text("".join(f"{u} {u}\n" for u in old))
    pw = work / "passwords"
    pw.write_text(
        "".join(f"source {u} {p}\n" for u, p in old.items())
        + "".join(f"destination {u} {p}\n" for u, p in new.items())
    )
    pw.chmod(0o600)
    cmd = [
        str(REPO / "scripts" / "migrate"),
        "copy",
        *("--accounts", str(accounts), "--passwords", str(pw), "--no-progress"),
        *("--jobs", str(len(old))),
        *("--source", f"127.0.0.1:{ports[0]}", "--source-security", "ssl"),
        *("--source-cafile", str(ca)),
        *("--destination", f"hkmail:127.0.0.1:{ports[1]}", "--destination-cafile", str(ca)),
    ]
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"hkmail copy failed: {done.stdout}{done.stderr}")
    return elapsed


def run_mbsync(
    ports: Ports, ca: Path, work: Path, old: Mapping[str, str], new: Mapping[str, str]
) -> float:
    state = work / "mbsync-state"
    shutil.rmtree(state, ignore_errors=True)
    state.mkdir()
    parts = []
    for user in old:
        parts.append(
            f"""
IMAPAccount old-{user}
Host localhost
Port {ports[0]}
User {user}
Pass {old[user]}
SSLType IMAPS
CertificateFile {ca}
AuthMechs PLAIN

IMAPStore old-{user}
Account old-{user}

IMAPAccount new-{user}
Host localhost
Port {ports[1]}
User {user}
Pass {new[user]}
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
    procs = [
        subprocess.Popen(
            ["mbsync", "-q", "-c", str(conf), user],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for user in old
    ]
    outputs = [(p.communicate(timeout=3600)[0], p.returncode) for p in procs]
    elapsed = time.perf_counter() - start
    for out, code in outputs:
        if code != 0:
            raise SystemExit(f"mbsync failed: {out}")
    return elapsed


def big_mailbox(root: Path, count: int) -> int:
    """A Maildir of ``count`` small messages and one 25 MB message; its size in bytes."""
    import base64
    import random

    rng = random.Random(7)
    cur = root / "cur"
    for sub in ("cur", "new", "tmp"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    total = 0
    for i in range(count):
        data = (
            f"From: a{i % 97}@partner.example\nTo: big@harbourtrading.com.hk\n"
            f"Subject: note {i}\nDate: Mon, 4 Mar 2024 10:00:00 +0800\n"
            f"Message-ID: <big-{i}@partner.example>\n\n" + "x" * rng.randint(200, 2000) + "\n"
        ).encode()
        (cur / f"{1700000000 + i}.M{i}P1.big:2,S").write_bytes(data)
        total += len(data) + data.count(b"\n")
    blob = base64.encodebytes(rng.randbytes(18_700_000)).decode()  # about 25 MB encoded
    data = (
        "From: scanner@harbourtrading.com.hk\nSubject: big scan\n"
        "Date: Mon, 4 Mar 2024 10:00:00 +0800\nMessage-ID: <big-scan@harbourtrading.com.hk>\n"
        "MIME-Version: 1.0\nContent-Type: application/pdf\nContent-Transfer-Encoding: base64\n\n"
        + blob
    ).encode()
    (cur / "1800000000.M0P2.big:2,S").write_bytes(data)
    return total + len(data) + data.count(b"\n")


def measure_big(count: int, work: Path) -> dict[str, Any]:
    root = work / "big"
    size = big_mailbox(root / "corpus" / "big", count)
    with dovecot_pair({"big": "bench-old-big"}, {"big": "bench-new-big"}) as (old, new, ca):
        shutil.copytree(root / "corpus" / "big", old.mail / "big")
        subprocess.run(["chown", "-R", "mail:mail", str(old.mail)], check=True, timeout=600)
        accounts = work / "big-accounts"
        accounts.write_text("big big\n")
        pw = work / "big-passwords"
        pw.write_text("source big bench-old-big\ndestination big bench-new-big\n")
        pw.chmod(0o600)
        cmd = [
            *("/usr/bin/time", "-f", "%M"),
            str(REPO / "scripts" / "migrate"),
            "copy",
            *("--accounts", str(accounts), "--passwords", str(pw), "--no-progress"),
            *("--source", f"127.0.0.1:{old.port}", "--source-security", "ssl"),
            *("--source-cafile", str(ca), "--format", "json"),
            *("--destination", f"hkmail:127.0.0.1:{new.port}", "--destination-cafile", str(ca)),
        ]
        start = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=7200)
        elapsed = time.perf_counter() - start
        if done.returncode != 0:
            raise SystemExit(f"hkmail copy of the big mailbox failed: {done.stdout}{done.stderr}")
        doc = json.loads(done.stdout)
        peak_kb = int(done.stderr.strip().splitlines()[-1])
    return {
        "messages": count + 1,
        "bytes": size,
        "seconds": elapsed,
        "copied": doc["copied"],
        "missing": doc["missing"],
        "mismatched": doc["mismatched"],
        "peakRssMb": peak_kb / 1024,
    }


@contextlib.contextmanager
def endpoints(setting: str, old: Dovecot, new: Dovecot, delay: float) -> Iterator[Ports]:
    if setting == "loopback":
        yield old.port, new.port
        return
    with delay_proxy(old.port, delay) as p_old, delay_proxy(new.port, delay) as p_new:
        yield p_old.port, p_new.port


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--accounts", type=int, default=4, help="accounts copied (default 4)")
    ap.add_argument("--share", type=float, default=0.5, help="corpus size per account")
    ap.add_argument("--delay-ms", type=float, default=20.0, help="one-way delay of the WAN")
    ap.add_argument("--rounds", type=int, default=1, help="timed copies per tool and setting")
    ap.add_argument("--settings", default="loopback,wan", help="loopback, wan or both")
    ap.add_argument("--big-mailbox", type=int, default=0, help="messages in the big mailbox")
    ap.add_argument("--json", help="write the numbers to this file")
    args = ap.parse_args()
    if shutil.which("mbsync") is None:
        raise SystemExit("mbsync not found: apt-get install isync")
    users = [f"user{i + 1}" for i in range(args.accounts)]
    old_users = {u: f"bench-old-{u}" for u in users}
    new_users = {u: f"bench-new-{u}" for u in users}
    work = Path(tempfile.mkdtemp(prefix="hkmail-bench-"))
    tools: dict[str, Runner] = {"hkmail": run_hkmail, "mbsync": run_mbsync}
    try:
        corpus: Corpus = build_corpus(work / "corpus", users=dict.fromkeys(users, args.share))
        n, size = len(corpus.messages), corpus.total_bytes
        result: dict[str, Any] = {
            "messages": n,
            "bytes": size,
            "accounts": args.accounts,
            "delayMsEachWay": args.delay_ms,
            "rounds": args.rounds,
            "loadBefore": os.getloadavg(),
            "settings": {},
        }
        print(f"corpus: {n} messages, {size / 1e6:.1f} MB, {args.accounts} accounts")
        with dovecot_pair(old_users, new_users) as (old, new, ca):
            old.load(corpus)
            for setting in args.settings.split(","):
                times: dict[str, list[float]] = {t: [] for t in tools}
                counts: dict[str, list[int]] = {t: [] for t in tools}
                with endpoints(setting, old, new, args.delay_ms / 1000) as ports:
                    for _ in range(args.rounds):
                        for tool, run in tools.items():
                            wipe(new)
                            times[tool].append(run(ports, ca, work, old_users, new_users))
                            counts[tool].append(count_new(new, ca, new_users))
                entry: dict[str, Any] = {}
                for tool, ts in times.items():
                    best = min(ts)
                    entry[tool] = {
                        "seconds": ts,
                        "best": best,
                        "messagesPerSecond": n / best,
                        "mbPerSecond": size / 1e6 / best,
                        "copied": counts[tool],
                    }
                entry["ratioHkmailOverMbsync"] = min(times["mbsync"]) / min(times["hkmail"])
                result["settings"][setting] = entry
                for tool in tools:
                    r = entry[tool]
                    runs = ", ".join(f"{t:.2f}" for t in r["seconds"])
                    print(
                        f"{setting:8s} {tool:7s} best {r['best']:.2f} s (runs {runs}): "
                        f"{r['messagesPerSecond']:.0f} msg/s, {r['mbPerSecond']:.2f} MB/s, "
                        f"copied {r['copied']}"
                    )
                print(
                    f"{setting:8s} throughput hkmail/mbsync: {entry['ratioHkmailOverMbsync']:.2f}"
                )
        if args.big_mailbox:
            big = measure_big(args.big_mailbox, work)
            result["bigMailbox"] = big
            print(
                f"big mailbox: {big['messages']} messages, {big['bytes'] / 1e6:.1f} MB in "
                f"{big['seconds']:.1f} s, copied {big['copied']}, missing {big['missing']}, "
                f"differing {big['mismatched']}, peak memory {big['peakRssMb']:.0f} MB"
            )
        result["loadAfter"] = os.getloadavg()
        if args.json:
            Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
