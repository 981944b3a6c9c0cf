"""``scripts/archive health`` as a monitor runs it: exit 1 with an ALARM line when the journal or
the nightly backup is stale, exit 2 on a bucket answer it cannot read. Against moto's S3 server
on loopback (the same store the backup and journal tests use)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from hkmail.mailserver.journal import JOURNAL_PREFIX
from hkmail.mailserver.s3 import S3
from tests.archive_support import LoopbackStore
from tests.support import free_tcp_ports
from toolchain import archive

JOURNAL = "health-journal"
BACKUP = "health-backup"
EMPTY = "health-backup-empty"


@pytest.fixture(scope="module")
def store() -> Iterator[LoopbackStore]:
    s = LoopbackStore(free_tcp_ports(1)[0]).start()
    try:
        c = s.client()
        for bucket in (JOURNAL, BACKUP, EMPTY):
            c.create_bucket(
                Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "ap-hongkong"}
            )
        now = dt.datetime.now(dt.UTC)
        key = f"{JOURNAL_PREFIX}{now:%Y/%m/%d}/health-1"
        c.put_object(Bucket=JOURNAL, Key=key + ".eml", Body=b"Subject: x\r\n\r\nx\r\n")
        entry = {"envelope": {"receivedAt": now.isoformat()}}
        c.put_object(Bucket=JOURNAL, Key=key + ".json", Body=json.dumps(entry).encode())
        # restic's snapshot object: encrypted content, its time is the Last-Modified
        c.put_object(Bucket=BACKUP, Key=archive.BACKUP_SNAPSHOTS + "a1b2c3", Body=b"\x00cipher")
        yield s
    finally:
        s.stop()


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDadministrator")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "administrator-secret")


def _health(store: LoopbackStore, *extra: str) -> list[str]:
    return ["health", "--cloud", "tencentcloud", "--bucket", JOURNAL, "--endpoint", store.url,
            *extra]  # fmt: skip


def test_a_fresh_backup_passes_and_a_stale_or_missing_one_alarms(
    store: LoopbackStore, env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert archive.main(_health(store, "--backup-bucket", BACKUP)) == 0, capsys.readouterr().err
    report = json.loads(capsys.readouterr().out)
    assert report["backup"]["snapshots"] == 1, report
    # older than 0 hours: stale
    code = archive.main(_health(store, "--backup-bucket", BACKUP, "--max-backup-age-hours", "0"))
    err = capsys.readouterr().err
    assert code == 1, err
    assert f"ALARM no backup snapshot in {BACKUP} in the last 0 h (newest: 20" in err, err
    assert "no journaled message" not in err, err
    # no snapshot at all
    assert archive.main(_health(store, "--backup-bucket", EMPTY)) == 1
    err = capsys.readouterr().err
    assert f"ALARM no backup snapshot in {EMPTY} in the last 36 h (newest: none)" in err, err
    with pytest.raises(SystemExit):
        archive.main(["health", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--max-backup-age-hours" in text and "(default 36: the backup runs nightly)" in text


def test_a_malformed_last_modified_is_a_clear_error(
    store: LoopbackStore,
    env: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    class Garbled(S3):
        """The real store, its HEAD answers' Last-Modified replaced by what no HTTP date is."""

        def request(
            self, method: str, key: str = "", **kw: Any
        ) -> tuple[int, Mapping[str, str], bytes]:
            status, headers, body = super().request(method, key, **kw)
            if method == "HEAD":
                headers = {**headers, "Last-Modified": "yesterday-ish"}
            return status, headers, body

    monkeypatch.setattr(archive, "S3", Garbled)
    assert archive.main(_health(store, "--backup-bucket", BACKUP)) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    assert (
        f"archive: {BACKUP}/{archive.BACKUP_SNAPSHOTS}a1b2c3: Last-Modified 'yesterday-ish' is not "
        "valid; allowed: an HTTP date" in err
    ), err


def test_a_negative_backup_age_is_refused(
    store: LoopbackStore, env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    code = archive.main(_health(store, "--backup-bucket", BACKUP, "--max-backup-age-hours", "-1"))
    assert code == 2
    assert "--max-backup-age-hours: -1 is not valid; allowed: a number of hours >= 0" in (
        capsys.readouterr().err
    )
