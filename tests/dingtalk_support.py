"""A loopback HTTPS endpoint that plays DingTalk's API host (api.dingtalk.com) for the to-do tests.

It checks the two calls the notifier makes as DingTalk documents them (hkmail/mailserver/notify.py
TOKEN_PATH and TODO_PATH, with the sources; written out here, not imported, so a wrong path in
the notifier fails):
- POST /v1.0/oauth2/accessToken with JSON {"appKey", "appSecret"} of the internal app; answers
  {"accessToken", "expireIn": 7200};
- POST /v1.0/todo/users/{unionId}/tasks?operatorId={unionId} with the header
  x-acs-dingtalk-access-token holding an unexpired token it issued, and a JSON body of the
  CreateTodoTask fields only (sourceId, subject, description, executorIds), subject at most
  1,024 characters, description at most 4,096; answers {"id": ...}.
Anything else is refused (HTTP 400/401 with {"code", "message"}) and recorded with why. The clock
is injectable, so a test can let a token expire in no real time.
"""

from __future__ import annotations

import json
import secrets
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.notify_support import serve_json_over_tls

API_HOST = "api.dingtalk.com"
TOKEN_LIFE = 7200
TODO_KEYS = {"sourceId", "subject", "description", "executorIds"}


@dataclass
class FakeDingTalkApi:
    app_key: str
    app_secret: str
    union_ids: set[str]
    cert: Path
    key: Path
    clock: Callable[[], float] = time.time
    port: int = 0
    address: str = "127.0.0.1"  # the end-to-end test gives it its own, on port 443
    tokens: dict[str, float] = field(default_factory=dict)  # token -> expiry
    token_requests: int = 0
    todos: list[dict[str, Any]] = field(default_factory=list)  # {"user", "operator", "body"}
    refused: list[str] = field(default_factory=list)
    down: bool = False  # answer 503 to everything
    _server: ThreadingHTTPServer | None = None

    def start(self) -> FakeDingTalkApi:
        self._server, self.port = serve_json_over_tls(
            self.address,
            self.port,
            self.cert,
            self.key,
            lambda path, headers, body: self.judge(
                path, headers.get("x-acs-dingtalk-access-token", ""), body
            ),
        )
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def judge(self, path: str, token: str, body: bytes) -> tuple[int, dict[str, Any]]:
        now = self.clock()
        if self.down:
            return self._refuse(503, "service unavailable (test: down)")
        parts = urllib.parse.urlsplit(path)
        try:
            doc = json.loads(body)
        except ValueError:
            return self._refuse(400, "body is not JSON")
        if not isinstance(doc, dict):
            return self._refuse(400, "body is not a JSON object")
        if parts.path == "/v1.0/oauth2/accessToken":
            self.token_requests += 1
            if doc != {"appKey": self.app_key, "appSecret": self.app_secret}:
                return self._refuse(400, "appKey/appSecret wrong or other keys sent")
            issued = secrets.token_hex(16)
            self.tokens[issued] = now + TOKEN_LIFE
            return 200, {"accessToken": issued, "expireIn": TOKEN_LIFE}
        segments = parts.path.split("/")
        if (
            len(segments) != 6
            or segments[:4] != ["", "v1.0", "todo", "users"]
            or (segments[5] != "tasks")
        ):
            return self._refuse(404, f"no such API: {parts.path}")
        if token not in self.tokens or now >= self.tokens[token]:
            return self._refuse(401, "x-acs-dingtalk-access-token missing, unknown or expired")
        user = urllib.parse.unquote(segments[4])
        operator = urllib.parse.parse_qs(parts.query).get("operatorId", [""])[0]
        if user not in self.union_ids or operator != user:
            return self._refuse(400, "unionId or operatorId not a user of this organisation")
        if not set(doc) <= TODO_KEYS:
            return self._refuse(400, f"fields outside CreateTodoTask's: {set(doc) - TODO_KEYS}")
        subject = doc.get("subject")
        if not isinstance(subject, str) or not subject or len(subject) > 1024:
            return self._refuse(400, "subject missing or over 1,024 characters")
        if len(str(doc.get("description", ""))) > 4096:
            return self._refuse(400, "description over 4,096 characters")
        if doc.get("executorIds") != [user]:
            return self._refuse(400, "executorIds is not the assignee")
        self.todos.append({"user": user, "operator": operator, "body": doc})
        return 200, {"id": f"task-{len(self.todos)}", "subject": subject}

    def _refuse(self, status: int, why: str) -> tuple[int, dict[str, Any]]:
        self.refused.append(why)
        return status, {"code": "InvalidParameter", "message": why}
