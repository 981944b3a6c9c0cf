"""Benchmark: the journal's cost on delivery throughput, with and without it, in one run.

    python benchmarks/journal_bench.py [--messages 150] [--rounds 3] [--json FILE]   (as root)

Starts the real mail server of the tests once (tests/mailserver_support.py: Postfix, Dovecot,
OpenDKIM, OpenDMARC and the journal milter on loopback, the archive bucket on moto's S3 server,
tests/archive_support.py) and delivers ``--messages`` DKIM-signed messages on port 25 (one SMTP
session, as a sending MTA would) per timed run, waiting until every one is in the mailbox:

- with: the rendered configuration, the journal milter last on port 25, and
  hkmail-journal-upload running against the bucket at the same time;
- milter: the journal milter spooling, no uploader (the spool grows): the milter's own cost;
- without: the same server with the journal milter taken out of ``smtpd_milters`` (postconf +
  postfix reload) and no uploader.

The three alternate (with, milter, without, with, ...) for ``--rounds`` rounds, so load from
other processes falls on all alike; it prints messages/s of each run, the medians and the ratios
without/with and without/milter (the journal's overhead: above 1, the journal slows delivery).
On this machine the S3 store (moto) runs on the same two cores as Postfix and the uploader, so
"with" also pays for the store's own CPU, which a real bucket does not take from the server.
The machine's load average is printed before and after: on a shared machine only the ratios
within one run mean anything.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from hkmail.mailserver.journal import JOURNAL_SOCKET  # noqa: E402
from tests.archive_support import ARCHIVIST, Journal, deliver_inbound, sign_as_partner  # noqa: E402
from tests.mailserver_support import (  # noqa: E402
    DOMAIN,
    PARTNER,
    MailServer,
    run,
    running_server,
)


def _delivered(server: MailServer, user: str) -> int:
    new = server.p(f"/var/vmail/{DOMAIN}/{user}/Maildir/new")
    cur = server.p(f"/var/vmail/{DOMAIN}/{user}/Maildir/cur")
    return sum(len(os.listdir(d)) for d in (new, cur) if d.exists())


def _messages(server: MailServer, n: int, tag: str) -> list[bytes]:
    out = []
    for i in range(n):
        raw = (
            f"From: news@{PARTNER}\r\nTo: {ARCHIVIST}@{DOMAIN}\r\nSubject: bench {tag} {i}\r\n"
            f"Date: Mon, 07 Dec 2026 12:00:00 +0800\r\nMessage-ID: <{uuid.uuid4()}@{PARTNER}>\r\n"
            "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
            + "Hong Kong resident mail, a typical short business message.\r\n"
            * 40
        ).encode()
        out.append(sign_as_partner(server, raw))
    return out


def _timed(server: MailServer, messages: list[bytes]) -> float:
    before = _delivered(server, ARCHIVIST)
    t0 = time.monotonic()
    deliver_inbound(server, messages, [[] for _ in messages])
    while _delivered(server, ARCHIVIST) < before + len(messages):
        if time.monotonic() - t0 > 600:
            raise SystemExit("messages were not delivered within 10 minutes")
        time.sleep(0.02)
    return time.monotonic() - t0


def _journal_milter(server: MailServer, on: bool) -> None:
    conf = server.rendered.layout.p("/etc/postfix")
    milters = run(["postconf", "-c", conf, "-h", "smtpd_milters"]).stdout.strip()
    journal = f"unix:{server.p(JOURNAL_SOCKET)}"
    parts = [m.strip() for m in milters.split(",") if m.strip() and m.strip() != journal]
    if on:
        parts.append(journal)
    run(["postconf", "-c", conf, "-e", f"smtpd_milters = {', '.join(parts)}"])
    out = run([*server.ns, "postfix", "-c", conf, "reload"])
    assert out.returncode == 0, out.stderr
    time.sleep(1.0)  # the reload replaces smtpd processes


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--messages", type=int, default=150, help="messages per timed run")
    ap.add_argument("--rounds", type=int, default=3, help="with/without pairs")
    ap.add_argument("--json", type=Path, help="write the figures here")
    args = ap.parse_args()
    if not 1 <= args.messages <= 5000 or not 1 <= args.rounds <= 20:
        print("--messages: 1-5000; --rounds: 1-20", file=sys.stderr)
        return 2
    load_before = os.getloadavg()
    runs: dict[str, list[float]] = {"with": [], "milter": [], "without": []}
    with running_server() as server:
        journal = server.extras["journal"]
        assert isinstance(journal, Journal)
        uploader: subprocess.Popen[bytes] | None = None
        try:
            for r in range(args.rounds):
                for mode in ("with", "milter", "without"):
                    _journal_milter(server, mode != "without")
                    if mode == "with":
                        uploader = journal.start()
                    msgs = _messages(server, args.messages, f"{mode}-{r}")
                    seconds = _timed(server, msgs)
                    runs[mode].append(args.messages / seconds)
                    print(f"round {r + 1} {mode:7} {args.messages / seconds:7.1f} messages/s")
                    if uploader is not None:
                        uploader.terminate()
                        uploader.wait(10)
                        uploader = None
        finally:
            if uploader is not None:
                uploader.terminate()
    load_after = os.getloadavg()
    with_m, without_m = statistics.median(runs["with"]), statistics.median(runs["without"])
    milter_m = statistics.median(runs["milter"])
    result = {
        "messagesPerRun": args.messages,
        "rounds": args.rounds,
        "messagesPerSecond": runs,
        "medianWith": round(with_m, 1),
        "medianMilterOnly": round(milter_m, 1),
        "medianWithout": round(without_m, 1),
        "overheadRatio": round(without_m / with_m, 3),
        "milterOverheadRatio": round(without_m / milter_m, 3),
        "loadBefore": load_before,
        "loadAfter": load_after,
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    print(
        f"median with journal {with_m:.1f}/s, milter only {milter_m:.1f}/s, without "
        f"{without_m:.1f}/s: without/with = {without_m / with_m:.2f}, without/milter = "
        f"{without_m / milter_m:.2f} (load {load_before[0]:.1f} -> {load_after[0]:.1f})"
    )
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
