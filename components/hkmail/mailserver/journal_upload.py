#!/usr/bin/python3
"""hkmail-journal-upload: move the journal spool into the Hong Kong archive bucket, losing nothing.

For each complete spool entry (``new/<id>.eml`` + ``new/<id>.json``, written by
hkmail-journal-milter) it uploads the message bytes and a manifest entry (Message-ID, date,
from, to, subject, size, sha256 and the envelope) as two objects under
``<prefix><yyyy>/<mm>/<dd>/<id>.{eml,json}``, each with Content-MD5 (the store refuses a
corrupted body) and its sha256 as metadata. It deletes the entry from the spool only after a HEAD
of both objects returns the same MD5 and sha256. An object already stored with the same sha256 is
not sent again (idempotent: a retry after a lost answer never duplicates, and never tries to
overwrite an object under the bucket's retention).

When the store cannot be reached it keeps the spool, retries with exponential backoff, and writes
an ``ALARM`` line to its log in /var/log/hkmail (and to stderr, which hkmail-logship ships to
the log store) and to its status file (/var/lib/hkmail/journal-status.json). Mail flow never
waits for it.

Every ``status_every`` seconds (and when the bucket is writable again) it publishes the spool's
state to the bucket as a new object ``<status_prefix><yyyy>/<mm>/<dd>/<time>-<host>.json`` (host,
time, messages and bytes waiting, the oldest waiting message, the last upload error), which
``scripts/archive health`` reads: a reviewer sees the spool without a log-in to the instance. A new
key each time: under OSS's bucket-wide WORM an object cannot be overwritten.

Credentials: the instance role's temporary key from the metadata service (the same code as
hkmail-fetch-secrets); no static key. Standard library only.

Usage: hkmail-journal-upload [--once] /etc/hkmail/journal.json
"""

from __future__ import annotations

import contextlib
import datetime as dt
import email.header
import email.parser
import email.policy
import email.utils
import hashlib
import importlib.machinery
import importlib.util
import json
import os
import random
import sys
import time
from collections.abc import Mapping
from types import ModuleType
from typing import Any

# Backoff between failed passes: 2, 4, 8 ... seconds, at most this long.
MAX_BACKOFF = 300.0
# An ALARM line is repeated while the store stays unreachable, at most this often.
ALARM_EVERY = 600.0
# A status put that failed is tried again after min(status_every, this) seconds, not every pass.
STATUS_RETRY = 60.0
# A status put waits at most this long on the store (per connect or read): publishing must not
# hold the journal's own upload back when the store hangs.
STATUS_TIMEOUT = 5.0
# The store's error codes that mean the key itself is refused (expired, revoked, mis-signed):
# only these make a failed status put fetch the role's key again. (S3's codes; OSS and COS
# answer these through their S3 interfaces, per their S3-compatibility pages; others unverified.)
AUTH_CODES = ("InvalidAccessKeyId", "ExpiredToken", "InvalidToken", "SecurityTokenExpired",
              "SignatureDoesNotMatch", "TokenRefreshRequired", "HTTP 401")  # fmt: skip
# Seconds a role key is reused before the metadata service is asked again (the clouds' temporary
# keys are valid for hours; a refused request also drops the cached key).
CREDENTIALS_TTL = 300.0


def _load(name: str, path: str) -> ModuleType:
    spec = importlib.util.spec_from_loader(name, importlib.machinery.SourceFileLoader(name, path))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while it executes
    spec.loader.exec_module(module)
    return module


def _text(value: Any) -> str | None:
    """A header as readable text (RFC 2047 words decoded; raw UTF-8 kept)."""
    if value is None:
        return None
    try:
        return str(email.header.make_header(email.header.decode_header(str(value))))
    except (ValueError, LookupError):
        return str(value)


def manifest_entry(message: bytes, envelope: Mapping[str, Any]) -> dict[str, Any]:
    """What e-discovery searches: the headers that identify a message, and its proof."""
    # Raw 8-bit header text is UTF-8 (RFC 6532); encoded words are decoded by _text.
    head = message.split(b"\r\n\r\n", 1)[0].decode("utf-8", errors="replace")
    headers = email.parser.HeaderParser(policy=email.policy.compat32).parsestr(head)
    date = headers.get("Date")
    parsed = None
    if date:
        try:
            d = email.utils.parsedate_to_datetime(str(date))
            parsed = d.astimezone(dt.UTC).isoformat() if d.tzinfo else d.isoformat()
        except (TypeError, ValueError):
            parsed = None
    mid = headers.get("Message-ID")
    return {
        "id": envelope["id"],
        "messageId": str(mid).strip() if mid else None,
        "date": parsed,
        "from": _text(headers.get("From")),
        "to": [_text(v) for v in headers.get_all("To", [])],
        "cc": [_text(v) for v in headers.get_all("Cc", [])],
        "subject": _text(headers.get("Subject")),
        "size": len(message),
        "sha256": hashlib.sha256(message).hexdigest(),
        "envelope": dict(envelope),
    }


def object_keys(prefix: str, ident: str) -> tuple[str, str]:
    day = ident[:8]  # YYYYMMDD (UTC) of the spool id
    base = f"{prefix}{day[:4]}/{day[4:6]}/{day[6:8]}/{ident}"
    return base + ".eml", base + ".json"


class Uploader:
    def __init__(self, settings: Mapping[str, Any]) -> None:
        self.settings = settings
        self.spool = settings["spool"]
        self.prefix = settings["prefix"]
        s3 = _load("hkmail_s3", settings["s3_module"])
        fetch = _load("hkmail_fetch_secrets", settings["fetch_script"])
        self.StoreUnavailable = s3.StoreUnavailable
        self.StoreError = s3.StoreError
        endpoint = os.environ.get("HKMAIL_S3_URL") or settings["endpoint"]

        def client(timeout: float) -> Any:
            return s3.S3(
                endpoint=endpoint,
                region=settings["sign_region"],
                bucket=settings["bucket"],
                credentials=self._credentials,
                # Only a loopback test store is addressed by path; OSS refuses path style.
                path_style=bool(os.environ.get("HKMAIL_S3_URL")),
                timeout=timeout,
            )

        self.store = client(30.0)
        # Its own client: a short timeout, so a hanging store delays a pass by seconds only.
        self.status_store = client(STATUS_TIMEOUT)
        self._fetch = fetch
        self._creds: tuple[str, str, str] | None = None
        self._creds_at = 0.0
        self.failing_since: float | None = None
        self.last_alarm = 0.0
        # Monotonic time from which the spool status is due again: status_every after a put,
        # min(status_every, STATUS_RETRY) after a failed one (never earlier than already due).
        self.publish_due = 0.0
        self.publish_alarm = 0.0
        self.status: dict[str, Any] = self._read_status()

    def _credentials(self) -> tuple[str, str, str]:
        """The role's temporary key, read from the metadata service at most every few minutes
        (it is valid for far longer), not once per request."""
        if self._creds is None or time.monotonic() - self._creds_at > CREDENTIALS_TTL:
            s = self.settings
            self._creds = self._fetch.role_credentials(s["cloud"], s["role_name"])
            self._creds_at = time.monotonic()
        return self._creds

    # -- status and alarms ----------------------------------------------------------------------

    def _read_status(self) -> dict[str, Any]:
        try:
            with open(self.settings["status"]) as fh:
                data: dict[str, Any] = json.load(fh)
                return data
        except (OSError, ValueError):
            return {}

    def log(self, line: str) -> None:
        stamp = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        with open(self.settings["log"], "a") as fh:
            fh.write(f"{stamp} hkmail-journal-upload: {line}\n")
        print(f"hkmail-journal-upload: {line}", file=sys.stderr)

    def _spool_state(self) -> dict[str, Any]:
        pending = self.pending()
        oldest = min((os.path.getmtime(self._path(i, ".json")) for i in pending), default=None)
        size = 0
        for ident in pending:
            # An entry uploaded whose marker is not yet removed has no message left.
            with contextlib.suppress(FileNotFoundError):
                size += os.path.getsize(self._path(ident, ".eml"))
        return {
            "spoolDepth": len(pending),
            "spoolBytes": size,
            "oldestSpooled": _iso(oldest) if oldest else None,
        }

    def _write_status(self) -> None:
        self.status.update(self._spool_state())
        self.status.update(
            {
                "alarm": self.failing_since is not None,
                "failingSince": _iso(self.failing_since) if self.failing_since else None,
                "updatedAt": _iso(time.time()),
            }
        )
        path = self.settings["status"]
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = path + ".tmp"
        with open(tmp, "w") as fh:
            json.dump(self.status, fh, indent=2, sort_keys=True)
        os.replace(tmp, path)

    def publish_status(self, force: bool = False) -> bool:
        """Put the spool's state into the bucket when due (or ``force``); True if it was put.
        A failure is logged (throttled), retried after min(status_every, STATUS_RETRY) seconds,
        and never stops the journal's own upload."""
        every = float(self.settings.get("status_every", 600))
        now = time.monotonic()
        if not force and now < self.publish_due:
            return False
        stamp = dt.datetime.now(dt.UTC)
        host = str(self.settings.get("host") or os.uname().nodename)
        try:
            doc = {
                "kind": self.settings["status_kind"],
                "host": host,
                "at": stamp.isoformat(timespec="seconds"),
                **self._spool_state(),
                "failingSince": self.status.get("failingSince"),
                "lastError": self.status.get("lastError"),
                "lastErrorAt": self.status.get("lastErrorAt"),
                "lastObject": self.status.get("lastObject"),
                "lastObjectAt": self.status.get("lastObjectAt"),
            }
            data = json.dumps(doc, sort_keys=True).encode()
            when = stamp.strftime(self.settings["status_key_time"])
            key = f"{self.settings['status_prefix']}{stamp:%Y/%m/%d}/{when}-{host}.json"
            self.status_store.put(key, data, {"sha256": hashlib.sha256(data).hexdigest()},
                                  "application/json")  # fmt: skip
        except (self.StoreUnavailable, self.StoreError, OSError) as exc:
            if isinstance(exc, self.StoreError) and any(c in str(exc) for c in AUTH_CODES):
                self._creds = None  # the key itself was refused: fetch it again
            self.publish_due = max(self.publish_due, now + min(every, STATUS_RETRY))
            if now - self.publish_alarm >= ALARM_EVERY or self.publish_alarm == 0.0:
                self.publish_alarm = now
                self.log(f"ALARM spool status not published to {self.settings['bucket']}: {exc}")
            return False
        self.publish_due = now + every
        self.publish_alarm = 0.0
        return True

    # -- the spool ------------------------------------------------------------------------------

    def _path(self, ident: str, ext: str) -> str:
        return os.path.join(self.spool, "new", ident + ext)

    def pending(self) -> list[str]:
        names = os.listdir(os.path.join(self.spool, "new"))
        return sorted(n[: -len(".json")] for n in names if n.endswith(".json"))

    def _ensure(self, key: str, data: bytes, content_type: str) -> None:
        """The object is in the store with exactly these bytes (sent once if it was not)."""
        sha = hashlib.sha256(data).hexdigest()
        md5 = hashlib.md5(data).hexdigest()
        head = self.store.head(key)
        if head is None or head.meta.get("sha256") != sha:
            self.store.put(key, data, {"sha256": sha}, content_type)
            head = self.store.head(key)
        if head is None or head.etag != md5 or head.meta.get("sha256") != sha:
            raise self.StoreError(f"{key}: the store does not confirm the object's checksum")

    def upload_one(self, ident: str) -> None:
        with open(self._path(ident, ".json"), "rb") as fh:
            envelope = json.load(fh)
        eml_key, json_key = object_keys(self.prefix, ident)
        try:
            with open(self._path(ident, ".eml"), "rb") as fh:
                message = fh.read()
        except FileNotFoundError:
            # Removed after a confirmed upload, then interrupted before the marker went.
            head = self.store.head(eml_key)
            if head is None or self.store.head(json_key) is None:
                self.log(f"ALARM entry {ident} has no message in the spool nor in the store")
                return
            os.unlink(self._path(ident, ".json"))
            return
        entry = manifest_entry(message, envelope)
        self._ensure(eml_key, message, "message/rfc822")
        manifest = json.dumps(entry, sort_keys=True, ensure_ascii=False).encode()
        self._ensure(json_key, manifest, "application/json")
        os.unlink(self._path(ident, ".eml"))
        os.unlink(self._path(ident, ".json"))
        self.status["lastObject"] = eml_key
        self.status["lastObjectAt"] = _iso(time.time())

    def run_pass(self) -> bool:
        """Upload every pending entry; True when the spool is empty afterwards. The spool status
        is published first when due, so it shows what waited before the pass."""
        if self.settings.get("status_prefix"):
            self.publish_status()
        try:
            for ident in self.pending():
                self.upload_one(ident)
        except (self.StoreUnavailable, self.StoreError, OSError) as exc:
            self._creds = None  # an expired or revoked key is fetched again next pass
            now = time.monotonic()
            if self.failing_since is None:
                self.failing_since = time.time()
            if now - self.last_alarm >= ALARM_EVERY or self.last_alarm == 0.0:
                self.last_alarm = now
                self.log(
                    f"ALARM archive bucket {self.settings['bucket']} not writable: {exc}; "
                    f"{len(self.pending())} message(s) kept in the spool"
                )
            self.status["lastError"] = str(exc)
            self.status["lastErrorAt"] = _iso(time.time())
            self._write_status()
            return False
        recovered = self.failing_since is not None
        if recovered:
            self.log(f"archive bucket {self.settings['bucket']} writable again")
        self.failing_since = None
        self.last_alarm = 0.0
        self._write_status()
        if recovered and self.settings.get("status_prefix"):
            self.publish_status(force=True)
        return True

    def run_forever(self, interval: float) -> None:
        failures = 0
        while True:
            try:
                ok = self.run_pass()
            except OSError as exc:  # the spool or the status file itself: keep going, loudly
                self.log(f"ALARM journal spool {self.spool} not readable: {exc}")
                ok = False
            failures = 0 if ok else failures + 1
            wait = interval if ok else min(MAX_BACKOFF, 2.0**failures)
            time.sleep(wait * (0.5 + random.random() / 2) if failures else wait)


def _iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat(timespec="seconds")


def main(argv: list[str]) -> int:
    args = argv[1:]
    once = "--once" in args
    args = [a for a in args if a != "--once"]
    if len(args) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    with open(args[0]) as fh:
        settings = json.load(fh)
    uploader = Uploader(settings)
    if once:
        ok = uploader.run_pass()
        if settings.get("status_prefix"):
            uploader.publish_status(force=True)  # what the pass left
        return 0 if ok else 1
    uploader.run_forever(float(settings.get("interval", 5)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
