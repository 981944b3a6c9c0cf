#!/usr/bin/python3
"""hkmail-logship: ship hk-mail's alarm-bearing logs to the server-log store in Hong Kong.

It follows the files listed in its settings (``sources``: hkmail-authpolicy's BLOCK lines,
hkmail-ratelimit's LIMIT lines, the journal uploader's and the backup's ALARM lines, ...), sends
every new complete line as one log entry (fields ``source``, ``host``, ``severity``
(``alarm`` when the line matches its source's pattern, else ``info``) and ``message``) and
advances a cursor (inode and offset per file, fsynced, on the encrypted data disk) only after
the store has accepted the batch. So a restart or a store outage neither loses nor resends a line
(only a crash between the store's answer and the cursor's fsync resends that one batch); lines
wait in their files while the store is unreachable, retried with exponential backoff (at most 5
minutes). A log file rotated away is finished before the new one is read. A file truncated in
place (logrotate's ``copytruncate``: systemd keeps each file open) is noticed by its size or by
the bytes just before the cursor no longer being those it read (``tail``); logrotate's copy
(``<file>.1``, uncompressed thanks to ``delaycompress``) is finished from the cursor first, then
the file is read again from its start. Mail never waits for it: it only reads files.

Stores (the instance role's temporary key from the metadata service, the same code as
hkmail-fetch-secrets; no static key):

- Alibaba SLS ``PutLogs``: ``POST /logstores/<store>/shards/lb`` on
  ``<project>.<region>.log.aliyuncs.com``, body a protobuf ``LogGroup``, signed as
  aliyun-log-python-sdk's ``AuthV1`` does (``LOG <key id>:<base64 HMAC-SHA1>`` over the method,
  Content-MD5, Content-Type, Date, the sorted ``x-log-*``/``x-acs-*`` headers and the resource),
  the STS token in ``x-acs-security-token``;
- Tencent CLS ``UploadLog`` (API 3.0, version 2020-10-16): ``POST /`` on
  ``cls.<region>.tencentcloudapi.com``, ``Content-Type: application/octet-stream``, body a
  protobuf ``LogGroupList``, ``X-CLS-TopicId``, TC3-HMAC-SHA256 over the body, the token in
  ``X-TC-Token`` (tencentcloud-sdk-python's ``call_octet_stream``). The topic's id exists only
  after ``pulumi up`` and these settings are rendered before, so the shipper looks it up by its
  logset's and its own name (``DescribeTopics``, JSON, ``PreciseSearch`` 3: both names exact)
  and keeps it while the process lives (looked up again after a refused upload).

The two protobuf messages are encoded here by hand (a few fields; Debian's python3 needs no
protobuf package). Standard library only.

Usage: hkmail-logship [--once] /etc/hkmail/logship.json
"""

from __future__ import annotations

import base64
import datetime as dt
import email.utils
import hashlib
import hmac
import importlib.machinery
import importlib.util
import json
import os
import random
import re
import socket
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from types import ModuleType
from typing import Any

MAX_BACKOFF = 300.0
CREDENTIALS_TTL = 300.0
BATCH_LINES = 1000  # per request; SLS allows 4,096 entries and 5 MB, CLS 10,000 and 5 MB
BATCH_BYTES = 1_000_000
MAX_LINE = 16_384  # a longer line is cut (hk-mail's own lines are short)
TAIL_BYTES = 256  # the cursor's fingerprint of what precedes it (a truncation's detector)
SLS_API_VERSION = "0.6.0"  # aliyun-log-python-sdk's API_VERSION
CLS_VERSION = "2020-10-16"

Entry = tuple[int, list[tuple[str, str]]]  # unix time, (key, value) fields
Credentials = tuple[str, str, str | None]


class StoreUnavailable(Exception):
    """The store did not accept the batch (network, 5xx, throttling, refused key): retry."""


# -- protobuf (proto2 wire format: varint keys, length-delimited strings and messages) ----------


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _field(number: int, data: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(data)) + data


def _uint(number: int, value: int) -> bytes:
    return _varint(number << 3) + _varint(value)


def sls_log_group(entries: Iterable[Entry], topic: str, source: str) -> bytes:
    """SLS ``LogGroup``: Logs=1 (Log: Time=1 uint32, Contents=2 (Key=1, Value=2)), Topic=3,
    Source=4 (aliyun-log-python-sdk's log_logs_raw.proto)."""
    body = bytearray()
    for when, fields in entries:
        log = _uint(1, when) + b"".join(
            _field(2, _field(1, k.encode()) + _field(2, v.encode())) for k, v in fields
        )
        body += _field(1, log)
    return bytes(body) + _field(3, topic.encode()) + _field(4, source.encode())


def cls_log_group_list(entries: Iterable[Entry], filename: str, source: str) -> bytes:
    """CLS ``LogGroupList``: logGroupList=1 (LogGroup: logs=1 (Log: time=1 int64 in
    milliseconds, contents=2 (key=1, value=2)), filename=3, source=4) (the cls.proto of the
    UploadLog documentation)."""
    group = bytearray()
    for when, fields in entries:
        log = _uint(1, when * 1000) + b"".join(
            _field(2, _field(1, k.encode()) + _field(2, v.encode())) for k, v in fields
        )
        group += _field(1, log)
    group += _field(3, filename.encode()) + _field(4, source.encode())
    return _field(1, bytes(group))


# -- signatures -----------------------------------------------------------------------------------


def sls_headers(
    creds: Credentials, project: str, host: str, resource: str, body: bytes, date: str
) -> dict[str, str]:
    """The headers of an SLS PutLogs request, signed (AuthV1, hmac-sha1)."""
    key_id, secret, token = creds
    h = {
        "Content-Type": "application/x-protobuf",
        "Content-MD5": hashlib.md5(body).hexdigest().upper(),
        "Content-Length": str(len(body)),
        "Date": date,
        "Host": f"{project}.{host}",
        "x-log-apiversion": SLS_API_VERSION,
        "x-log-bodyrawsize": str(len(body)),
        "x-log-signaturemethod": "hmac-sha1",
    }
    if token:
        h["x-acs-security-token"] = token
    signed = "".join(
        f"{k}:{h[k]}\n" for k in sorted(h) if k.lower().startswith(("x-log-", "x-acs-"))
    )
    text = f"POST\n{h['Content-MD5']}\n{h['Content-Type']}\n{date}\n{signed}{resource}"
    mac = hmac.new(secret.encode(), text.encode(), hashlib.sha1).digest()
    h["Authorization"] = f"LOG {key_id}:{base64.b64encode(mac).decode()}"
    h["x-log-date"] = date
    return h


def cls_headers(
    creds: Credentials, host: str, region: str, topic_id: str, body: bytes, timestamp: int
) -> dict[str, str]:
    """The headers of a CLS UploadLog request, signed (TC3-HMAC-SHA256)."""
    h = tc3_headers(creds, host, region, "UploadLog", "application/octet-stream", body, timestamp)
    h["X-CLS-TopicId"] = topic_id
    return h


def describe_topics_body(logset: str, topic: str) -> bytes:
    """DescribeTopics' parameters: the topic of that name in the logset of that name."""
    params = {
        "Filters": [
            {"Key": "logsetName", "Values": [logset]},
            {"Key": "topicName", "Values": [topic]},
        ],
        "PreciseSearch": 3,  # both names matched exactly (not the default fuzzy match)
    }
    return json.dumps(params).encode()  # as the SDK serialises (json.dumps)


def tc3_headers(
    creds: Credentials,
    host: str,
    region: str,
    action: str,
    content_type: str,
    body: bytes,
    timestamp: int,
) -> dict[str, str]:
    """The headers of a CLS API 3.0 POST, signed (TC3-HMAC-SHA256 over content-type and host)."""
    key_id, secret, token = creds
    day = dt.datetime.fromtimestamp(timestamp, dt.UTC).strftime("%Y-%m-%d")
    canonical = "\n".join(
        [
            "POST",
            "/",
            "",
            f"content-type:{content_type}\nhost:{host}\n",
            "content-type;host",
            hashlib.sha256(body).hexdigest(),
        ]
    )
    scope = f"{day}/cls/tc3_request"
    to_sign = "\n".join(
        ["TC3-HMAC-SHA256", str(timestamp), scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )

    def mac(k: bytes, msg: str) -> bytes:
        return hmac.new(k, msg.encode(), hashlib.sha256).digest()

    signing = mac(mac(mac(("TC3" + secret).encode(), day), "cls"), "tc3_request")
    sig = hmac.new(signing, to_sign.encode(), hashlib.sha256).hexdigest()
    h = {
        "Authorization": (
            f"TC3-HMAC-SHA256 Credential={key_id}/{scope}, "
            f"SignedHeaders=content-type;host, Signature={sig}"
        ),
        "Content-Type": content_type,
        "Host": host,
        "X-TC-Action": action,
        "X-TC-Version": CLS_VERSION,
        "X-TC-Timestamp": str(timestamp),
        "X-TC-Region": region,
    }
    if token:
        h["X-TC-Token"] = token
    return h


# -- the store ------------------------------------------------------------------------------------


def _post(url: str, headers: Mapping[str, str], body: bytes, timeout: float = 30.0) -> bytes:
    req = urllib.request.Request(url, data=body, method="POST", headers=dict(headers))
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            data: bytes = resp.read()
            return data
    except urllib.error.HTTPError as exc:
        detail = exc.read()[:300].decode("utf-8", "replace")
        raise StoreUnavailable(f"HTTP {exc.code}: {detail}") from None
    except OSError as exc:
        raise StoreUnavailable(str(exc)) from None


class Store:
    def __init__(self, settings: Mapping[str, Any], creds: Callable[[], Credentials]) -> None:
        self.s = settings
        self.creds = creds
        self.url = os.environ.get("HKMAIL_LOGSTORE_URL")  # a loopback test store
        self.topic_id: str | None = None  # CLS: looked up by name

    def send(self, entries: list[Entry]) -> None:
        s = self.s
        if s["kind"] == "sls":
            resource = f"/logstores/{s['logstore']}/shards/lb"
            body = sls_log_group(entries, "hkmail", s["hostname"])
            date = email.utils.formatdate(usegmt=True)
            headers = sls_headers(self.creds(), s["project"], s["host"], resource, body, date)
            url = self.url or f"https://{s['project']}.{s['host']}"
            _post(url + resource, headers, body)
            return
        topic_id = self.topic_id or self._lookup_topic()
        body = cls_log_group_list(entries, "hkmail", s["hostname"])
        headers = cls_headers(
            self.creds(), s["host"], s["region"], topic_id, body, int(time.time())
        )
        try:
            self._cls(headers, body)
        except StoreUnavailable:
            self.topic_id = None  # a topic deleted and created again has a new id
            raise

    def _cls(self, headers: Mapping[str, str], body: bytes) -> dict[str, Any]:
        answer = _post(self.url or f"https://{self.s['host']}/", headers, body)
        try:
            response: dict[str, Any] = json.loads(answer)["Response"]
            error = response.get("Error")
        except (ValueError, KeyError, TypeError, AttributeError):
            raise StoreUnavailable(f"CLS answered {answer[:200]!r}") from None
        if error:  # API 3.0 answers 200 with an Error object
            raise StoreUnavailable(f"CLS {error.get('Code')}: {error.get('Message')}")
        return response

    def _lookup_topic(self) -> str:
        s = self.s
        body = describe_topics_body(s["logset"], s["topic"])
        headers = tc3_headers(
            self.creds(),
            s["host"],
            s["region"],
            "DescribeTopics",
            "application/json",
            body,
            int(time.time()),
        )
        topics = self._cls(headers, body).get("Topics") or []
        ids = [t.get("TopicId") for t in topics if t.get("TopicName") == s["topic"]]
        if len(ids) != 1 or not isinstance(ids[0], str):
            raise StoreUnavailable(
                f"CLS topic {s['logset']}/{s['topic']}: {len(ids)} found (DescribeTopics)"
            )
        self.topic_id = ids[0]
        return ids[0]


# -- the files and the cursor ---------------------------------------------------------------------


def _tail(fh: Any, offset: int) -> str:
    """A digest of the bytes just before ``offset``."""
    n = min(offset, TAIL_BYTES)
    fh.seek(offset - n)
    return hashlib.sha256(fh.read(n)).hexdigest()


def _position(fh: Any, inode: int, offset: int) -> dict[str, Any]:
    return {"inode": inode, "offset": offset, "tail": _tail(fh, offset)}


def _continues(fh: Any, at: Mapping[str, Any], size: int) -> bool:
    """Whether the file still holds what the cursor read (not truncated, nor truncated and
    written past the cursor again since the last pass)."""
    if at["offset"] > size:
        return False
    return "tail" not in at or _tail(fh, at["offset"]) == at["tail"]


def _load(name: str, path: str) -> ModuleType:
    spec = importlib.util.spec_from_loader(name, importlib.machinery.SourceFileLoader(name, path))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


class Shipper:
    def __init__(self, settings: Mapping[str, Any], store: Store | None = None) -> None:
        self.settings = settings
        self.sources = [
            (src["name"], src["path"], re.compile(src["alarm"])) for src in settings["sources"]
        ]
        self.cursor_path = settings["cursor"]
        self.cursor: dict[str, dict[str, Any]] = self._read_cursor()
        self._creds: Credentials | None = None
        self._creds_at = 0.0
        self.store = store or Store(settings["store"], self._credentials)
        self.failing_since: float | None = None

    def _credentials(self) -> Credentials:
        if self._creds is None or time.monotonic() - self._creds_at > CREDENTIALS_TTL:
            fetch = _load("hkmail_fetch_secrets", self.settings["fetch_script"])
            self._creds = fetch.role_credentials(self.settings["cloud"], self.settings["role_name"])
            self._creds_at = time.monotonic()
        assert self._creds is not None
        return self._creds

    def _read_cursor(self) -> dict[str, dict[str, Any]]:
        try:
            with open(self.cursor_path) as fh:
                data: dict[str, dict[str, Any]] = json.load(fh)
                return data
        except (OSError, ValueError):
            return {}

    def _write_cursor(self) -> None:
        tmp = self.cursor_path + ".tmp"
        with open(tmp, "w") as fh:
            json.dump(self.cursor, fh, sort_keys=True)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.cursor_path)
        fd = os.open(os.path.dirname(self.cursor_path) or ".", os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def _open(self, name: str, path: str) -> tuple[Any, int, int] | None:
        """The file to read next for a source, its inode and the offset to start at."""
        at = self.cursor.get(name)
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return None
        if at and at["inode"] != st.st_ino:
            # Rotated: finish the old file first if it is still beside the new one.
            for old in (path + ".1", path + ".0"):
                try:
                    if os.stat(old).st_ino == at["inode"] and os.stat(old).st_size > at["offset"]:
                        return open(old, "rb"), at["inode"], at["offset"]
                except FileNotFoundError:
                    continue
            return open(path, "rb"), st.st_ino, 0
        fh = open(path, "rb")  # noqa: SIM115 (the caller closes it)
        if not at or _continues(fh, at, st.st_size):
            return fh, st.st_ino, at["offset"] if at else 0
        # Truncated in place (copytruncate): finish logrotate's copy of it first.
        try:
            copy = open(path + ".1", "rb")  # noqa: SIM115 (the caller closes it)
        except FileNotFoundError:
            return fh, st.st_ino, 0
        cst = os.fstat(copy.fileno())
        unread = cst.st_size > at["offset"]
        if cst.st_ino != st.st_ino and unread and _continues(copy, at, cst.st_size):
            fh.close()
            return copy, cst.st_ino, at["offset"]
        copy.close()
        return fh, st.st_ino, 0

    def collect(self) -> tuple[list[Entry], dict[str, dict[str, Any]]]:
        """Up to one batch of new complete lines, and the cursor once they are stored."""
        entries: list[Entry] = []
        cursor = {k: dict(v) for k, v in self.cursor.items()}
        size = 0
        host = self.settings["store"]["hostname"]
        for name, path, alarm in self.sources:
            opened = self._open(name, path)
            if opened is None:
                continue
            fh, inode, offset = opened
            with fh:
                fh.seek(offset)
                for raw in fh:
                    if not raw.endswith(b"\n"):
                        break  # a line still being written: next pass
                    offset += len(raw)
                    line = raw[:MAX_LINE].decode("utf-8", "replace").rstrip("\r\n")
                    severity = "alarm" if alarm.search(line) else "info"
                    fields = [
                        ("source", name),
                        ("host", host),
                        ("severity", severity),
                        ("message", line),
                    ]
                    entries.append((int(time.time()), fields))
                    size += len(line) + 64
                    if len(entries) >= BATCH_LINES or size >= BATCH_BYTES:
                        cursor[name] = _position(fh, inode, offset)
                        return entries, cursor
                cursor[name] = _position(fh, inode, offset)
        return entries, cursor

    def run_pass(self) -> bool:
        """Ship everything pending; True when nothing is left (or nothing was new)."""
        while True:
            entries, cursor = self.collect()
            if not entries:
                if cursor != self.cursor:  # a rotation finished: follow the new file
                    self.cursor = cursor
                    self._write_cursor()
                    continue
                self._recovered()
                return True
            try:
                self.store.send(entries)
            except StoreUnavailable as exc:
                self._creds = None  # an expired key is fetched again
                if self.failing_since is None:
                    self.failing_since = time.time()
                    print(f"hkmail-logship: log store not writable: {exc}", file=sys.stderr)
                return False
            except OSError as exc:  # the metadata service (role key) is unreachable
                self._creds = None
                print(f"hkmail-logship: no role key: {exc}", file=sys.stderr)
                return False
            self.cursor = cursor
            self._write_cursor()

    def _recovered(self) -> None:
        if self.failing_since is not None:
            print("hkmail-logship: log store writable again", file=sys.stderr)
        self.failing_since = None

    def run_forever(self, interval: float) -> None:
        failures = 0
        while True:
            ok = self.run_pass()
            failures = 0 if ok else failures + 1
            wait = interval if ok else min(MAX_BACKOFF, 2.0**failures)
            time.sleep(wait * (0.5 + random.random() / 2) if failures else wait)


def main(argv: list[str]) -> int:
    args = argv[1:]
    once = "--once" in args
    args = [a for a in args if a != "--once"]
    if len(args) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    with open(args[0]) as fh:
        settings = json.load(fh)
    settings["store"].setdefault("hostname", socket.gethostname())
    shipper = Shipper(settings)
    if once:
        return 0 if shipper.run_pass() else 1
    shipper.run_forever(float(settings.get("interval", 5)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
