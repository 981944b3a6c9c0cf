"""scripts/archive: e-discovery over the journal the real server wrote into the loopback bucket.

Messages are delivered to the shared real-daemon server, journaled and uploaded by the rendered
hkmail-journal-upload (tests/archive_support.py), then found and exported by toolchain.archive
through the same S3 client, and the export's manifest is checked against the bucket.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import mailbox
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.archive_support import ARCHIVE_BUCKET, ARCHIVIST, Journal, deliver
from tests.mailserver_support import MailServer
from toolchain import archive

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def exported(mail_server: MailServer) -> Iterator[dict[str, object]]:
    journal = mail_server.extras["journal"]
    assert isinstance(journal, Journal)
    tag = f"discovery-{uuid.uuid4().hex[:8]}"
    mids = [deliver(mail_server, f"{tag} {i} 合規") for i in range(3)]
    for mid in mids:
        mail_server.fetch(ARCHIVIST, mid)
    journal.wait_spooled(3)
    out = journal.upload_once()
    assert out.returncode == 0, out.stderr
    yield {"tag": tag, "mids": mids, "store": journal.store}


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDadministrator")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "administrator-secret")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "sts-token")


def _args(exported: dict[str, object], *extra: str, command: str = "export") -> list[str]:
    store = exported["store"]
    return [
        command,
        "--cloud",
        "tencentcloud",
        "--bucket",
        ARCHIVE_BUCKET,
        "--endpoint",
        store.url,
        *extra,
    ]  # type: ignore[attr-defined]


def test_export_a_date_range_as_eml_with_a_manifest_that_matches_the_journal(
    exported: dict[str, object], env: None, tmp_path: Path
) -> None:
    today = dt.datetime.now(dt.UTC).date().isoformat()
    out = tmp_path / "export"
    code = archive.main(
        _args(
            exported,
            "--since",
            today,
            "--until",
            today,
            "--subject",
            str(exported["tag"]),
            "--format",
            "eml",
            "--output",
            str(out),
        )
    )
    assert code == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["count"] == 3
    assert sorted(m["messageId"] for m in manifest["messages"]) == sorted(exported["mids"])  # type: ignore[arg-type]
    s3 = exported["store"].client()  # type: ignore[attr-defined]
    for m in manifest["messages"]:
        data = (out / m["file"]).read_bytes()
        journal_copy = s3.get_object(Bucket=ARCHIVE_BUCKET, Key=m["object"])["Body"].read()
        assert data == journal_copy
        assert m["sha256"] == hashlib.sha256(data).hexdigest() == manifest["files"][m["file"]]
        assert "合規" in m["subject"]
    assert archive.main(["verify", str(out)]) == 0
    # A changed file is caught by whoever checks the export.
    victim = out / manifest["messages"][0]["file"]
    victim.write_bytes(victim.read_bytes().replace(b"body", b"BODY"))
    assert archive.main(["verify", str(out)]) == 1


def test_export_by_message_id_as_mbox(
    exported: dict[str, object], env: None, tmp_path: Path
) -> None:
    mid = exported["mids"][1]  # type: ignore[index]
    out = tmp_path / "mbox"
    code = archive.main(
        _args(exported, "--message-id", mid.strip("<>"), "--format", "mbox", "--output", str(out))
    )
    assert code == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert [m["messageId"] for m in manifest["messages"]] == [mid]
    box = mailbox.mbox(str(out / "messages.mbox"))
    [msg] = list(box)
    assert msg["Message-ID"] == mid
    s3 = exported["store"].client()  # type: ignore[attr-defined]
    original = s3.get_object(Bucket=ARCHIVE_BUCKET, Key=manifest["messages"][0]["object"])
    assert (
        msg.as_bytes()
        .replace(b"\n", b"\r\n")
        .endswith(original["Body"].read().split(b"\r\n\r\n", 1)[1])
    )
    assert archive.main(["verify", str(out)]) == 0


def test_find_by_address(
    exported: dict[str, object], env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    code = archive.main(
        _args(
            exported,
            "--address",
            "news@partner.example",
            "--subject",
            str(exported["tag"]),
            "--json",
            command="find",
        )
    )
    assert code == 0
    found = json.loads(capsys.readouterr().out)
    assert sorted(e["messageId"] for e in found) == sorted(exported["mids"])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--since", "1999-01-01", "--until", "1999-01-02"], "nothing written"),
        (["--since", "2026-13-01"], "--since: '2026-13-01' is not valid; allowed: a date"),
        (["--since", "2026-12-02", "--until", "2026-12-01"], "is after --until"),
    ],
)
def test_bad_ranges_are_refused_and_nothing_is_written(
    exported: dict[str, object],
    env: None,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    message: str,
) -> None:
    out = tmp_path / "none"
    code = archive.main(_args(exported, *extra, "--format", "eml", "--output", str(out)))
    assert code == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_missing_credentials_are_named(
    exported: dict[str, object],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID", raising=False)
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY", raising=False)
    code = archive.main(_args(exported, "--format", "eml", "--output", str(tmp_path / "x")))
    assert code == 2
    assert "AWS_ACCESS_KEY_ID" in capsys.readouterr().err


def test_health_counts_the_days_and_names_the_newest_message(
    exported: dict[str, object], env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    code = archive.main(_args(exported, "--days", "2", command="health"))
    out = capsys.readouterr()
    report = json.loads(out.out)
    # The journal and its spool status are fresh; drills are judged in the drill's own tests.
    assert not [a for a in report["alarms"] if "drill" not in a], out.err
    assert code == (1 if report["alarms"] else 0), out.err
    assert report["spool"]["host"] and report["spool"]["stale"] is False, report
    today = dt.datetime.now(dt.UTC).date().isoformat()
    assert report["messagesPerDay"][today] >= 3
    assert report["newestObject"].startswith(f"journal/{today.replace('-', '/')}/")
    # Nothing newer than 0 hours: the monitor's alarm.
    assert archive.main(_args(exported, "--max-age-hours", "0", command="health")) == 1
    assert "ALARM no journaled message" in capsys.readouterr().err
    assert archive.main(_args(exported, "--days", "0", command="health")) == 2
