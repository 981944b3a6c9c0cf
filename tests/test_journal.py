"""The journal on the real daemons: every accepted message, byte for byte, in the archive bucket.

Postfix, Dovecot and the milters are the shared session server (tests/mailserver_support.py);
the archive bucket is moto's S3 server on loopback with versioning and a COMPLIANCE retention
(tests/archive_support.py); the uploader is the rendered hkmail-journal-upload, run by the
system Python as on the instance, with the role's key from a stand-in metadata service.
"""

from __future__ import annotations

import base64
import email.header
import hashlib
import json
import re
import smtplib
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import botocore.exceptions
import pytest

from hkmail.mailserver.journal import JOURNAL_LOG, SPOOL_STATUS_PREFIX
from tests.archive_support import (
    ARCHIVE_BUCKET,
    ARCHIVIST,
    JOURNAL_MAILBOXES,
    Journal,
    deliver,
    deliver_inbound,
    refusing_proxy,
    sign_as_partner,
)
from tests.mailserver_support import (
    DOMAIN,
    HOST,
    PARTNER,
    PASSWORDS,
    MailServer,
)
from toolchain import archive

pytestmark = pytest.mark.integration


def _journal(server: MailServer) -> Journal:
    j = server.extras["journal"]
    assert isinstance(j, Journal)
    return j


def _shape(i: int, sender: str, to: str) -> tuple[bytes, str | None, list[str]]:
    """Message ``i`` of a rotation of shapes, as CRLF wire bytes; (bytes, Message-ID, options)."""
    mid: str | None = f"<{uuid.uuid4()}@journal.test>"
    head = [f"From: {sender}", f"To: {to}", "Date: Mon, 07 Dec 2026 10:00:00 +0800"]
    options: list[str] = []
    kind = i % 5
    if kind == 0:  # 8-bit body
        head += ["Subject: 8bit body", "MIME-Version: 1.0"]
        head += ["Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: 8bit"]
        body = "港島的郵件 — résumé\r\n.leading dot line\r\n".encode()
        options = ["BODY=8BITMIME"]
    elif kind == 1:  # base64 attachment
        blob = base64.encodebytes(hashlib.sha256(str(i).encode()).digest() * 40).decode()
        head += ["Subject: base64", "MIME-Version: 1.0", "Content-Type: multipart/mixed; b=x"]
        head[-1] = 'Content-Type: multipart/mixed; boundary="b1"'
        body = (
            "--b1\r\nContent-Type: text/plain\r\n\r\nsee attachment\r\n--b1\r\n"
            "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            + blob.replace("\n", "\r\n")
            + "--b1--\r\n"
        ).encode()
    elif kind == 2:  # no Message-ID
        mid = None
        head += ["Subject: no message id"]
        body = b"plain ascii\r\n"
    elif kind == 3:  # Chinese subject, RFC 2047, folded
        subject = email.header.Header("香港辦公室的季度報告與合規檔案存檔通知", "utf-8").encode()
        head += [f"Subject: {subject}".replace("\n", "\r\n")]
        body = b"folded encoded header\r\n"
    else:  # raw UTF-8 headers (SMTPUTF8)
        head += ["Subject: 原始 UTF-8 標題", "MIME-Version: 1.0"]
        head += ["Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: 8bit"]
        body = "內容\r\n".encode()
        options = ["SMTPUTF8", "BODY=8BITMIME"]
    if mid:
        head.append(f"Message-ID: {mid}")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body, mid, options


def _big(sender: str, to: str) -> bytes:
    """A 5 MB attachment, base64 in 76-column lines."""
    blob = base64.encodebytes(bytes(range(256)) * (5 * 1024 * 1024 // 256)).replace(b"\n", b"\r\n")
    return (
        (
            f"From: {sender}\r\nTo: {to}\r\nDate: Mon, 07 Dec 2026 11:00:00 +0800\r\n"
            f"Subject: 5 MB\r\nMessage-ID: <{uuid.uuid4()}@j.test>\r\n"
            'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b2"\r\n\r\n'
            "--b2\r\nContent-Type: application/octet-stream\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\n"
        ).encode()
        + blob
        + b"--b2--\r\n"
    )


def _submit(server: MailServer, messages: list[bytes], options: list[list[str]]) -> None:
    sender = f"{ARCHIVIST}@{DOMAIN}"
    with smtplib.SMTP("127.0.0.1", server.ports.submission, timeout=60) as c:
        c.starttls(context=server.tls)
        c.login(sender, PASSWORDS[ARCHIVIST])
        for raw, opts in zip(messages, options, strict=True):
            c.sendmail(sender, [f"{u}@{DOMAIN}" for u in JOURNAL_MAILBOXES], raw, opts)


def _message_id(raw: bytes) -> bytes:
    """The Message-ID line, or the Subject and size for a message without one."""
    head = raw.split(b"\r\n\r\n", 1)[0]
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"message-id:"):
            return line.split(b":", 1)[1].strip()
    return b"no-id"


def _stored(journal: Journal) -> dict[str, tuple[bytes, dict[str, object]]]:
    """Every journaled message in the bucket: id -> (bytes, manifest entry)."""
    c = journal.store.client()
    out: dict[str, tuple[bytes, dict[str, object]]] = {}
    for key in journal.store.keys(ARCHIVE_BUCKET, "journal/"):
        if key.endswith(".json"):
            entry = json.loads(c.get_object(Bucket=ARCHIVE_BUCKET, Key=key)["Body"].read())
            eml = c.get_object(Bucket=ARCHIVE_BUCKET, Key=key[: -len(".json")] + ".eml")
            out[entry["id"]] = (eml["Body"].read(), entry)
    return out


# What this server itself adds before the journal milter (last) sees a message: OpenDKIM's and
# OpenDMARC's verdicts on port 25, OpenDKIM's signature on submission. Nothing else may differ.
_OWN_HEADERS = {
    b"authentication-results": b"authentication-results: " + HOST.encode() + b";",
    b"dkim-signature": b"d=" + DOMAIN.encode() + b";",
}


def _as_received(stored: bytes, sent: bytes) -> bool:
    """The stored copy is the bytes sent, after only headers this server prepended (and, for a
    message sent without one, the Message-ID Postfix adds at the end of the header)."""
    if _message_id(sent) == b"no-id":
        own = rb"\r\nMessage-Id: <[^>\r\n]+@" + re.escape(HOST.encode()) + rb">(?=\r\n)"
        stored = re.sub(own, b"", stored, count=1, flags=re.IGNORECASE)
    if not stored.endswith(sent):
        return False
    prefix = stored[: len(stored) - len(sent)]
    fields = prefix.replace(b"\r\n ", b" ").replace(b"\r\n\t", b" ").split(b"\r\n")[:-1]
    for field in fields:
        name = field.split(b":", 1)[0].lower()
        if name not in _OWN_HEADERS or _OWN_HEADERS[name] not in field.lower() + field:
            return False
    return prefix == b"" or prefix.endswith(b"\r\n")


@pytest.fixture(scope="module")
def journaled(mail_server: MailServer) -> Iterator[dict[str, object]]:
    """A few hundred messages of every shape, delivered and submitted, then uploaded."""
    journal = _journal(mail_server)
    assert journal.upload_once().returncode == 0  # drain whatever earlier tests left
    before = set(_stored(journal))
    sent: list[tuple[bytes, str]] = []
    for service, send, sender, to, count in (
        ("inbound", deliver_inbound, f"news@{PARTNER}", f"alice@{DOMAIN}", 220),
        # Below the server's per-login hourly limit (40 in the tests).
        ("submission", _submit, f"{ARCHIVIST}@{DOMAIN}", f"bob@{DOMAIN}", 30),
    ):
        batch = [_shape(i, sender, to) for i in range(count)]
        raws = [raw for raw, _, _ in batch] + [_big(sender, to)]
        if service == "inbound":
            raws = [sign_as_partner(mail_server, raw) for raw in raws]
        send(mail_server, raws, [opts for _, _, opts in batch] + [[]])
        sent += [(raw, service) for raw in raws]
    journal.wait_spooled(len(sent))
    t0 = time.monotonic()
    out = journal.upload_once()
    elapsed = time.monotonic() - t0
    assert out.returncode == 0, out.stdout + out.stderr
    stored = {k: v for k, v in _stored(journal).items() if k not in before}
    yield {"sent": sent, "stored": stored, "upload_seconds": elapsed}


def test_every_message_is_journaled_byte_for_byte(journaled: dict[str, object]) -> None:
    sent = journaled["sent"]
    stored = journaled["stored"]
    assert isinstance(sent, list) and isinstance(stored, dict)
    assert len(stored) == len(sent) == 252
    by_mid: dict[bytes, list[tuple[bytes, dict[str, object]]]] = {}
    for raw, entry in stored.values():
        by_mid.setdefault(_message_id(raw), []).append((raw, entry))
    for raw, service in sent:
        mid = _message_id(raw)
        candidates = by_mid.get(mid, []) if mid != b"no-id" else list(stored.values())
        matches = [
            entry
            for copy, entry in candidates
            if _as_received(copy, raw) and entry["envelope"]["service"] == service  # type: ignore[index]
        ]
        assert len(matches) >= 1, f"not journaled byte for byte: {raw[:300]!r}"
    for raw, entry in stored.values():
        assert entry["sha256"] == hashlib.sha256(raw).hexdigest()
        assert entry["size"] == len(raw)


def _versions_per_key(journal: Journal) -> dict[str, int]:
    counts: dict[str, int] = {}
    for v in journal.store.versions(ARCHIVE_BUCKET, "journal/"):
        counts[v["Key"]] = counts.get(v["Key"], 0) + 1
    return counts


def test_store_outage_loses_nothing_duplicates_nothing_and_mail_flows(
    mail_server: MailServer, journaled: dict[str, object]
) -> None:
    journal = _journal(mail_server)
    log = Path(mail_server.p(JOURNAL_LOG))
    alarms_before = log.read_text().count("ALARM") if log.exists() else 0
    journal.store.stop()  # the bucket is unreachable
    uploader = journal.start()
    try:
        mids = [deliver(mail_server, f"outage {i}") for i in range(12)]
        # Mail keeps flowing: delivered while the store is down. In a full run these queue
        # behind the previous test's 252 messages (twice that many LMTP deliveries; Postfix
        # logged 34 s in the active queue), hence a deadline for the whole batch, not 20 s each.
        for mid in mids:
            assert mail_server.fetch(ARCHIVIST, mid, timeout=120)
        journal.wait_spooled(12)
        deadline = time.monotonic() + 60
        while log.read_text().count("ALARM") == alarms_before:
            assert time.monotonic() < deadline, "no ALARM while the bucket was unreachable"
            time.sleep(0.2)
        # The status file is the uploader's snapshot at its last pass: wait for a pass that has
        # seen the whole batch (its backoff decides when), not for the first one.
        deadline = time.monotonic() + 120
        status = journal.status()
        while not (status["alarm"] is True and status["spoolDepth"] >= 12):
            assert time.monotonic() < deadline, status
            time.sleep(0.5)
            status = journal.status()
        journal.store.start()  # back, with everything it held
        deadline = time.monotonic() + 120
        while journal.pending():
            assert time.monotonic() < deadline, f"spool not drained: {len(journal.pending())}"
            time.sleep(0.5)
    finally:
        uploader.terminate()
        uploader.wait(10)
        if journal.store.server is None:  # a failure above must not leave the store down for others
            journal.store.start()
    assert "writable again" in log.read_text()
    manifests = [
        json.loads(journal.store.client().get_object(Bucket=ARCHIVE_BUCKET, Key=k)["Body"].read())
        for k in journal.store.keys(ARCHIVE_BUCKET, "journal/")
        if k.endswith(".json")
    ]
    found = [m["messageId"] for m in manifests]
    for mid in mids:
        assert found.count(mid) == 1, mid
    assert set(_versions_per_key(journal).values()) == {1}  # no object written twice
    assert journal.status()["alarm"] is False


def test_a_retried_upload_is_not_duplicated(mail_server: MailServer) -> None:
    # The answer to a confirmed upload is lost (crash before the spool entry goes): the next
    # pass finds the objects with the same sha256 and sends nothing again.
    journal = _journal(mail_server)
    assert journal.upload_once().returncode == 0
    mid = deliver(mail_server, "retried")
    journal.wait_spooled(1)
    ident = journal.pending()[0][: -len(".json")]
    saved = {ext: (journal.spool / "new" / (ident + ext)).read_bytes() for ext in (".eml", ".json")}
    assert journal.upload_once().returncode == 0
    for ext, data in saved.items():
        (journal.spool / "new" / (ident + ext)).write_bytes(data)
    out = journal.upload_once()
    assert out.returncode == 0, out.stderr
    assert journal.pending() == []
    versions = _versions_per_key(journal)
    ours = [k for k in versions if ident in k]
    assert len(ours) == 2 and all(versions[k] == 1 for k in ours), versions
    assert mail_server.fetch(ARCHIVIST, mid, timeout=120)


def test_a_journaled_object_under_retention_cannot_be_deleted(
    mail_server: MailServer, journaled: dict[str, object]
) -> None:
    journal = _journal(mail_server)
    c = journal.store.client()
    version = journal.store.versions(ARCHIVE_BUCKET, "journal/")[0]
    with pytest.raises(botocore.exceptions.ClientError) as err:
        c.delete_object(Bucket=ARCHIVE_BUCKET, Key=version["Key"], VersionId=version["VersionId"])
    assert err.value.response["Error"]["Code"] == "AccessDenied"
    body = c.get_object(Bucket=ARCHIVE_BUCKET, Key=version["Key"], VersionId=version["VersionId"])
    assert body["ObjectLockMode"] == "COMPLIANCE"


def test_the_spool_status_reaches_the_bucket_held_then_drained(
    mail_server: MailServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A message held while the bucket is out of reach: the first status the uploader can
    publish shows it waiting (with the error), the one after the pass shows the spool empty;
    ``scripts/archive health`` reports the newest."""
    journal = _journal(mail_server)
    assert journal.upload_once().returncode == 0  # drain whatever earlier tests left
    before = set(journal.store.keys(ARCHIVE_BUCKET, SPOOL_STATUS_PREFIX))
    journal.store.stop()
    try:
        mid = deliver(mail_server, "held while the bucket is down")
        journal.wait_spooled(1)
        held = journal.upload_once()
        assert held.returncode == 1, held.stderr
        assert "ALARM spool status not published" in held.stderr, held.stderr
    finally:
        journal.store.start()
    assert set(journal.store.keys(ARCHIVE_BUCKET, SPOOL_STATUS_PREFIX)) == before
    out = journal.upload_once()
    assert out.returncode == 0, out.stderr
    new = sorted(set(journal.store.keys(ARCHIVE_BUCKET, SPOOL_STATUS_PREFIX)) - before)
    c = journal.store.client()
    docs = [json.loads(c.get_object(Bucket=ARCHIVE_BUCKET, Key=k)["Body"].read()) for k in new]
    assert len(docs) == 2, docs
    waiting, drained = docs
    assert waiting["spoolDepth"] >= 1 and waiting["spoolBytes"] > 0, waiting
    assert waiting["oldestSpooled"] and waiting["failingSince"], waiting
    assert "127.0.0.1" in waiting["lastError"] or "refused" in waiting["lastError"], waiting
    assert (drained["spoolDepth"], drained["oldestSpooled"], drained["failingSince"]) == (
        0,
        None,
        None,
    ), drained
    assert drained["host"] == waiting["host"] == mail_server.config.hostname
    assert drained["lastObject"].startswith("journal/")
    # Under the bucket's retention like the journal (COMPLIANCE here, WORM on OSS).
    head = c.head_object(Bucket=ARCHIVE_BUCKET, Key=new[-1])
    assert head["ObjectLockMode"] == "COMPLIANCE"
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDadministrator")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "administrator-secret")
    archive.main(["health", "--cloud", "tencentcloud", "--bucket", ARCHIVE_BUCKET,
                  "--endpoint", journal.store.url])  # fmt: skip
    report = json.loads(capsys.readouterr().out)
    assert report["spool"]["object"] == new[-1] and report["spool"]["spoolDepth"] == 0, report
    assert report["spool"]["sha256Matches"] is True and report["spool"]["stale"] is False
    assert mail_server.fetch(ARCHIVIST, mid, timeout=120)


def test_a_refused_status_prefix_never_holds_the_journal_back(mail_server: MailServer) -> None:
    """The bucket takes the journal but refuses status/journal-spool/ (403, as a bucket policy
    would): the journal drains, the refusal is one ALARM line, and the status put is tried again
    after a minute, not on every 2 s pass."""
    journal = _journal(mail_server)
    assert journal.upload_once().returncode == 0  # drain whatever earlier tests left
    log = Path(mail_server.p(JOURNAL_LOG))
    alarm = "ALARM spool status not published"
    alarms_before = log.read_text().count(alarm) if log.exists() else 0
    # Spooled before the uploader starts: its run below is seconds long.
    mids = [deliver(mail_server, f"status refused {i}") for i in range(2)]
    journal.wait_spooled(2, timeout=120)
    assert journal.cloud is not None
    fetched_before = len(journal.cloud.calls)
    with refusing_proxy(journal.store, f"/{ARCHIVE_BUCKET}/{SPOOL_STATUS_PREFIX}") as proxy:
        started = time.monotonic()
        uploader = journal.start(proxy.url)
        try:
            deadline = time.monotonic() + 120
            while journal.pending():
                assert time.monotonic() < deadline, f"spool not drained: {journal.pending()}"
                time.sleep(0.5)
            time.sleep(8)  # four more 2 s passes
        finally:
            uploader.terminate()
            uploader.wait(10)
        elapsed = time.monotonic() - started
    assert 1 <= len(proxy.refused) <= 1 + int(elapsed // 60), (elapsed, proxy.refused)
    # AccessDenied on a prefix is not a bad key: the role's key is fetched once, not each pass
    # (the uploader reuses it for CREDENTIALS_TTL, 300 s).
    fetched = [c for c in journal.cloud.calls[fetched_before:] if "security-credentials" in c]
    assert len(fetched) == 1, journal.cloud.calls[fetched_before:]
    assert log.read_text().count(alarm) - alarms_before == 1, log.read_text()[-3000:]
    manifests = [
        json.loads(journal.store.client().get_object(Bucket=ARCHIVE_BUCKET, Key=k)["Body"].read())
        for k in journal.store.keys(ARCHIVE_BUCKET, "journal/")
        if k.endswith(".json")
    ]
    found = {m["messageId"] for m in manifests}
    assert all(mid in found for mid in mids), mids
