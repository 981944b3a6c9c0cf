"""``scripts/archive drill`` on the real parts: the shared session mail server (Postfix, Dovecot)
backs itself up with its rendered hkmail-backup and the real restic into the archive bucket on
moto's S3 server (tests/archive_support.py); the drill restores the archivist's mailbox from the
newest snapshot and compares it with the live Dovecot over IMAPS. It passes on an intact backup,
FAILS when the live mailbox and the restored copy disagree (a flag set and an old message added
after the snapshot), records both under drills/ for ``scripts/archive health``, and refuses bad
input with nothing recorded."""

from __future__ import annotations

import datetime as dt
import imaplib
import json
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from imapclient import imap_utf7  # type: ignore[import-untyped]

from hkmail.mailserver.backup import BACKUP_CONF, BACKUP_PASSWORD, BACKUP_RUN
from hkmail.mailserver.journal import DRILL_PREFIX
from tests.archive_support import ARCHIVE_BUCKET, ARCHIVIST, Journal, deliver, refusing_proxy
from tests.mailserver_support import DOMAIN, HOST, PASSWORDS, MailServer
from tests.support import require_tool
from toolchain import archive, archive_drill

pytestmark = pytest.mark.integration

LOGIN = f"{ARCHIVIST}@{DOMAIN}"
EMPTY_BUCKET = "hkmail-drill-no-backup"
# A nested, non-ASCII folder: on disk Dovecot's Maildir++ name in modified UTF-7.
FOLDER = "項目/2026"


@dataclass
class Env:
    server: MailServer
    journal: Journal
    files: Path

    def args(self, *extra: str, user: str = LOGIN) -> list[str]:
        return [
            "drill",
            *("--cloud", "tencentcloud", "--bucket", ARCHIVE_BUCKET),
            *("--endpoint", self.journal.store.url),
            *("--password-file", str(self.files / "drill-password")),
            *("--record-dir", str(self.files / "records")),
            *("--server", f"{HOST}:{self.server.ports.imaps}", "--server-security", "ssl"),
            *("--server-cafile", str(self.files / "ca.pem")),
            *("--passwords", str(self.files / "passwords")),
            *("--maildir-root", str(self.server.p("/var/vmail"))),
            *("--user", user, "--operator", "drill-test@ci"),
            *extra,
        ]

    def drills(self) -> list[str]:
        return self.journal.store.keys(ARCHIVE_BUCKET, DRILL_PREFIX)

    def record(self, key: str) -> dict[str, Any]:
        c = self.journal.store.client()
        doc: dict[str, Any] = json.loads(
            c.get_object(Bucket=ARCHIVE_BUCKET, Key=key)["Body"].read()
        )
        return doc

    def imap(self) -> imaplib.IMAP4_SSL:
        imap = imaplib.IMAP4_SSL("127.0.0.1", self.server.ports.imaps, ssl_context=self.server.tls)
        imap.login(LOGIN, PASSWORDS[ARCHIVIST])
        return imap


@pytest.fixture(scope="module")
def env(mail_server: MailServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    """The archivist's mailbox with mail and a flag, backed up once by the server itself."""
    require_tool("restic", "restic")
    journal = mail_server.extras["journal"]
    assert isinstance(journal, Journal)
    files = tmp_path_factory.mktemp("drill")
    (files / "ca.pem").write_text(mail_server.acme_root)
    (files / "passwords").write_text(
        f"destination {LOGIN} {PASSWORDS[ARCHIVIST]}\ndestination nobody@{DOMAIN} nobody-Pa55\n"
    )
    (files / "passwords").chmod(0o600)
    # As the README has the operator write it: (umask 077; pulumi config get ... > FILE)
    (files / "drill-password").write_bytes(Path(mail_server.p(BACKUP_PASSWORD)).read_bytes())
    (files / "drill-password").chmod(0o600)
    (files / "records").mkdir()
    e = Env(mail_server, journal, files)
    mids = [deliver(mail_server, f"drill {i}") for i in range(3)]
    for mid in mids:
        assert mail_server.fetch(ARCHIVIST, mid, timeout=120), mail_server.log()
    imap = e.imap()
    try:  # a flag the backup must keep, and a folder of its own with one message
        imap.select("INBOX")
        _, data = imap.search(None, "HEADER", "Message-ID", mids[0])
        imap.store(data[0].split()[0], "+FLAGS", "\\Flagged")
        wire = '"' + imap_utf7.encode(FOLDER).decode() + '"'
        imap.create(wire)
        raw = f"Subject: filed\r\nMessage-ID: <{uuid.uuid4()}@drill.test>\r\n\r\nfiled\r\n"
        when = imaplib.Time2Internaldate(dt.datetime(2024, 5, 6, 7, 8, 9, tzinfo=dt.UTC))
        imap.append(wire, "(\\Seen \\Answered)", when, raw.encode())
    finally:
        imap.logout()
    journal.store.client().create_bucket(
        Bucket=EMPTY_BUCKET, CreateBucketConfiguration={"LocationConstraint": "ap-hongkong"}
    )
    backup = subprocess.run(
        ["/usr/bin/python3", str(mail_server.p(BACKUP_RUN)), str(mail_server.p(BACKUP_CONF))],
        env=journal.env(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert backup.returncode == 0, backup.stdout[-3000:] + backup.stderr[-3000:]
    yield e


def _health(e: Env, capsys: pytest.CaptureFixture[str]) -> tuple[dict[str, Any], str]:
    archive.main(["health", "--cloud", "tencentcloud", "--bucket", ARCHIVE_BUCKET,
                  "--endpoint", e.journal.store.url])  # fmt: skip
    out, err = capsys.readouterr()
    report: dict[str, Any] = json.loads(out)
    return report, err


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """The operator's key, and the server's name resolving to loopback (its certificate, from
    the test ACME server, is for that name and is verified as on a real drill)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDoperator")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "operator-secret")
    real = socket.getaddrinfo

    def resolve(host: Any, *args: Any, **kw: Any) -> Any:
        return real("127.0.0.1" if host == HOST else host, *args, **kw)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)


def test_a_drill_passes_on_an_intact_backup_and_is_recorded(
    env: Env, keys: None, capsys: pytest.CaptureFixture[str]
) -> None:
    before = set(env.drills())
    code = env.args()
    assert archive.main(code) == 0, capsys.readouterr().err + env.server.log()
    out = capsys.readouterr().out
    assert "archive drill: PASS: " in out, out
    [key] = set(env.drills()) - before
    record = env.record(key)
    assert record["verdict"] == "PASS" and record["problems"] == [], record
    assert record["restoredMessages"] >= 3 and record["operator"] == "drill-test@ci", record
    assert record["mailbox"] == LOGIN and record["snapshot"]["id"], record
    assert record["liveMessages"] >= record["restoredMessages"]
    assert record["scope"] == "every folder" and record["folders"] >= 2, record
    assert PASSWORDS[ARCHIVIST] not in json.dumps(record) + out
    # Kept under the bucket's retention, like the journal.
    head = env.journal.store.client().head_object(Bucket=ARCHIVE_BUCKET, Key=key)
    assert head["ObjectLockMode"] == "COMPLIANCE"
    report, err = _health(env, capsys)
    assert report["drill"]["object"] == key and report["drill"]["sha256Matches"] is True
    assert "drill" not in err, err
    # No copy of the mail is left behind on the operator's machine.
    assert not list(Path(tempfile.gettempdir()).glob("hkmail-drill-*"))


def test_a_sample_drill_restores_and_compares_one_folder(
    env: Env, keys: None, capsys: pytest.CaptureFixture[str]
) -> None:
    before = set(env.drills())
    assert archive.main(env.args("--folder", FOLDER)) == 0, capsys.readouterr().err
    [key] = set(env.drills()) - before
    record = env.record(key)
    assert (record["verdict"], record["scope"], record["folders"]) == ("PASS", [FOLDER], 1)
    assert (record["restoredMessages"], record["liveMessages"]) == (1, 1), record


def test_changes_made_since_the_snapshot_are_listed_not_failed(
    env: Env, keys: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """After the snapshot the owner sets a flag, moves a message into another folder and appends
    one dated 2020: the backup still restores every message byte for byte, so the drill PASSES,
    and the record counts and names each change."""
    old_mid = f"<{uuid.uuid4()}@drill.test>"
    wire = '"' + imap_utf7.encode(FOLDER).decode() + '"'
    imap = env.imap()
    try:
        imap.select("INBOX")
        _, data = imap.search(None, "ALL")
        first, second = data[0].split()[:2]
        imap.store(first, "+FLAGS", "\\Answered")
        _, got = imap.fetch(second, "(BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
        moved_mid = got[0][1].decode().split(":", 1)[1].strip()  # type: ignore[index,union-attr]
        assert imap.copy(second, wire)[0] == "OK"
        imap.store(second, "+FLAGS", "\\Deleted")
        imap.expunge()
        when = imaplib.Time2Internaldate(dt.datetime(2020, 1, 2, 3, 4, 5, tzinfo=dt.UTC))
        raw = f"Subject: old\r\nMessage-ID: {old_mid}\r\n\r\nnever backed up\r\n".encode()
        imap.append("INBOX", "", when, raw)
    finally:
        imap.logout()
    before = set(env.drills())
    try:
        assert archive.main(env.args()) == 0, capsys.readouterr().err
        out = capsys.readouterr().out
        assert "archive drill: PASS: " in out and " changed since the snapshot" in out, out
        assert "compared with the live mailbox over IMAP, not with the journal" in out, out
        [key] = set(env.drills()) - before
        record = env.record(key)
        assert record["verdict"] == "PASS" and record["problems"] == [], record
        assert record["changedSinceSnapshot"] == 3, record
        changes = "\n".join(record["changes"])
        assert "flags changed: backup" in changes and "\\Answered" in changes, changes
        assert f"INBOX: {moved_mid} (" in changes and f"moved to {FOLDER}" in changes, changes
        appended = f"{old_mid} (2020-01-02T03:04:05+00:00) in the live mailbox, dated before"
        assert appended in changes, changes
    finally:  # the shared mailbox as it was
        imap = env.imap()
        try:
            imap.select("INBOX")
            imap.store(first, "-FLAGS", "\\Answered")
            _, data = imap.search(None, "HEADER", "Message-ID", old_mid)
            for n in data[0].split():
                imap.store(n, "+FLAGS", "\\Deleted")
            imap.expunge()
            imap.select(wire)
            _, data = imap.search(None, "HEADER", "Message-ID", moved_mid)
            for n in data[0].split():
                assert imap.copy(n, "INBOX")[0] == "OK"
                imap.store(n, "+FLAGS", "\\Deleted")
            imap.expunge()
        finally:
            imap.logout()


def test_a_record_the_bucket_refuses_is_kept_locally_and_said_not_kept(
    env: Env, keys: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """The operator's key may read drills/ but not put there (403 from a proxy standing in for
    the policy): the drill runs, says the record was NOT kept and why, exits 3, and the record
    is in the local file."""
    before = env.drills()
    with refusing_proxy(env.journal.store, f"/{ARCHIVE_BUCKET}/{DRILL_PREFIX}") as proxy:
        args = env.args("--folder", FOLDER, "--endpoint", proxy.url)
        assert archive.main(args) == archive_drill.EXIT_NOT_KEPT
    out, err = capsys.readouterr()
    assert len(proxy.refused) == 1, proxy.refused
    assert "archive drill: PASS: " in out and "record NOT kept in " in out, out + err
    assert "archive drill: PASS; record written to " in err, err  # before the put
    assert f"needs PutObject on {DRILL_PREFIX}* of the archive bucket" in out, out
    assert env.drills() == before
    path = Path(out.rstrip().rsplit("the record is in ", 1)[1])
    record = json.loads(path.read_text())
    assert record["verdict"] == "PASS" and record["scope"] == [FOLDER], record
    with pytest.raises(SystemExit):
        archive.main(["drill", "--help"])
    assert "3 the drill ran but the bucket refused its record" in " ".join(
        capsys.readouterr().out.split()
    )


@pytest.mark.parametrize(
    ("extra", "user", "message"),
    [
        ((), f"nobody@{DOMAIN}", f"--user: nobody@{DOMAIN} has no mailbox on {HOST}:"),
        ((), ARCHIVIST, f"--user: '{ARCHIVIST}' is not valid; allowed: the log-in, local@domain"),
        (("--backup-bucket", EMPTY_BUCKET), LOGIN, "--backup-bucket: no restic repository at s3:"),
        (("--password-file", "/nonexistent/pw"), LOGIN, "--password-file: /nonexistent/pw cannot"),
        (
            ("--maildir-root", "/srv/mail"),
            LOGIN,
            "--maildir-root: /srv/mail/hkmail.test/archivist/",
        ),
        (("--folder", "Nope"), LOGIN, f"--folder: Nope not in {LOGIN}'s mailbox; allowed: "),
        (("--backup-bucket", "no-such-bucket"), LOGIN, "--backup-bucket: no restic repository at"),
        (("--record-dir", "/nonexistent"), LOGIN, "--record-dir: /nonexistent is not valid"),
        (("--bucket", "no-such-archive"), LOGIN, "--bucket: no-such-archive cannot be read ("),
    ],
)
def test_bad_input_is_refused_and_nothing_is_recorded(
    env: Env,
    keys: None,
    capsys: pytest.CaptureFixture[str],
    extra: tuple[str, ...],
    user: str,
    message: str,
) -> None:
    before = env.drills()
    assert archive.main(env.args(*extra, user=user)) == 2
    out, err = capsys.readouterr()
    assert message in err and "Traceback" not in err, err
    assert out == "" and env.drills() == before
    assert PASSWORDS[ARCHIVIST] not in err


def test_a_backup_the_key_may_not_read_is_told_from_a_missing_one(
    env: Env, keys: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """403 on backup/ (a proxy standing in for the key's policy): said as a refused key, not as
    'no repository'."""
    before = env.drills()
    refuse = f"/{ARCHIVE_BUCKET}/backup/"
    with refusing_proxy(env.journal.store, refuse, ("GET", "HEAD")) as proxy:
        assert archive.main(env.args("--endpoint", proxy.url)) == 2
    err = capsys.readouterr().err
    assert proxy.refused, "restic asked nothing under backup/"
    assert "--backup-bucket: the store refused the operator's key (it needs GetObject" in err, err
    assert "no restic repository" not in err and env.drills() == before


def test_a_password_file_others_may_read_is_refused(
    env: Env, keys: None, capsys: pytest.CaptureFixture[str]
) -> None:
    shared = env.files / "shared-password"
    shared.write_bytes((env.files / "drill-password").read_bytes())
    shared.chmod(0o644)
    before = env.drills()
    assert archive.main(env.args("--password-file", str(shared))) == 2
    err = capsys.readouterr().err
    assert f"--password-file: {shared} may be read by group or others (mode 644)" in err, err
    assert "(umask 077; pulumi config get hkmail:backupPassword > FILE)" in err, err
    assert env.drills() == before


def test_a_restic_that_does_not_answer_in_time_is_refused_not_a_traceback(
    env: Env, keys: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(archive_drill, "RESTIC_TIMEOUT", 0.001)
    before = env.drills()
    assert archive.main(env.args()) == 2
    err = capsys.readouterr().err
    assert "--backup-bucket: restic timed out reaching s3:" in err, err
    assert "Traceback" not in err and env.drills() == before


def test_a_wrong_repository_password_is_refused(
    env: Env, keys: None, capsys: pytest.CaptureFixture[str]
) -> None:
    wrong = env.files / "wrong-password"
    wrong.write_text("not-the-repository-password\n")
    wrong.chmod(0o600)
    before = env.drills()
    assert archive.main(env.args("--password-file", str(wrong))) == 2
    err = capsys.readouterr().err
    assert "--password-file: the repository password does not open s3:" in err, err
    assert env.drills() == before


def test_a_drill_fails_when_the_backup_itself_is_damaged(
    env: Env, keys: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every data pack of the repository overwritten (a new version) with bytes flipped: the
    restored data cannot match the snapshot, and the drill FAILS instead of trusting it."""
    c = env.journal.store.client()
    packs = env.journal.store.keys(ARCHIVE_BUCKET, "backup/data/")
    assert packs
    original = {k: c.get_object(Bucket=ARCHIVE_BUCKET, Key=k)["Body"].read() for k in packs}
    before = set(env.drills())
    try:
        for k, data in original.items():
            middle = len(data) // 2
            damaged = data[:middle] + bytes(b ^ 0xFF for b in data[middle : middle + 64])
            c.put_object(Bucket=ARCHIVE_BUCKET, Key=k, Body=damaged + data[middle + 64 :])
        assert archive.main(env.args()) == 1
        out, err = capsys.readouterr()
        assert "archive drill: FAIL: " in out, out + err
    finally:  # the repository as it was, for the drills after this one
        for k, data in original.items():
            c.put_object(Bucket=ARCHIVE_BUCKET, Key=k, Body=data)
    [key] = set(env.drills()) - before
    record = env.record(key)
    assert record["verdict"] == "FAIL" and record["problemCount"] >= 1, record
    assert "restic restore exit" in record["problems"][0], record
    report, err = _health(env, capsys)
    assert report["drill"]["verdict"] == "FAIL"
    assert "ALARM the newest restore drill (" in err and "did not pass: FAIL" in err, err


def test_the_comparison_fails_only_what_no_live_message_matches() -> None:
    """The rule itself: same Message-ID, other bytes is 'differs'; one restored and gone from the
    live mailbox is named; a message moved to another folder, or live and dated before the
    snapshot without being in it, is a change; a live message newer than the snapshot is
    counted. Only the first two are problems."""
    snap = dt.datetime(2026, 12, 7, 2, 30, tzinfo=dt.UTC)
    t = int(snap.timestamp())
    seen = frozenset({b"\\Seen"})
    restored = {
        "INBOX": [
            archive_drill.Message("aa", "<a@x>", seen, t - 100),
            archive_drill.Message("bb", "<b@x>", seen, t - 50),
            archive_drill.Message("dd", "<d@x>", seen, t - 40),
        ]
    }
    live = {
        "INBOX": [
            archive_drill.Message("a2", "<a@x>", seen, t - 100),
            archive_drill.Message("cc", "<c@x>", frozenset(), t + 60),
            archive_drill.Message("ee", "<e@x>", frozenset(), t - 3600),
        ],
        "Archive": [archive_drill.Message("dd", "<d@x>", seen, t - 40)],
    }
    o = archive_drill.compare(restored, live, snap)
    assert (o.restored, o.live, o.newer) == (3, 4, 1)
    assert o.problems == [
        "INBOX: <a@x> (2026-12-07T02:28:20+00:00) differs from the live message",
        "INBOX: <b@x> (2026-12-07T02:29:10+00:00) restored, not in the live mailbox",
    ]
    assert o.changes == [
        "INBOX: <d@x> (2026-12-07T02:29:20+00:00) moved to Archive",
        "INBOX: <e@x> (2026-12-07T01:30:00+00:00) in the live mailbox, dated before the "
        "snapshot, not in the backup (appended since with an old date?)",
    ]
