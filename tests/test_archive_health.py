"""``scripts/archive health`` as a monitor runs it: exit 1 with an ALARM line when the journal, the
nightly backup, the server's spool status or the restore drills are stale (or missing), exit 2 on
a bucket answer it cannot read or a bad threshold. Against moto's S3 server on loopback (the same
store the backup and journal tests use); the status and drill objects here are written as their
writers write them (the uploader's and the drill's own tests put real ones)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from hkmail.mailserver.journal import (
    DRILL_KIND,
    DRILL_PREFIX,
    JOURNAL_PREFIX,
    RECORD_KEY_TIME,
    SPOOL_STATUS_KIND,
    SPOOL_STATUS_PREFIX,
)
from hkmail.mailserver.s3 import S3
from tests.archive_support import LoopbackStore
from tests.support import free_tcp_ports
from toolchain import archive, archive_status

JOURNAL = "health-journal"
BACKUP = "health-backup"
EMPTY = "health-backup-empty"
# A journal alone: no spool status published, no drill on record.
BARE = "health-bare"
# A spool status with mail waiting and a drill, judged as of 3 hours later.
STALE = "health-stale"
# A spool status dated a day ahead of the store's clock.
FUTURE = "health-future"
# Valid records, and newer objects under their prefixes that the instance role (or anyone with
# its key) could have put there: not JSON, fields of the wrong type.
GARBAGE = "health-garbage"
# Only an object too large to be a record.
ONLY_GARBAGE = "health-only-garbage"
BUCKETS = (JOURNAL, BACKUP, EMPTY, BARE, STALE, FUTURE, GARBAGE, ONLY_GARBAGE)


def _put_json(c: Any, bucket: str, key: str, doc: dict[str, Any] | bytes) -> None:
    """As the uploader and the drill put theirs: JSON with its sha256 as metadata."""
    data = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    c.put_object(Bucket=bucket, Key=key, Body=data,
                 Metadata={"sha256": hashlib.sha256(data).hexdigest()})  # fmt: skip


def _spool(at: dt.datetime, depth: int, oldest: dt.datetime | None) -> tuple[str, dict[str, Any]]:
    key = f"{SPOOL_STATUS_PREFIX}{at:%Y/%m/%d/}{at:{RECORD_KEY_TIME}}-mail.example.hk.json"
    doc = {"kind": SPOOL_STATUS_KIND, "host": "mail.example.hk",
           "at": at.isoformat(timespec="seconds"), "spoolDepth": depth, "spoolBytes": 100 * depth,
           "oldestSpooled": oldest.isoformat(timespec="seconds") if oldest else None,
           "failingSince": None, "lastError": None}  # fmt: skip
    return key, doc


def _drill(at: dt.datetime, verdict: str) -> tuple[str, dict[str, Any]]:
    key = f"{DRILL_PREFIX}{at:%Y/%m/%d/}{at:{RECORD_KEY_TIME}}-alice.json"
    doc = {"kind": DRILL_KIND, "at": at.isoformat(timespec="seconds"),
           "verdict": verdict, "restoredMessages": 12, "mailbox": "alice@example.hk",
           "operator": "ops@example.hk", "snapshot": {"id": "a1b2c3d4", "time": "x"}}  # fmt: skip
    return key, doc


@pytest.fixture(scope="module")
def store() -> Iterator[LoopbackStore]:
    s = LoopbackStore(free_tcp_ports(1)[0]).start()
    try:
        c = s.client()
        for bucket in BUCKETS:
            c.create_bucket(
                Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "ap-hongkong"}
            )
        now = dt.datetime.now(dt.UTC)
        minute = dt.timedelta(minutes=1)
        key = f"{JOURNAL_PREFIX}{now:%Y/%m/%d}/health-1"
        for bucket in (JOURNAL, BARE, STALE, FUTURE, GARBAGE, ONLY_GARBAGE):
            c.put_object(Bucket=bucket, Key=key + ".eml", Body=b"Subject: x\r\n\r\nx\r\n")
            entry = {"envelope": {"receivedAt": now.isoformat()}}
            # the role may put journal/ too: a manifest entry that is not one
            body = b"[1, 2]" if bucket == ONLY_GARBAGE else json.dumps(entry).encode()
            c.put_object(Bucket=bucket, Key=key + ".json", Body=body)
        # The journal's bucket: an older status with mail waiting, then the newest, empty; an
        # older failed drill, then a passed one (the newest key wins). Each put as its writer
        # puts it: its time is about the store's.
        # 1 ms newer than the valid records: under the same day prefix
        garbage_spool, _ = _spool(now - minute + dt.timedelta(milliseconds=1), 0, None)
        wrong_drill = _drill(now - minute + dt.timedelta(milliseconds=1), "PASS")
        for bucket, (k, doc) in (
            (JOURNAL, _spool(now - 2 * minute, 3, now - 3 * minute)),
            (JOURNAL, _spool(now - minute, 0, None)),
            (JOURNAL, _drill(now - 2 * minute, "FAIL")),
            (JOURNAL, _drill(now - minute, "PASS")),
            (STALE, _spool(now, 4, now - 60 * minute)),
            (STALE, _drill(now, "PASS")),
            (FUTURE, _spool(now + dt.timedelta(days=1), 0, None)),
            (FUTURE, _drill(now - minute, "PASS")),
            (GARBAGE, _spool(now - minute, 0, None)),
            (GARBAGE, (garbage_spool, b"\x00not json")),
            (GARBAGE, _drill(now - minute, "PASS")),
            (GARBAGE, (wrong_drill[0], {**wrong_drill[1], "restoredMessages": "12"})),
            (ONLY_GARBAGE, (garbage_spool, b" " * (archive_status.MAX_RECORD_BYTES + 1))),
            (ONLY_GARBAGE, _drill(now - minute, "PASS")),
        ):
            _put_json(c, bucket, k, doc)
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


def test_the_spool_status_and_the_newest_drill_are_reported(
    store: LoopbackStore, env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert archive.main(_health(store)) == 0, capsys.readouterr().err
    report = json.loads(capsys.readouterr().out)
    spool, drill = report["spool"], report["drill"]
    assert (spool["spoolDepth"], spool["host"], spool["stale"]) == (0, "mail.example.hk", False)
    assert spool["sha256Matches"] is True and spool["object"].startswith("status/journal-spool/")
    assert (drill["verdict"], drill["restoredMessages"], drill["sha256Matches"]) == (
        "PASS",
        12,
        True,
    )
    assert report["alarms"] == [] and report["checkedAt"]


def test_no_status_and_no_drill_alarm(
    store: LoopbackStore, env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    code = archive.main(_health(store, "--bucket", BARE))
    out, err = capsys.readouterr()
    assert code == 1, err
    report = json.loads(out)
    assert report["spool"] is None and report["drill"] is None
    assert "ALARM no journal spool status in the bucket (not observed" in err, err
    assert "ALARM no restore drill on record (drills/): run scripts/archive drill" in err, err


def test_a_stale_status_an_old_spool_and_an_old_drill_alarm(
    store: LoopbackStore,
    env: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Ages are the store's (Last-Modified): the check is run as of 3 hours after the puts."""
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=3)
    monkeypatch.setattr(archive, "_now", lambda: later)
    code = archive.main(_health(store, "--bucket", STALE, "--max-drill-age-days", "0.1"))
    out, err = capsys.readouterr()
    assert code == 1, err
    report = json.loads(out)
    assert report["spool"]["stale"] is True and len(report["spool"]["alarms"]) == 2, report
    assert report["drill"]["alarms"][0].startswith("no restore drill in the last 0.1 days"), report
    assert "ALARM the journal spool status is stale: stored 20" in err, err
    assert "older than 30 min" in err, err
    assert "ALARM 4 message(s) waiting in mail.example.hk's journal spool" in err, err
    assert "ALARM no restore drill in the last 0.1 days (newest: 20" in err, err
    # The thresholds are options: with wider ones the same bucket passes.
    wide = ["--max-status-age-minutes", "600", "--max-spool-age-minutes", "600"]
    code = archive.main(_health(store, "--bucket", STALE, *wide, "--max-drill-age-days", "1"))
    assert code == 0, capsys.readouterr().err


def test_a_status_dated_in_the_future_alarms(
    store: LoopbackStore, env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """A writer's clock a day ahead would otherwise keep its status 'fresh' for a day."""
    code = archive.main(_health(store, "--bucket", FUTURE))
    out, err = capsys.readouterr()
    assert code == 1, err
    spool = json.loads(out)["spool"]
    assert spool["stale"] is False, spool
    assert any(a.endswith(", in the future") for a in spool["alarms"]), spool
    assert "is not when the store received it (" in err, err
    assert "ALARM restore drill" not in err, err


def test_an_invalid_newer_object_alarms_and_the_newest_valid_record_is_reported(
    store: LoopbackStore, env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    code = archive.main(_health(store, "--bucket", GARBAGE))
    out, err = capsys.readouterr()
    assert code == 1, err
    assert "Traceback" not in err, err
    report = json.loads(out)
    spool, drill = report["spool"], report["drill"]
    assert spool["spoolDepth"] == 0 and spool["stale"] is False, spool
    assert len(spool["alarms"]) == 1, spool
    assert spool["alarms"][0].startswith(f"{GARBAGE}/{SPOOL_STATUS_PREFIX}"), spool
    assert spool["alarms"][0].endswith(f"is not a valid {SPOOL_STATUS_KIND}: not JSON"), spool
    assert drill["verdict"] == "PASS" and len(drill["alarms"]) == 1, drill
    assert drill["alarms"][0].endswith(
        f"is not a valid {DRILL_KIND}: field(s) restoredMessages missing or of the wrong type"
    ), drill
    assert f"ALARM {GARBAGE}/status/journal-spool/" in err and "no journaled" not in err, err


def test_only_an_oversized_object_is_an_alarm_not_an_error(
    store: LoopbackStore, env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    code = archive.main(_health(store, "--bucket", ONLY_GARBAGE))
    out, err = capsys.readouterr()
    assert code == 1, err
    report = json.loads(out)
    assert report["spool"]["valid"] is False and report["drill"]["alarms"] == [], report
    more = f"{archive_status.MAX_RECORD_BYTES + 1} bytes, more than a record's"
    assert more in report["spool"]["alarms"][0], report
    assert f"archive health: ALARM {ONLY_GARBAGE}/status/journal-spool/" in err, err
    assert report["newestReceivedAt"] is None and report["newestObject"], report
    assert f"ALARM the newest journal entry {ONLY_GARBAGE}/journal/" in err, err
    assert "is not readable (" in report["alarms"][0] and "Traceback" not in err, report


@pytest.mark.parametrize(
    ("flag", "value", "unit"),
    [
        ("--max-drill-age-days", "-3", "days"),
        ("--max-status-age-minutes", "nan", "minutes"),
        ("--max-spool-age-minutes", "inf", "minutes"),
    ],
)
def test_a_bad_threshold_is_refused(
    store: LoopbackStore,
    env: None,
    capsys: pytest.CaptureFixture[str],
    flag: str,
    value: str,
    unit: str,
) -> None:
    assert archive.main(_health(store, flag, value)) == 2
    out, err = capsys.readouterr()
    assert f"archive: {flag}: {value} is not valid; allowed: a number of {unit} >= 0" in err, err
    assert out == "" and "Traceback" not in err
