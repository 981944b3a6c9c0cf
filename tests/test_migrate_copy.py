"""scripts/migrate copy between two real Dovecot servers on loopback: the old one laid out like
Tencent Exmail (Chinese folder names, "." separator, no special-use flags), the new one like our
private server (special-use Sent/Drafts/Junk/Trash, "/" separator). The corpus has thousands of
messages, MB-sized attachments, duplicates and messages without a Message-ID."""

from __future__ import annotations

import collections
import contextlib
import datetime as dt
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from hkmail.spec import read_stack
from tests.imap_support import KEYWORD, Corpus, Dovecot, build_corpus, dovecot_pair
from tests.support import REPO, free_port, knot, migration_config

OLD_USERS = {"alice": "Old-pass-alice-7Qx!", "bob": "Old-pass-bob-3Zk%"}
NEW_USERS = {"alice.chan": "New-pass-alice-9Rw#", "bob": "New-pass-bob-5Yt&"}
ACCOUNTS = "alice alice.chan\nbob bob  # same name on both\n"
# the old folders -> where they must land on our Dovecot
EXPECTED = {
    "INBOX": "INBOX",
    "已发送": "Sent",
    "草稿箱": "Drafts",
    "垃圾邮件": "Junk",
    "已删除": "Trash",
    "项目": "项目",
    "项目.2024": "项目/2024",
    "项目.2024.客户 A&B": "项目/2024/客户 A&B",
    "Archive.2019": "Archive/2019",
}
SECRETS = (*OLD_USERS.values(), *NEW_USERS.values())


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    return build_corpus(tmp_path_factory.mktemp("corpus"))


@dataclass
class Env:
    old: Dovecot
    new: Dovecot
    ca: Path
    corpus: Corpus
    files: Path
    outputs: list[str]


@pytest.fixture(scope="module")
def env(corpus: Corpus, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    with dovecot_pair(OLD_USERS, NEW_USERS) as (old, new, ca):
        old.load(corpus)
        files = tmp_path_factory.mktemp("copy")
        (files / "accounts.txt").write_text(ACCOUNTS)
        pw = files / "passwords"
        pw.write_text(
            "".join(f"source {u} {p}\n" for u, p in OLD_USERS.items())
            + "".join(f"destination {u} {p}\n" for u, p in NEW_USERS.items())
        )
        pw.chmod(0o600)
        yield Env(old, new, ca, corpus, files, [])


def args(env: Env, *extra: str) -> list[str]:
    return [
        str(REPO / "scripts" / "migrate"),
        "copy",
        "--accounts",
        str(env.files / "accounts.txt"),
        "--passwords",
        str(env.files / "passwords"),
        "--source",
        f"127.0.0.1:{env.old.port}",
        "--source-security",
        "ssl",
        "--timeout",
        "30",
        "--source-cafile",
        str(env.ca),
        "--destination",
        f"hkmail:127.0.0.1:{env.new.port}",  # the preset of our Dovecot, on a test port
        "--destination-cafile",
        str(env.ca),
        *extra,
    ]


def copy(env: Env, *extra: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(args(env, *extra), capture_output=True, text=True, timeout=600)
    env.outputs += [done.stdout, done.stderr]
    return done


def folder_counts(server: Dovecot, user: str, ca: Path) -> dict[str, int]:
    client: Any = server.client(user, ca)
    try:
        out = {}
        for flags, _delim, name in client.list_folders():
            if {b"\\Noselect", b"\\NonExistent"} & set(flags):
                continue  # a parent that only exists through its children
            status = client.folder_status(name, [b"MESSAGES"])
            out[name] = status[b"MESSAGES"]
        return out
    finally:
        client.logout()


def messages(
    server: Dovecot, user: str, folder: str, ca: Path
) -> collections.Counter[tuple[Any, ...]]:
    client: Any = server.client(user, ca)
    client.normalise_times = False
    try:
        client.select_folder(folder, readonly=True)
        uids = client.search(["ALL"])
        got: collections.Counter[tuple[Any, ...]] = collections.Counter()
        for _uid, data in client.fetch(
            uids, ["INTERNALDATE", "FLAGS", "RFC822.SIZE", "BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"]
        ).items():
            header = next(v for k, v in data.items() if k.startswith(b"BODY[HEADER"))
            got[
                (
                    header.strip(),
                    data[b"INTERNALDATE"].timestamp(),
                    tuple(sorted(f for f in data[b"FLAGS"] if f != b"\\Recent")),
                    data[b"RFC822.SIZE"],
                )
            ] += 1
        return got
    finally:
        client.logout()


def total(counts: dict[str, int]) -> int:
    return sum(counts.values())


OLD_ZONE = """$ORIGIN harbourtrading.com.hk.
@ 3600 IN SOA ns1.oldhost.example. hostmaster 1 3600 600 86400 600
@ 86400 IN NS ns1.oldhost.example.
@ 3600 IN MX 5 mx1.qiye.aliyun.com.
@ 3600 IN MX 10 mx2.qiye.aliyun.com.
@ 600 IN TXT "v=spf1 include:spf.qiye.aliyun.com ip4:192.0.2.25 -all"
_dmarc 600 IN TXT "v=DMARC1; p=none; rua=mailto:dmarc@harbourtrading.com.hk"
default._domainkey 600 IN TXT "v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQC"
_imaps._tcp 600 IN SRV 0 1 993 imap.qiye.aliyun.com.
"""
OLD_ROOT = """$ORIGIN .
. 86400 IN SOA a.root.test. hostmaster.root.test. 1 1800 900 604800 86400
. 86400 IN NS a.root.test.
a.root.test. 86400 IN A 127.0.0.11
harbourtrading.com.hk. 86400 IN NS ns1.oldhost.example.
ns1.oldhost.example. 86400 IN A 127.0.0.12
spf.qiye.aliyun.com. 300 IN TXT "v=spf1 ip4:203.0.113.0/24 -all"
"""


@pytest.mark.integration
def test_0_inventory_reads_the_mailboxes_and_the_live_dns(env: Env, tmp_path: Path) -> None:
    port = free_port()
    with contextlib.ExitStack() as stack:
        for address, zones in (
            ("127.0.0.11", {".": OLD_ROOT}),
            ("127.0.0.12", {"harbourtrading.com.hk": OLD_ZONE}),
        ):
            (tmp_path / address).mkdir()
            stack.enter_context(knot(tmp_path / address, zones, port, address))
        done = subprocess.run(
            [
                str(REPO / "scripts" / "inventory"),
                *("--accounts", str(env.files / "accounts.txt")),
                *("--passwords", str(env.files / "passwords")),
                *("--source", f"127.0.0.1:{env.old.port}", "--source-security", "ssl"),
                *("--source-cafile", str(env.ca), "--domain", "harbourtrading.com.hk"),
                *("--root-server", f"127.0.0.11:{port}", "--dns-port", str(port)),
                *("--output-dir", str(tmp_path / "report")),
            ],
            capture_output=True,
            text=True,
            timeout=300,
        )
    env.outputs += [done.stdout, done.stderr]
    assert done.returncode == 0, done.stdout + done.stderr
    doc = json.loads((tmp_path / "report" / "inventory.json").read_text())
    assert doc["totals"]["messages"] == len(env.corpus.messages)
    assert doc["totals"]["bytes"] == env.corpus.total_bytes
    alice = doc["accounts"][0]
    folders = {f["name"]: f for f in alice["folders"]}
    for old, new in EXPECTED.items():
        assert folders[old]["messages"] == env.corpus.count("alice", old)
        assert folders[old]["mapsTo"] == new
    [dom] = doc["domains"]
    assert dom["mx"] == [
        {"host": "mx1.qiye.aliyun.com", "priority": 5},
        {"host": "mx2.qiye.aliyun.com", "priority": 10},
    ]
    assert dom["mxTtl"] == 3600  # the published TTL: what the cut-over has to wait out
    assert list(dom["dkim"]) == ["default"] and dom["dmarc"].startswith("v=DMARC1; p=none")
    assert dom["spfCost"]["lookups"] == 1 and dom["srv"]["_imaps._tcp"]
    markdown = (tmp_path / "report" / "inventory.md").read_text()
    assert "| 已发送 | \\Sent | Sent | " in markdown
    # the suggested settings are valid hkmail:migration.old settings
    block = markdown.split("```yaml\n")[1].split("```")[0]
    old = yaml.safe_load(block)["hkmail:migration"]["old"]
    assert old["mxTtl"] == 3600 and old["spf"]["ip4"] == ["192.0.2.25"]
    cfg = migration_config("prepare")
    cfg["hkmail:migration"]["old"] = old
    spec = read_stack(cfg)
    assert spec.migration is not None
    assert spec.migration.old.imap_host == "127.0.0.1"


@pytest.mark.integration
def test_1_dry_run_writes_nothing(env: Env) -> None:
    done = copy(env, "--dry-run", "--format", "json", "--no-progress")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["copied"] == 0
    alice = doc["accounts"][0]
    mapped = {tuple(f["source"]): f["destination"] for f in alice["folders"]}
    for old, new in EXPECTED.items():
        assert mapped[(old,)] == new, (old, mapped)
    assert sum(f["toCopy"] for f in alice["folders"]) == env.corpus.count("alice")
    assert total(folder_counts(env.new, "alice.chan", env.ca)) == 0
    assert "项目" not in folder_counts(env.new, "alice.chan", env.ca)


@pytest.mark.integration
def test_2_an_interrupted_copy_resumes_without_duplicates(env: Env) -> None:
    assert len(env.corpus.messages) > 2000 and env.corpus.total_bytes > 12_000_000
    proc = subprocess.Popen(args(env), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    copied = 0
    while time.monotonic() < deadline and proc.poll() is None:
        copied = total(folder_counts(env.new, "alice.chan", env.ca))
        if copied >= 300:
            break
        time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)  # no chance to clean up: like a lost connection or a crash
    out, err = proc.communicate(timeout=30)
    env.outputs += [out, err]
    assert copied >= 300, err
    # both accounts were being copied at once (--jobs)
    partial = total(folder_counts(env.new, "alice.chan", env.ca))
    assert partial < env.corpus.count("alice"), "the copy finished before it could be interrupted"
    partial += total(folder_counts(env.new, "bob", env.ca))

    done = copy(env, "--format", "json")
    assert done.returncode == 0, done.stdout + done.stderr
    doc = json.loads(done.stdout)
    assert doc["missing"] == 0
    assert doc["copied"] == len(env.corpus.messages) - partial
    assert "alice -> alice.chan: " in done.stderr and "copy: 2/2 accounts" in done.stderr
    # exactly the source's messages: nothing copied twice by the resumed run
    for user, dest_user in (("alice", "alice.chan"), ("bob", "bob")):
        counts = folder_counts(env.new, dest_user, env.ca)
        for old, new in EXPECTED.items():
            assert counts[new] == env.corpus.count(user, old), (user, old, new)


@pytest.mark.integration
def test_3_a_second_run_copies_nothing(env: Env) -> None:
    done = copy(env, "--no-progress")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "(0 copied in this run)" in done.stdout
    assert f"all {len(env.corpus.messages)} source messages are on the destination" in done.stdout


@pytest.mark.integration
def test_4_flags_dates_sizes_and_ids_are_kept(env: Env) -> None:
    for old, new in (
        ("INBOX", "INBOX"),
        ("已发送", "Sent"),
        ("项目.2024.客户 A&B", "项目/2024/客户 A&B"),
    ):
        source = messages(env.old, "alice", old, env.ca)
        assert messages(env.new, "alice.chan", new, env.ca) == source, old
    inbox = messages(env.new, "alice.chan", "INBOX", env.ca)
    flags = {f for key in inbox for f in key[2]}
    assert {b"\\Seen", b"\\Flagged", b"\\Answered", KEYWORD.encode()} <= flags
    assert any(n == 2 for n in inbox.values())  # duplicates stay duplicates
    assert any(key[0] == b"" for key in inbox)  # messages without a Message-ID are there
    assert max(key[3] for key in inbox) > 4_000_000  # the big attachment, whole


@pytest.mark.integration
def test_5_verification_catches_a_message_deleted_on_the_destination(env: Env) -> None:
    client: Any = env.new.client("alice.chan", env.ca)
    try:
        client.select_folder("项目/2024")
        uid = client.search(["ALL"])[5]
        client.delete_messages([uid])
        client.expunge()
    finally:
        client.logout()
    check = copy(env, "--verify-only", "--format", "json")
    assert check.returncode == 1, check.stdout + check.stderr
    doc = json.loads(check.stdout)
    assert doc["missing"] == 1
    [bad] = [f for a in doc["accounts"] for f in a["folders"] if f["missing"]]
    assert (bad["source"], bad["destination"]) == (["项目.2024"], "项目/2024")
    text = copy(env, "--verify-only")
    assert text.returncode == 1 and "MISSING 1" in text.stdout and "FAILED" in text.stdout
    again = copy(env, "--no-progress")  # the next incremental run puts it back
    assert again.returncode == 0 and "(1 copied in this run)" in again.stdout


@pytest.mark.integration
def test_6_passwords_are_never_shown(env: Env, tmp_path: Path) -> None:
    loose = tmp_path / "passwords"
    loose.write_text((env.files / "passwords").read_text())
    loose.chmod(0o644)
    done = subprocess.run(
        [*args(env)[:5], str(loose), *args(env)[6:]], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2 and "readable by group or others" in done.stderr
    wrong = tmp_path / "wrong"
    wrong.write_text("source alice Wrong-secret-123\nsource bob Wrong-secret-123\n")
    wrong.chmod(0o600)
    bad = subprocess.run(
        [*args(env)[:5], str(wrong), *args(env)[6:]],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "HKMAIL_DESTINATION_PASSWORD": "Env-secret-456"},
    )
    assert bad.returncode == 2 and "cannot log in as alice" in bad.stderr
    for text in [*env.outputs, done.stdout, done.stderr, bad.stdout, bad.stderr]:
        for secret in (*SECRETS, "Wrong-secret-123", "Env-secret-456"):
            assert secret not in text


def _mid(client: Any, uid: int) -> str:
    data = client.fetch([uid], ["BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"])[uid]
    header = next(v for k, v in data.items() if k.startswith(b"BODY[HEADER"))
    return header.decode().split(":", 1)[1].strip()


def _replace(client: Any, folder: str, uid: int, *, shift_days: int = 0, extra: bytes = b"") -> str:
    """Put the message back changed: another internal date, or more bytes."""
    client.select_folder(folder)
    data = client.fetch([uid], ["BODY.PEEK[]", "FLAGS", "INTERNALDATE"])[uid]
    mid = _mid(client, uid)
    when = data[b"INTERNALDATE"] + dt.timedelta(days=shift_days)
    flags = [f for f in data[b"FLAGS"] if f != b"\\Recent"]
    client.delete_messages([uid])
    client.expunge()
    client.append(folder, extra + data[b"BODY[]"], flags=flags, msg_time=when)
    return mid


@pytest.mark.integration
def test_7_the_closing_check_names_flag_date_and_size_differences(env: Env) -> None:
    client: Any = env.new.client("alice.chan", env.ca)
    client.normalise_times = False
    try:
        client.select_folder("INBOX")
        seen = client.search(["SEEN", "HEADER", "Message-ID", "@"])[3]
        flag_mid = _mid(client, seen)
        client.remove_flags([seen], [b"\\Seen"])
        client.select_folder("Sent")
        date_mid = _replace(
            client, "Sent", client.search(["HEADER", "Message-ID", "@"])[2], shift_days=1
        )
        client.select_folder("项目")
        size_mid = _replace(
            client, "项目", client.search(["HEADER", "Message-ID", "@"])[1], extra=b"X-Note: a\r\n"
        )
    finally:
        client.logout()
    report = env.files / "check.json"
    check = copy(env, "--verify-only", "--report", str(report), "--no-progress")
    assert check.returncode == 1, check.stdout + check.stderr
    doc = json.loads(report.read_text())
    assert doc["missing"] == 0 and doc["mismatched"] == 3
    found = {
        (p["kind"], p["folder"], p["message"])
        for a in doc["accounts"]
        for f in a["folders"]
        for p in f["problems"]
    }
    assert found == {
        ("flags", "INBOX", flag_mid),
        ("internaldate", "已发送", date_mid),
        ("size", "项目", size_mid),
    }
    assert f"flags: {flag_mid} in INBOX (not set: \\Seen)" in check.stdout
    assert "DIFFERENT 1" in check.stdout and "FAILED" in check.stdout
    # a copy run sets the flag again; a changed date or size it cannot mend: still exit 1
    again = copy(env, "--format", "json", "--no-progress")
    assert again.returncode == 1
    doc = json.loads(again.stdout)
    assert doc["mismatched"] == 2 and doc["copied"] == 0
    assert sum(f["flagsUpdated"] for a in doc["accounts"] for f in a["folders"]) == 1
    client = env.new.client("alice.chan", env.ca)
    try:
        for folder, mid in (("Sent", date_mid), ("项目", size_mid)):
            client.select_folder(folder)
            client.delete_messages(client.search(["HEADER", "Message-ID", mid]))
            client.expunge()
    finally:
        client.logout()
    mended = copy(env, "--no-progress")
    assert mended.returncode == 0 and "(2 copied in this run)" in mended.stdout


@pytest.mark.integration
def test_8_a_changed_uidvalidity_is_noticed_and_copies_nothing_twice(env: Env) -> None:
    report = env.files / "report.json"
    first = copy(env, "--report", str(report), "--no-progress")
    assert first.returncode == 0, first.stdout + first.stderr
    before = json.loads(report.read_text())
    for server, user, folder in ((env.new, "alice.chan", "INBOX"), (env.old, "alice", "项目.2024")):
        done = subprocess.run(
            [
                *("doveadm", "-c", str(server.root / "dovecot.conf"), "mailbox", "update"),
                *("-u", user, "--uid-validity", "12345", folder),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
    again = copy(env, "--report", str(report), "--format", "json", "--no-progress")
    assert again.returncode == 0, again.stdout + again.stderr
    doc = json.loads(again.stdout)
    assert doc["copied"] == 0 and doc["missing"] == 0
    [alice] = [a for a in doc["accounts"] if a["source"] == "alice"]
    notes = " ".join(alice["notes"])
    assert "UIDVALIDITY of destination (INBOX) changed since the last run" in notes
    assert "UIDVALIDITY of source folder 项目.2024 (项目/2024) changed" in notes
    assert json.loads(report.read_text())["accounts"] != before["accounts"]
