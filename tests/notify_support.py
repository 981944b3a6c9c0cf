"""Loopback HTTPS endpoints that play DingTalk, WeCom and Lark for the mail-notify tests.

Each verifies a request exactly as its platform documents (DESIGN.md "Chat platforms"):
- DingTalk custom robot: ``access_token`` in the query; with a signing secret, ``timestamp``
  (ms, within an hour of now) and ``sign`` = URL-encoded base64 of HMAC-SHA256 keyed by the secret
  over ``timestamp + "\\n" + secret``; 20 messages a minute per robot, then throttled 10 minutes
  (errcode 130101 while throttled).
- WeCom group robot: ``key`` in the query, no signature; 20 messages a minute (errcode 45009).
- Lark/Feishu custom bot: the token in the path ``/open-apis/bot/v2/hook/<token>``; ``timestamp``
  (s, within an hour) and ``sign`` in the JSON body, sign = base64 of HMAC-SHA256 with key
  ``timestamp + "\\n" + secret`` over an empty message; 100 a minute, 5 a second (code 11232),
  body at most 20 KB.
Each records what it accepted and why it refused anything else. The clock is injectable so a test
can play minutes in milliseconds, with the notifier on the same clock.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import ssl
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from hkmail.mailserver.notify_config import NotifyConfig, settings
from tests.support import make_test_ca

PLATFORM_HOSTS = {
    "dingtalk": "oapi.dingtalk.com",
    "wecom": "qyapi.weixin.qq.com",
    "lark": "open.feishu.cn",
}
LIMITS = {"dingtalk": (20, None), "wecom": (20, None), "lark": (100, 5)}
THROTTLE_CODE = {"dingtalk": 130101, "wecom": 45009, "lark": 11232}
LARK_MAX_BODY = 20 * 1024


Answer = Callable[[str, Any, bytes], tuple[int, dict[str, Any]]]  # (path, headers, body)


def serve_json_over_tls(
    address: str, port: int, cert: Path, key: Path, answer: Answer
) -> tuple[ThreadingHTTPServer, int]:
    """A JSON-over-HTTPS endpoint on loopback, as the chat platforms' APIs are: every POST is
    answered by ``answer``; returns the server (stop with shutdown/server_close) and its port."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            status, reply = answer(self.path, self.headers, body)
            data = json.dumps(reply).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    server = ThreadingHTTPServer((address, port), Handler)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    return server, server.server_address[1]


@dataclass
class FakePlatform:
    platform: str
    token: str
    secret: str
    cert: Path
    key: Path
    clock: Callable[[], float] = time.time
    port: int = 0  # 0: any free port, kept across stop() and start()
    address: str = "127.0.0.1"  # the end-to-end test gives each platform its own, on port 443
    accepted: list[dict[str, Any]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    requests: list[float] = field(default_factory=list)
    throttled_until: float = 0.0
    _server: ThreadingHTTPServer | None = None

    @property
    def host(self) -> str:
        return PLATFORM_HOSTS[self.platform]

    @property
    def url(self) -> str:
        if self.platform == "dingtalk":
            return f"https://{self.host}/robot/send?access_token={self.token}"
        if self.platform == "wecom":
            return f"https://{self.host}/cgi-bin/webhook/send?key={self.token}"
        return f"https://{self.host}/open-apis/bot/v2/hook/{self.token}"

    @property
    def texts(self) -> list[str]:
        out = []
        for body in self.accepted:
            if self.platform == "lark":
                out.append(body["content"]["text"])
            else:
                out.append(body["text"]["content"])
        return out

    # -- lifecycle: stop() is "the endpoint is down" (connections refused), start() brings it back
    def start(self) -> FakePlatform:
        self._server, self.port = serve_json_over_tls(
            self.address,
            self.port,
            self.cert,
            self.key,
            lambda path, _, body: self.judge(path, body),
        )
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    # -- the platform's checks, in the order the platform applies them
    def judge(self, path: str, body: bytes) -> tuple[int, dict[str, Any]]:
        now = self.clock()
        parts = urllib.parse.urlsplit(path)
        query = urllib.parse.parse_qs(parts.query)
        try:
            doc = json.loads(body)
        except ValueError:
            return self._refuse(400, "body is not JSON")
        if self.platform == "dingtalk":
            if parts.path != "/robot/send" or query.get("access_token") != [self.token]:
                return self._refuse(200, "wrong access_token", 300001)
            ts, sign = query.get("timestamp", [""])[0], query.get("sign", [""])[0]
            if not ts.isdigit() or abs(now * 1000 - int(ts)) > 3600_000:
                return self._refuse(200, "timestamp missing or more than an hour off", 310000)
            expected = base64.b64encode(
                hmac.new(
                    self.secret.encode(), f"{ts}\n{self.secret}".encode(), hashlib.sha256
                ).digest()
            ).decode()
            if not hmac.compare_digest(sign, expected):
                return self._refuse(200, "sign mismatch", 310000)
            if "msgtype" not in doc:
                return self._refuse(200, "no msgtype", 40035)
        elif self.platform == "wecom":
            if parts.path != "/cgi-bin/webhook/send" or query.get("key") != [self.token]:
                return self._refuse(200, "invalid webhook key", 93000)
            if "msgtype" not in doc:
                return self._refuse(200, "no msgtype", 40008)
        else:
            if parts.path != f"/open-apis/bot/v2/hook/{self.token}":
                return self._refuse(200, "wrong hook token", 19001)
            if len(body) > LARK_MAX_BODY:
                return self._refuse(200, "body over 20 KB", 9499)
            ts, sign = str(doc.get("timestamp", "")), str(doc.get("sign", ""))
            if not ts.isdigit() or abs(now - int(ts)) > 3600:
                return self._refuse(200, "timestamp missing or more than an hour off", 19021)
            key = f"{ts}\n{self.secret}".encode()
            expected = base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()
            if not hmac.compare_digest(sign, expected):
                return self._refuse(200, "sign mismatch", 19021)
        per_minute, per_second = LIMITS[self.platform]
        if now < self.throttled_until:
            return self._refuse(200, "throttled", THROTTLE_CODE[self.platform])
        minute = [t for t in self.requests if now - t < 60]
        second = [t for t in self.requests if now - t < 1]
        self.requests.append(now)
        if len(minute) >= per_minute or (per_second and len(second) >= per_second):
            if self.platform == "dingtalk":
                self.throttled_until = now + 600
            return self._refuse(200, "over the rate limit", THROTTLE_CODE[self.platform])
        self.accepted.append(doc)
        if self.platform == "lark":
            return 200, {"code": 0, "msg": "success"}
        return 200, {"errcode": 0, "errmsg": "ok"}

    def _refuse(self, status: int, why: str, code: int = 1) -> tuple[int, dict[str, Any]]:
        self.refused.append(why)
        if self.platform == "lark":
            return status, {"code": code, "msg": why}
        return status, {"errcode": code, "errmsg": why}


def local_settings(
    cfg: NotifyConfig, tmp: Path, ca: Path, targets: dict[str, Any], *, hostname: str, domain: str
) -> dict[str, Any]:
    """The notifier's settings with its spool, mailboxes, log and targets file under ``tmp``, the
    targets file (what hkmail-fetch-secrets writes on the server) written from ``targets``."""
    (tmp / "targets.json").write_text(json.dumps(targets))
    return settings(
        cfg,
        hostname=hostname,
        domain=domain,
        spool=str(tmp / "spool"),
        maildir=str(tmp / "vmail/{domain}/{user}/Maildir"),
        log=str(tmp / "notify.log"),
        targets_file=str(tmp / "targets.json"),
        ca_file=str(ca),
    )


def platform_ca(tmp: Path) -> tuple[Path, Path, Path]:
    """(ca.pem, cert.pem, key.pem): one certificate for every platform host (and DingTalk's API
    host, for to-dos)."""
    return make_test_ca(
        tmp, dns_names=[*PLATFORM_HOSTS.values(), "open.larksuite.com", "api.dingtalk.com"]
    )


def loopback_connect(fakes: dict[str, FakePlatform]) -> Callable[[str, int, float], socket.socket]:
    """The notifier's connect(): each platform host reaches its loopback stand-in (as DNS would);
    TLS still verifies the platform's host name."""
    ports = {f.host: f.port for f in fakes.values()}

    def connect(host: str, port: int, timeout: float) -> socket.socket:
        return socket.create_connection(("127.0.0.1", ports[host]), timeout=timeout)

    return connect
