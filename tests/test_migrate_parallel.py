"""scripts/migrate copy with several accounts at once against a destination that limits sessions
(Dovecot mail_max_userip_connections = 1) and offers no MULTIAPPEND (so APPENDs are pipelined with
LITERAL+), through a proxy that adds a 40 ms round trip; the report as accounts finish; and the
connection mistakes a user makes (a port that does not say its security, a wrong security)."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.delay_proxy import delay_proxy
from tests.imap_support import Corpus, Dovecot, build_corpus, dovecot_pair
from tests.support import REPO

OLD = {"carol": "Old-carol-4Tq!", "dave": "Old-dave-8Wp?"}
NEW = {"carol": "New-carol-2Lm#", "dave": "New-dave-6Jn&"}
# Dovecot's own list with MULTIAPPEND taken out (LITERAL+ kept)
NO_MULTIAPPEND = (
    "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT SORT=DISPLAY THREAD=REFERENCES "
    "THREAD=REFS THREAD=ORDEREDSUBJECT UNSELECT CHILDREN NAMESPACE UIDPLUS LIST-EXTENDED "
    "I18NLEVEL=1 CONDSTORE QRESYNC ESEARCH ESORT SEARCHRES WITHIN CONTEXT=SEARCH LIST-STATUS "
    "BINARY MOVE SNIPPET=FUZZY PREVIEW=FUZZY PREVIEW STATUS=SIZE SAVEDATE LITERAL+ SPECIAL-USE"
)


@dataclass
class Env:
    old: Dovecot
    new: Dovecot
    ca: Path
    corpus: Corpus
    files: Path


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    files = tmp_path_factory.mktemp("parallel")
    corpus = build_corpus(files / "corpus", users={"carol": 0.06, "dave": 0.06})
    with dovecot_pair(OLD, NEW, new_max_userip_connections=1, new_capabilities=NO_MULTIAPPEND) as (
        old,
        new,
        ca,
    ):
        old.load(corpus)
        (files / "accounts").write_text("carol carol\ndave dave\n")
        pw = files / "passwords"
        pw.write_text(
            "".join(f"source {u} {p}\n" for u, p in OLD.items())
            + "".join(f"destination {u} {p}\n" for u, p in NEW.items())
        )
        pw.chmod(0o600)
        yield Env(old, new, ca, corpus, files)


def command(env: Env, source: str, destination: str, *extra: str) -> list[str]:
    return [
        str(REPO / "scripts" / "migrate"),
        "copy",
        *("--accounts", str(env.files / "accounts"), "--passwords", str(env.files / "passwords")),
        *("--source", source, "--source-cafile", str(env.ca)),
        *("--destination", destination, "--destination-cafile", str(env.ca)),
        *extra,
    ]


def run(env: Env, *extra: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    cmd = command(env, f"127.0.0.1:{env.old.port}", f"hkmail:127.0.0.1:{env.new.port}", *extra)
    cmd[cmd.index("--source-cafile") : cmd.index("--source-cafile")] = ["--source-security", "ssl"]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


@pytest.mark.integration
def test_a_port_that_does_not_say_its_security_must_be_told() -> None:
    for source, needle in (
        ("127.0.0.1:10993", "port 10993 does not say whether the server expects implicit TLS"),
        ("127.0.0.1:99999", "port '99999' is not valid; allowed: 1-65535"),
        ("127.0.0.1:0", "port '0' is not valid; allowed: 1-65535"),
        ("127.0.0.1:993 --jobs 0", "--jobs: 0 is not valid; allowed: more than 0, at most 64"),
    ):
        source, *more = source.split()
        done = subprocess.run(
            [
                str(REPO / "scripts" / "migrate"),
                *("copy", "--accounts", "/dev/null", "--source", source),
                *("--destination", "hkmail:mail.example.hk", *more),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 2, done.stderr
        assert needle in done.stderr and "Traceback" not in done.stderr
        if "10993" in source:
            assert "give --source-security (allowed: ssl, starttls, none)" in done.stderr


@pytest.mark.integration
def test_a_wrong_security_is_an_error_in_seconds_not_a_hang(env: Env) -> None:
    cmd = command(env, f"127.0.0.1:{env.old.port}", f"hkmail:127.0.0.1:{env.new.port}")
    cmd += ["--source-security", "starttls", "--connect-timeout", "2", "--no-progress"]
    started = time.monotonic()
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    elapsed = time.monotonic() - started
    assert done.returncode == 2, done.stdout + done.stderr
    assert "no answer to the connect within 2 s" in done.stdout
    assert "implicit-TLS (IMAPS) port? set the security option to ssl" in done.stdout
    assert elapsed < 30  # two accounts at once, 2 s each, and the tool's start: not 120 s


@pytest.mark.integration
def test_busy_destination_backs_off_and_pipelined_appends_keep_everything(env: Env) -> None:
    """The destination allows one session per user; a mail client holds carol's until the copy
    has been refused once. Both accounts are copied at once over a 40 ms round trip, APPENDs
    pipelined (no MULTIAPPEND)."""
    holder: Any = env.new.client("carol", env.ca)
    assert not holder.has_capability("MULTIAPPEND") and holder.has_capability("LITERAL+")
    refusals = env.new.log().count("Maximum number of connections")
    stop = threading.Event()

    def release_when_refused() -> None:  # the mail client quits once the copy was turned away
        deadline = time.monotonic() + 120
        while not stop.is_set() and time.monotonic() < deadline:
            if env.new.log().count("Maximum number of connections") > refusals:
                break
            time.sleep(0.1)
        holder.logout()

    release = threading.Thread(target=release_when_refused)
    release.start()
    try:
        with (
            delay_proxy(env.old.port, 0.020) as old_wan,
            delay_proxy(env.new.port, 0.020) as new_wan,
        ):
            cmd = command(
                env,
                f"127.0.0.1:{old_wan.port}",
                f"hkmail:127.0.0.1:{new_wan.port}",
                *("--source-security", "ssl", "--jobs", "2", "--format", "json"),
            )
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    finally:
        stop.set()
        release.join()
    assert done.returncode == 0, done.stdout + done.stderr
    # Dovecot 2.3 answers NO [LIMIT] (older versions and other servers: [UNAVAILABLE])
    assert "[LIMIT] Maximum number of connections" in done.stderr
    assert "busy: retrying in" in done.stderr
    doc = json.loads(done.stdout)
    assert doc["copied"] == len(env.corpus.messages) and doc["missing"] == 0
    assert doc["mismatched"] == 0  # sizes, internal dates and flags checked message by message
    assert "copy: 2/2 accounts" in done.stderr and "failures 0" in done.stderr
    # what was chosen is said first: the security of each side, the parallelism
    assert (
        f"source 127.0.0.1:{old_wan.port} (ssl), destination 127.0.0.1:{new_wan.port} (ssl)"
        in (done.stderr.splitlines()[0])
    )
    assert "2 account(s), 2 at a time, at most 2 session(s) per server" in done.stderr


@pytest.mark.integration
def test_each_account_lands_in_the_report_as_it_finishes(env: Env, tmp_path: Path) -> None:
    """Killed after the first account: the report holds it, marked incomplete; the next run
    copies nothing twice and completes the report."""
    for user in NEW:  # start from an empty destination
        client: Any = env.new.client(user, env.ca)
        try:
            for flags, _d, name in client.list_folders():
                if b"\\Noselect" not in flags and b"\\NonExistent" not in flags:
                    client.select_folder(name)
                    client.delete_messages(client.search(["ALL"]))
                    client.expunge()
        finally:
            client.logout()
    report = tmp_path / "report.json"
    base = command(env, f"127.0.0.1:{env.old.port}", f"hkmail:127.0.0.1:{env.new.port}")
    base += ["--source-security", "ssl", "--jobs", "1", "--report", str(report)]
    proc = subprocess.Popen(base, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    first: dict[str, Any] = {}
    while time.monotonic() < deadline and proc.poll() is None:
        if report.exists():
            first = json.loads(report.read_text())
            break
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    assert first, "no report written while the run went on"
    assert first["complete"] is False and first["accountsDone"] == 1
    [carol] = first["accounts"]
    assert carol["source"] == "carol" and carol["missing"] == 0 and carol["error"] is None
    again = run(env, "--report", str(report), "--format", "json", "--no-progress")
    assert again.returncode == 0, again.stdout + again.stderr
    doc = json.loads(report.read_text())
    assert doc["complete"] is True and doc["accountsDone"] == 2
    by_user = {a["source"]: a for a in doc["accounts"]}
    assert sum(f["copied"] for f in by_user["carol"]["folders"]) == 0  # done before the kill
    assert doc["missing"] == 0 and doc["mismatched"] == 0


@pytest.mark.integration
def test_copy_mailbox_restores_one_folder_for_a_date_range(env: Env) -> None:
    """The library entry a restore uses: one mailbox, one folder, internal dates in a range."""
    from toolchain.imapconn import Server
    from toolchain.imapcopy import Passwords, Settings, copy_mailbox

    client: Any = env.new.client("carol", env.ca)
    try:
        client.select_folder("INBOX")
        client.delete_messages(client.search(["ALL"]))
        client.expunge()
    finally:
        client.logout()
    since, before = dt.date(2021, 1, 1), dt.date(2023, 1, 1)
    expected = sum(
        1
        for m in env.corpus.messages
        if m.user == "carol"
        and m.folder == "INBOX"
        and since <= dt.datetime.fromtimestamp(m.internaldate, dt.UTC).date() < before
    )
    assert 0 < expected < env.corpus.count("carol", "INBOX")
    result = copy_mailbox(
        Server("127.0.0.1", env.old.port, "ssl"),
        Server("127.0.0.1", env.new.port, "ssl"),
        "carol",
        "carol",
        Passwords({("source", "carol"): OLD["carol"], ("destination", "carol"): NEW["carol"]}),
        folders=["INBOX"],
        since=since,
        before=before,
        settings=Settings(source_cafile=str(env.ca), destination_cafile=str(env.ca)),
    )
    assert result.error == "" and result.missing == 0 and result.mismatched == 0
    [inbox] = result.folders
    assert (inbox.source, inbox.destination) == (["INBOX"], "INBOX")
    assert inbox.copied == inbox.source_count == expected
    again = copy_mailbox(
        Server("127.0.0.1", env.old.port, "ssl"),
        Server("127.0.0.1", env.new.port, "ssl"),
        "carol",
        "carol",
        Passwords({("source", "carol"): OLD["carol"], ("destination", "carol"): NEW["carol"]}),
        folders=["INBOX"],
        since=since,
        before=before,
        settings=Settings(source_cafile=str(env.ca), destination_cafile=str(env.ca)),
    )
    assert sum(f.copied for f in again.folders) == 0


@pytest.mark.integration
def test_a_connection_dropped_mid_copy_retries_the_account_without_duplicates(env: Env) -> None:
    client: Any = env.new.client("carol", env.ca)
    try:
        for flags, _d, name in client.list_folders():
            if b"\\Noselect" not in flags and b"\\NonExistent" not in flags:
                client.select_folder(name)
                client.delete_messages(client.search(["ALL"]))
                client.expunge()
    finally:
        client.logout()
    (env.files / "carol-only").write_text("carol carol\n")
    with delay_proxy(env.old.port, 0.0, drop_after=4_000_000) as cutting:
        cmd = command(env, f"127.0.0.1:{cutting.port}", f"hkmail:127.0.0.1:{env.new.port}")
        cmd[cmd.index("--accounts") + 1] = str(env.files / "carol-only")
        cmd += ["--source-security", "ssl", "--format", "json"]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert cutting.dropped == 1
    assert done.returncode == 0, done.stdout + done.stderr
    assert "connection lost" in done.stderr and "retrying the account" in done.stderr
    doc = json.loads(done.stdout)
    [carol] = doc["accounts"]
    assert carol["attempts"] == 2 and carol["missing"] == 0 and carol["mismatched"] == 0
    # the second attempt copied only what the first had not: nothing twice
    assert 0 < doc["copied"] < env.corpus.count("carol")
    client = env.new.client("carol", env.ca)
    try:
        on_destination = sum(
            client.folder_status(name, [b"MESSAGES"])[b"MESSAGES"]
            for flags, _d, name in client.list_folders()
            if b"\\Noselect" not in flags and b"\\NonExistent" not in flags
        )
    finally:
        client.logout()
    assert on_destination == env.corpus.count("carol")


def test_copy_batches_stay_bounded_in_bytes() -> None:
    """Bodies are fetched and appended 16 MB (or 200 messages) at a time; a larger message
    travels alone, so memory is bounded by the batch limit or the largest message."""
    from toolchain.imapcopy import COPY_BATCH_BYTES, Msg, _batches

    sizes = [3_000_000] * 11 + [25_000_000] + [2_000] * 450 + [9_000_000, 9_000_000]
    msgs = [Msg(i + 1, f"mid:<{i}>", n, (), None) for i, n in enumerate(sizes)]
    batches = list(_batches(msgs))
    assert [m for b in batches for m in b] == msgs
    for b in batches:
        total = sum(m.size for m in b)
        assert len(b) <= 200 and (total <= COPY_BATCH_BYTES or len(b) == 1), (len(b), total)
    assert [len(b) for b in batches if b[0].size == 25_000_000] == [1]


@pytest.mark.parametrize(
    ("answer", "busy"),
    [
        # Dovecot 2.3.19 (seen in the test above) and older Dovecot (node-imap issue #606)
        ("NO [LIMIT] Maximum number of connections from user+IP exceeded", True),
        ("NO [UNAVAILABLE] Maximum number of connections from user+IP exceeded", True),
        # Gmail (wildduck issue #35, imapsync issue #61)
        ("NO [ALERT] Too many simultaneous connections. (Failure)", True),
        ("NO [INUSE] Mailbox in use", True),
        ("NO [AUTHENTICATIONFAILED] Authentication failed.", False),
        ("NO [TRYCREATE] Mailbox does not exist", False),
    ],
)
def test_busy_answers_are_told_from_refusals(answer: str, busy: bool) -> None:
    from toolchain.imapconn import is_busy

    assert is_busy(answer) is busy
