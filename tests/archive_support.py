"""The archive bucket on loopback: moto's S3 server with versioning and object lock, and the
journal settings of the shared mail server.

Why moto: it is the S3-compatible store installable from the registries CI uses (PyPI) that
implements versioning, object lock (COMPLIANCE retention refuses deleting a locked version) and
Content-MD5 checks in its server mode. MinIO is closer to a production store but ships neither
on PyPI nor in Debian; Ceph's radosgw is in Debian but needs a cluster. Neither OSS nor COS is
S3: OSS's retention policy (WORM) is per bucket rather than per object version, and COS has no
object lock in the provider at all, so these tests prove our client and the journal's
behaviour against S3 semantics, not the clouds' own.

Importing this module registers the ``journal`` extension of the shared mail server: the
archive bucket is configured (so the uploader's files are rendered) and the store is started
before the server boots (``mail_server.extras["store"]``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import http.client
import json
import os
import smtplib
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import dkim  # type: ignore[import-untyped]  # dkimpy ships no type hints
from moto.server import ThreadedMotoServer

from hkmail.mailserver.journal import JOURNAL_CONF, JOURNAL_SPOOL, JOURNAL_UPLOAD
from tests.mailserver_support import (
    DOMAIN,
    PARTNER,
    PARTNER_IP,
    PASSWORDS,
    MailServer,
    Setup,
    extend,
)
from tests.support import FakeCloud, free_tcp_ports, serve

ARCHIVE_BUCKET = "hkmail-archive-test"
ARCHIVIST = "archivist"
# Where the journal tests' mail is delivered: mailboxes no notify rule of the shared server names,
# so their deliveries skip the Sieve pipe (one Python process per piped recipient). The tests
# read what they delivered from the archivist's INBOX.
JOURNAL_MAILBOXES = (ARCHIVIST, "carol")
# The secret-store name and value of the backup's repository password (fetched at boot).
BACKUP_SECRET = "hkmail-backup"
BACKUP_PASSWORD = "restic-repo-Pa55-word-for-the-journal-tests"
RETENTION_DAYS = 2557  # seven years: the bucket's default retention, as on OSS


@dataclass
class LoopbackStore:
    """moto's S3 server on 127.0.0.1; stop() and start() keep its objects (the same process)."""

    port: int
    server: ThreadedMotoServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LoopbackStore:
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self.server.start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

    def client(self) -> Any:
        return boto3.client(
            "s3",
            endpoint_url=self.url,
            aws_access_key_id="AKIDtemporary",
            aws_secret_access_key="temporary-secret",
            region_name="ap-hongkong",
        )

    def create_archive_bucket(self, name: str, days: int = RETENTION_DAYS) -> None:
        """Versioned, with a default COMPLIANCE retention of ``days`` on every object."""
        c = self.client()
        c.create_bucket(
            Bucket=name,
            ObjectLockEnabledForBucket=True,
            CreateBucketConfiguration={"LocationConstraint": "ap-hongkong"},
        )
        c.put_object_lock_configuration(
            Bucket=name,
            ObjectLockConfiguration={
                "ObjectLockEnabled": "Enabled",
                "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": days}},
            },
        )

    def keys(self, bucket: str, prefix: str) -> list[str]:
        c = self.client()
        out: list[str] = []
        for page in c.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            out += [o["Key"] for o in page.get("Contents", [])]
        return out

    def versions(self, bucket: str, prefix: str) -> list[dict[str, Any]]:
        c = self.client()
        out: list[dict[str, Any]] = []
        for page in c.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
            out += page.get("Versions", [])
        return out


@dataclass
class Journal:
    """The server's journal spool and its uploader, as the instance runs them."""

    root: Path
    p: Any  # the layout's path mapper
    store: LoopbackStore
    metadata: str = ""  # the fake metadata service's URL (the role's temporary key)
    cloud: FakeCloud | None = None  # that service (its calls)

    @property
    def spool(self) -> Path:
        return Path(self.p(JOURNAL_SPOOL))

    def pending(self) -> list[str]:
        return sorted(n for n in os.listdir(self.spool / "new") if n.endswith(".json"))

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "HKMAIL_S3_URL": self.store.url,
            "HKMAIL_METADATA_URL": self.metadata,
        }

    def command(self, *extra: str) -> list[str]:
        return ["/usr/bin/python3", self.p(JOURNAL_UPLOAD), *extra, self.p(JOURNAL_CONF)]

    def upload_once(self) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.command("--once"),
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    def start(self, store_url: str | None = None) -> subprocess.Popen[bytes]:
        env = self.env() | ({"HKMAIL_S3_URL": store_url} if store_url else {})
        return subprocess.Popen(self.command(), env=env)

    def wait_spooled(self, n: int, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.pending()) < n:
            assert time.monotonic() < deadline, f"{len(self.pending())} of {n} spooled"
            time.sleep(0.1)

    def status(self) -> dict[str, Any]:
        settings = json.loads(Path(self.p(JOURNAL_CONF)).read_text())
        data: dict[str, Any] = json.loads(Path(settings["status"]).read_text())
        return data


@dataclass
class Refused:
    """What a refusing proxy saw: the PUTs it refused."""

    url: str = ""
    refused: list[str] = dataclasses.field(default_factory=list)


@contextlib.contextmanager
def refusing_proxy(
    store: LoopbackStore, refuse: str, methods: tuple[str, ...] = ("PUT",)
) -> Iterator[Refused]:
    """An HTTP proxy in front of ``store`` that answers every request of ``methods`` whose path
    starts with ``refuse`` (/bucket/prefix) 403 AccessDenied, as a policy denying that prefix
    would, and passes everything else through unchanged."""
    seen = Refused()

    class Handler(BaseHTTPRequestHandler):
        def _any(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.command in methods and self.path.startswith(refuse):
                seen.refused.append(self.path)
                out = b"<Error><Code>AccessDenied</Code><Message>denied</Message></Error>"
                self.send_response(403)
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)
                return
            c = http.client.HTTPConnection("127.0.0.1", store.port, timeout=60)
            try:
                c.request(self.command, self.path, body or None, dict(self.headers))
                resp = c.getresponse()
                out = resp.read()
                self.send_response(resp.status)
                length = resp.getheader("Content-Length") if self.command == "HEAD" else None
                for k, v in resp.getheaders():
                    if k.lower() not in ("content-length", "transfer-encoding", "connection"):
                        self.send_header(k, v)
                self.send_header("Content-Length", length or str(len(out)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(out)
            finally:
                c.close()

        do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _any

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    seen.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield seen
    finally:
        server.shutdown()
        server.server_close()


@extend("journal")
@contextlib.contextmanager
def _journal(setup: Setup) -> Iterator[None]:
    store = LoopbackStore(free_tcp_ports(1)[0]).start()
    fake = FakeCloud("tencentcloud", setup.config.secrets.role_name, {})
    try:
        store.create_archive_bucket(ARCHIVE_BUCKET)
        # A login of the journal tests' own: submission is rate-limited per login and hour, and
        # the session's other tests send as alice, bob and carol.
        PASSWORDS[ARCHIVIST] = "archivist-Pa55-word"
        # With an archive bucket the server backs up nightly: its repository password is one
        # more secret the boot fetches from the store.
        setup.config = dataclasses.replace(
            setup.config,
            archive_bucket=ARCHIVE_BUCKET,
            users=(*setup.config.users, ARCHIVIST),
            secrets=dataclasses.replace(setup.config.secrets, backup_password=BACKUP_SECRET),
        )
        setup.cloud_secrets[BACKUP_SECRET] = BACKUP_PASSWORD
        with serve(fake) as base:
            setup.extras["journal"] = Journal(setup.root, setup.layout.p, store, base, fake)
            yield
    finally:
        store.stop()


def sign_as_partner(server: MailServer, raw: bytes) -> bytes:
    """DKIM-signed by the partner (DMARC passes on the signature, as in the daemon tests)."""
    sig = dkim.sign(raw, b"p1", PARTNER.encode(), server.partner_dkim_pem.encode())
    return bytes(sig) + raw


def deliver_inbound(server: MailServer, messages: list[bytes], options: list[list[str]]) -> None:
    """Deliver on port 25 from the partner's own address (SPF pass, DMARC aligned)."""
    with smtplib.SMTP("127.0.0.1", server.ports.smtp, timeout=60,
                      source_address=(PARTNER_IP, 0)) as c:  # fmt: skip
        c.ehlo(f"mx.{PARTNER}")
        for raw, opts in zip(messages, options, strict=True):
            c.sendmail(f"news@{PARTNER}", [f"{u}@{DOMAIN}" for u in JOURNAL_MAILBOXES], raw, opts)


def deliver(server: MailServer, subject: str) -> str:
    """One message from the partner on port 25; its Message-ID."""
    mid = f"<{uuid.uuid4()}@{PARTNER}>"
    raw = (
        f"From: news@{PARTNER}\r\nTo: {ARCHIVIST}@{DOMAIN}\r\nSubject: {subject}\r\n"
        f"Date: Mon, 07 Dec 2026 12:00:00 +0800\r\nMessage-ID: {mid}\r\n\r\nbody\r\n"
    ).encode()
    deliver_inbound(server, [sign_as_partner(server, raw)], [[]])
    return mid
