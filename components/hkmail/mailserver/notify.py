#!/usr/bin/python3
"""hkmail-notify: turn delivered mail into DingTalk, WeCom or Lark group messages, sending only
the fields a rule declares. Standard library only (it runs on the Debian instance).

Two halves, so that delivery never waits for, or depends on, a chat platform:

``hkmail-notify enqueue SETTINGS RECIPIENT`` is what Dovecot's Sieve pipes each delivered message
to, for the mailboxes the rules name (every mailbox if a rule names none; ``pipe :copy :try``: the
message is kept whatever this program does). It matches the rules
(recipient mailbox, sender address or domain, subject pattern, has-attachment, and our own
DMARC/DKIM verdict from the Authentication-Results header of this host), extracts the declared
fields and nothing else, and writes one job per rule into the spool on the encrypted data disk.
It always exits 0.

``hkmail-notify run SETTINGS`` is the service. A job is sent only once its message is in the
mailbox (Sieve may run the pipe before Dovecot commits the message, so the service looks for
the message itself), at most at each platform's documented rate; what arrives meanwhile goes out
as one digest. Failures are retried with backoff; nothing is dropped, and a Message-ID is
notified once per rule. Outcomes go to the server's log file (on the instance in Hong Kong):
rule, target, counts and status only, never a subject, a sender, a webhook URL or a secret.

Requests go only to the platform hosts the settings list, over HTTPS with the certificate and
host name verified, without proxies or redirects; a webhook URL naming any other host, scheme,
port or path is refused.

A rule with a ``todo`` also gives one DingTalk to-do per message (never a digest: each is a task
for a person), created through DingTalk's to-do API with an enterprise app's access token, which
is fetched with the app's appKey/appSecret and kept in memory until shortly before it expires.
Endpoints, headers and bodies: TOKEN_PATH and TODO_PATH below, with their sources.
"""

from __future__ import annotations

import base64
import contextlib
import email
import email.policy
import email.utils
import hashlib
import hmac
import http.client
import json
import os
import re
import socket
import ssl
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

# Allowed field names a rule may send (the stack reader owns the same list and its meaning).
FIELDS = ("subject", "senderName", "senderAddress", "excerpt", "link", "body", "attachments")
EXCERPT_CHARS = 120
BODY_CHARS = 2000
# Retry: 10 s, 20 s, 40 s ... at most 5 minutes apart, for as long as it takes.
BACKOFF_FIRST = 10.0
BACKOFF_MAX = 300.0
# A job whose message never reaches the mailbox (delivery failed after Sieve ran; Postfix
# retries and Sieve enqueues again) is given up after this long.
CONFIRM_WINDOW = 3600.0
DONE_KEEP = 14 * 86400.0  # how long a sent Message-ID is remembered (deduplication)
TIMEOUT = 15.0
# The app's {appKey, appSecret} in the targets file: a copy of fetch_secrets.TODO_APP (this
# program cannot import it on the instance; tests/test_facts.py keeps the two equal).
TODO_APP = "dingtalkTodo"
# DingTalk's to-do API, on the hosts the settings list (hkmail/facts.py DINGTALK_TODO_HOSTS):
# - token: POST /v1.0/oauth2/accessToken {"appKey", "appSecret"} -> {"accessToken",
#   "expireIn": 7200}; cache it, a little shorter than its life (help.dingtalk.io
#   open/development/obtain-the-access-token-of-an-internal-app);
# - to-do: POST /v1.0/todo/users/{unionId}/tasks?operatorId={unionId} with header
#   x-acs-dingtalk-access-token; body sourceId, subject (at most 1,024 characters), description
#   (at most 4,096), executorIds (unionIds) (open.dingtalk.com/document/orgapp-server/
#   add-dingtalk-to-do-task; the official SDK aliyun/dingtalk-sdk todo_1_0 CreateTodoTask,
#   endpoint api.dingtalk.com). No rate limit for these calls is published that we found.
TOKEN_PATH = "/v1.0/oauth2/accessToken"
TODO_PATH = "/v1.0/todo/users/{union_id}/tasks"
TODO_SUBJECT_MAX = 1024
TODO_DESCRIPTION_MAX = 4096
# Refresh the token this long before DingTalk says it expires (its documentation advises
# caching for a little less than the 7,200 s it lives).
TOKEN_MARGIN = 300.0


class Refused(Exception):
    """A webhook the settings do not allow; never retried, never sent."""


class SendFailed(Exception):
    def __init__(self, status: str, throttled: bool = False) -> None:
        super().__init__(status)
        self.status = status
        self.throttled = throttled


# ------------------------------------------------------------------------------------------------
# Settings
# ------------------------------------------------------------------------------------------------


def load(path: str) -> dict[str, Any]:
    with open(path, encoding="utf-8") as fh:
        settings: dict[str, Any] = json.load(fh)
    return settings


def load_targets(settings: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """Target name -> {"url", "secret"}: the webhook credentials hkmail-fetch-secrets wrote (and
    "dingtalkTodo" -> {"appKey", "appSecret"} where rules create to-dos)."""
    path = settings["targets_file"]
    try:
        with open(path, encoding="utf-8") as fh:
            targets: dict[str, dict[str, str]] = json.load(fh)
    except FileNotFoundError:
        return {}
    return targets


# ------------------------------------------------------------------------------------------------
# Enqueue: match a delivered message and keep only the declared fields
# ------------------------------------------------------------------------------------------------


def auth_results(msg: EmailMessage, authserv_id: str) -> dict[str, str]:
    """method -> result from the Authentication-Results headers this host added (OpenDKIM and
    OpenDMARC remove any that arrive claiming to be ours)."""
    results: dict[str, str] = {}
    for header in msg.get_all("Authentication-Results") or []:
        text = " ".join(str(header).split())
        server, _, rest = text.partition(";")
        if server.strip().split(" ")[0].lower() != authserv_id.lower():
            continue
        for clause in rest.split(";"):
            m = re.match(r"\s*([a-z0-9-]+)\s*=\s*([a-z]+)", clause, re.I)
            if m:
                method, result = m.group(1).lower(), m.group(2).lower()
                # A pass from one signature is a pass (several DKIM results may be listed).
                if results.get(method) != "pass":
                    results[method] = result
    return results


def _text_part(msg: EmailMessage) -> str:
    part = msg.get_body(preferencelist=("plain",))
    if part is None:
        return ""
    try:
        return str(part.get_content())
    except (LookupError, ValueError):
        return ""


def _attachments(msg: EmailMessage) -> list[dict[str, Any]]:
    out = []
    for part in msg.iter_attachments():
        payload = part.get_payload(decode=True)
        size = len(payload) if isinstance(payload, bytes) else 0
        out.append({"name": part.get_filename() or "(unnamed)", "size": size})
    return out


def _sender_matches(address: str, senders: Iterable[str]) -> bool:
    address = address.lower()
    domain = address.rpartition("@")[2]
    for s in senders:
        s = s.lower()
        if ("@" in s and s == address) or ("@" not in s and s == domain):
            return True
    return False


def _auth_ok(required: str, results: Mapping[str, str]) -> bool:
    if required == "dkim":
        return results.get("dkim") == "pass"
    return results.get("dmarc") == "pass"  # the default: the From domain is authenticated


def imap_url(hostname: str, message_id: str) -> str:
    """An RFC 5092 IMAP URL of the message: a search of INBOX by Message-ID."""
    search = urllib.parse.quote(f'HEADER Message-ID "{message_id}"', safe="")
    return f"imap://{hostname}/INBOX?{search}"


def job_id(rule: str, message_id: str) -> str:
    return hashlib.sha256(f"{rule}\0{message_id}".encode()).hexdigest()[:32]


def mid_hash(message_id: str) -> str:
    """What the log says instead of a Message-ID (one message, recognisable, no content)."""
    return hashlib.sha256(message_id.encode()).hexdigest()[:16]


def match(settings: Mapping[str, Any], recipient: str, raw: bytes) -> list[dict[str, Any]]:
    """The jobs one delivered message gives: one per matching rule, with the declared fields."""
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    message_id = str(msg.get("Message-ID", "")).strip()
    if not message_id:
        return []  # nothing to deduplicate on or link to: never notified
    local = recipient.lower().partition("@")[0]
    name, address = email.utils.parseaddr(str(msg.get("From", "")))
    results = auth_results(msg, settings["hostname"])
    attachments = _attachments(msg)
    jobs = []
    for rule in settings["rules"]:
        if rule["recipients"] and local not in rule["recipients"]:
            continue
        if rule["senders"] and not _sender_matches(address, rule["senders"]):
            continue
        subject = " ".join(str(msg.get("Subject", "")).split())
        if rule.get("subject") and not re.search(rule["subject"], subject, re.I):
            continue
        if rule.get("hasAttachment") is not None and bool(attachments) != rule["hasAttachment"]:
            continue
        if not _auth_ok(rule.get("auth", "dmarc"), results):
            continue
        declared = set(rule["fields"])
        fields: dict[str, Any] = {}
        if "subject" in declared:
            fields["subject"] = subject[:200]
        if "senderName" in declared:
            fields["senderName"] = name[:100]
        if "senderAddress" in declared:
            fields["senderAddress"] = address
        text = _text_part(msg) if declared & {"excerpt", "body"} else ""
        if "excerpt" in declared:
            line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
            fields["excerpt"] = line[:EXCERPT_CHARS]
        if "body" in declared:
            fields["body"] = text[:BODY_CHARS]
        if "attachments" in declared:
            fields["attachments"] = attachments
        if "link" in declared:
            fields["link"] = imap_url(settings["hostname"], message_id)
        jobs.append(
            {
                "id": job_id(rule["name"], message_id),
                "rule": rule["name"],
                "target": rule["target"],
                "recipient": f"{local}@{settings['domain']}",
                "message_id": message_id,
                "fields": fields,
            }
        )
        todo = rule.get("todo")
        if todo:
            jobs.append(
                {
                    "id": job_id(rule["name"] + "\0todo", message_id),
                    "kind": "todo",
                    "rule": rule["name"],
                    "target": rule["target"],
                    "recipient": f"{local}@{settings['domain']}",
                    "message_id": message_id,
                    "assignee": todo["unionId"],
                    # only the to-do's own fields, each one the rule already lets leave
                    "fields": {k: v for k, v in fields.items() if k in todo["fields"]},
                }
            )
    return jobs


def _atomic_write(directory: str, name: str, data: dict[str, Any]) -> None:
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, os.path.join(directory, name))
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def spool_dirs(settings: Mapping[str, Any]) -> tuple[str, str]:
    base = settings["spool"]
    pending, done = os.path.join(base, "pending"), os.path.join(base, "done")
    for d in (pending, done):
        os.makedirs(d, mode=0o700, exist_ok=True)
    return pending, done


def enqueue(settings: Mapping[str, Any], recipient: str, raw: bytes, now: float) -> int:
    """Spool the jobs of one message; a job already pending or sent is not added again."""
    pending, done = spool_dirs(settings)
    added = 0
    for job in match(settings, recipient, raw):
        name = job["id"] + ".json"
        if os.path.exists(os.path.join(pending, name)) or os.path.exists(
            os.path.join(done, job["id"])
        ):
            continue
        job.update(enqueued=now, attempts=0, next_attempt=now, confirmed=False)
        _atomic_write(pending, name, job)
        added += 1
        log(
            settings,
            "queued",
            rule=job["rule"],
            target=job["target"],
            mid=mid_hash(job["message_id"]),
        )
    return added


# ------------------------------------------------------------------------------------------------
# Logging: outcomes only, to a file on the instance, and each failure also as one ALARM line on
# stderr for hkmail-logship to match: "hkmail-notify: ALARM <event> <JSON of the same
# content-free fields>" (in /var/log/hkmail-alarm/notify.log with a log store, else in the
# journal of hkmail-notify.service, SYSLOG_IDENTIFIER=hkmail-notify)
# ------------------------------------------------------------------------------------------------

#: The events that mean a notification or to-do did not (yet) reach its platform, or never will.
ALARM_EVENTS = frozenset(
    {
        "failed",
        "refused",
        "todo-failed",
        "todo-refused",
        "not-delivered",
        "error",
        "enqueue-error",
    }
)


def alarm_line(event: str, fields: Mapping[str, Any]) -> str:
    return f"hkmail-notify: ALARM {event} {json.dumps(fields, sort_keys=True)}"


def log(settings: Mapping[str, Any], event: str, **fields: Any) -> None:
    record = {"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "event": event, **fields}
    try:
        with open(settings["log"], "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record, sort_keys=True) + "\n")
    except OSError:
        pass  # a full or missing log never stops mail or notifications
    if event in ALARM_EVENTS:
        with contextlib.suppress(OSError, ValueError):
            print(alarm_line(event, fields), file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------------------
# The platforms: URL check, signature, message
# ------------------------------------------------------------------------------------------------


def check_url(platform: Mapping[str, Any], url: str) -> urllib.parse.SplitResult:
    """The webhook URL, if it names one of the platform's own hosts over HTTPS; else Refused."""
    parts = urllib.parse.urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme != "https":
        raise Refused("webhook is not https")
    if host not in platform["hosts"]:
        raise Refused("webhook host is not one of the platform's declared hosts")
    if parts.port not in (None, 443) or parts.username or parts.password or parts.fragment:
        raise Refused("webhook URL has a port, user info or fragment")
    if not parts.path.startswith(platform["path"]):
        raise Refused("webhook path is not the platform's webhook path")
    return parts


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk: HMAC-SHA256 keyed by the secret over timestamp + "\\n" + secret, base64, then
    URL-encoded (the caller's urlencode does the last step)."""
    to_sign = f"{timestamp_ms}\n{secret}".encode()
    return base64.b64encode(hmac.new(secret.encode(), to_sign, hashlib.sha256).digest()).decode()


def lark_sign(secret: str, timestamp_s: int) -> str:
    """Lark/Feishu: timestamp + "\\n" + secret is the HMAC-SHA256 key, the message is empty."""
    key = f"{timestamp_s}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()


_LABELS = {
    "subject": "Subject",
    "senderName": "From",
    "senderAddress": "Address",
    "excerpt": "Excerpt",
    "link": "Open",
    "body": "Body",
}


def describe(job: Mapping[str, Any]) -> str:
    """One job as text: the rule, the mailbox and exactly the declared fields."""
    lines = [f"[{job['rule']}] new mail for {job['recipient']}"]
    f = job["fields"]
    for key, label in _LABELS.items():
        if f.get(key):
            lines.append(f"{label}: {f[key]}")
    for a in f.get("attachments", []):
        lines.append(f"Attachment: {a['name']} ({a['size']} bytes)")
    return "\n".join(lines)


def compose(jobs: list[dict[str, Any]], max_text: int) -> tuple[str, list[dict[str, Any]]]:
    """The text of one request and the jobs it carries: one message, or a digest of as many as
    fit in ``max_text`` bytes (the rest wait for the next request; at least one always goes)."""
    if len(jobs) == 1:
        text = describe(jobs[0])
        return text.encode()[:max_text].decode(errors="ignore"), jobs
    taken: list[dict[str, Any]] = []
    parts: list[str] = []
    size = 64  # the heading
    for job in jobs:
        block = describe(job)
        if taken and size + len(block.encode()) + 2 > max_text:
            break
        taken.append(job)
        parts.append(block)
        size += len(block.encode()) + 2
    text = f"Digest: {len(taken)} messages\n\n" + "\n\n".join(parts)
    return text.encode()[:max_text].decode(errors="ignore"), taken


def request(platform_id: str, url: str, secret: str, text: str, now: float) -> tuple[str, bytes]:
    """(path with query, JSON body) of one signed request."""
    parts = urllib.parse.urlsplit(url)
    query = parts.query
    if platform_id == "dingtalk":
        body: dict[str, Any] = {"msgtype": "text", "text": {"content": text}}
        if secret:
            ts = int(now * 1000)
            query += "&" + urllib.parse.urlencode(
                {"timestamp": ts, "sign": dingtalk_sign(secret, ts)}
            )
    elif platform_id == "wecom":
        body = {"msgtype": "text", "text": {"content": text}}
    else:  # lark
        body = {"msg_type": "text", "content": {"text": text}}
        if secret:
            ts = int(now)
            body = {"timestamp": str(ts), "sign": lark_sign(secret, ts), **body}
    return parts.path + ("?" + query if query else ""), json.dumps(body).encode()


Connect = Callable[[str, int, float], socket.socket]


def _connect(host: str, port: int, timeout: float) -> socket.socket:
    return socket.create_connection((host, port), timeout=timeout)


def post(
    parts: urllib.parse.SplitResult,
    path: str,
    body: bytes,
    ca_file: str,
    connect: Connect = _connect,
    headers: Mapping[str, str] | None = None,
) -> tuple[int, dict[str, Any]]:
    """POST over verified TLS to the checked host; no proxy, no redirect is followed."""
    host = parts.hostname or ""
    ctx = ssl.create_default_context(cafile=ca_file)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    raw = connect(host, 443 if parts.port is None else parts.port, TIMEOUT)
    conn = http.client.HTTPSConnection(host, timeout=TIMEOUT, context=ctx)
    conn.sock = ctx.wrap_socket(raw, server_hostname=host)
    try:
        conn.request(
            "POST",
            path,
            body=body,
            headers={
                "Content-Type": "application/json; charset=utf-8",
                "Host": host,
                **(headers or {}),
            },
        )
        resp = conn.getresponse()
        data = resp.read(65536)
        try:
            parsed = json.loads(data) if data else {}
        except ValueError:
            parsed = {}
        return resp.status, parsed if isinstance(parsed, dict) else {}
    finally:
        conn.close()


def outcome(platform_id: str, status: int, reply: Mapping[str, Any]) -> None:
    """Raise SendFailed unless the platform accepted the message."""
    if status != 200:
        raise SendFailed(f"HTTP {status}", throttled=status == 429)
    code = reply.get("errcode", reply.get("code", reply.get("StatusCode", 0)))
    if code in (0, None):
        return
    # DingTalk 130101 / Lark 11232 / WeCom 45009: too many messages (the platform throttles).
    raise SendFailed(f"platform error {code}", throttled=code in (130101, 11232, 45009))


def todo_request(job: Mapping[str, Any]) -> tuple[str, bytes]:
    """(path with query, JSON body) of DingTalk's CreateTodoTask for one job: the assignee as
    user, operator and executor; sourceId the job id (no content); subject and description made
    of the to-do's declared fields only."""
    f = job["fields"]
    subject = f"[{job['rule']}] " + (f.get("subject") or f"new mail for {job['recipient']}")
    lines = [f"{label}: {f[k]}" for k, label in _LABELS.items() if k != "subject" and f.get(k)]
    union_id = urllib.parse.quote(job["assignee"], safe="")
    body: dict[str, Any] = {
        "sourceId": job["id"],
        "subject": subject[:TODO_SUBJECT_MAX],
        "executorIds": [job["assignee"]],
    }
    if lines:
        body["description"] = "\n".join(lines)[:TODO_DESCRIPTION_MAX]
    path = (
        TODO_PATH.format(union_id=union_id)
        + "?"
        + urllib.parse.urlencode({"operatorId": job["assignee"]})
    )
    return path, json.dumps(body).encode()


# ------------------------------------------------------------------------------------------------
# The service: confirm delivery, rate-limit, digest, retry
# ------------------------------------------------------------------------------------------------


def in_mailbox(settings: Mapping[str, Any], job: Mapping[str, Any]) -> bool:
    """Whether the message is in the recipient's Maildir (new/ or cur/), so Dovecot committed it."""
    local, _, domain = job["recipient"].partition("@")
    maildir = settings["maildir"].format(domain=domain, user=local)
    since = float(job["enqueued"]) - 120
    wanted = job["message_id"].encode()
    for sub in ("new", "cur"):
        d = os.path.join(maildir, sub)
        try:
            names = os.listdir(d)
        except OSError:
            continue
        for name in names:
            path = os.path.join(d, name)
            try:
                if os.stat(path).st_mtime < since:
                    continue
                with open(path, "rb") as fh:
                    head = fh.read(65536).split(b"\n\n", 1)[0].split(b"\r\n\r\n", 1)[0]
            except OSError:
                continue
            for line in head.splitlines():
                if line.lower().startswith(b"message-id:") and line[11:].strip() == wanted:
                    return True
    return False


@dataclass
class Limiter:
    """Requests one robot may make: at most per_minute in any 60 s and per_second in any 1 s,
    spaced evenly (a burst waits and goes out as one digest instead of tripping the limit)."""

    per_minute: int
    per_second: int | None
    sent: list[float] = field(default_factory=list)
    throttled_until: float = 0.0

    @property
    def spacing(self) -> float:
        # One under the documented limit: the platform's minute need not start with ours.
        gap = 60.0 / max(1, self.per_minute - 1)
        if self.per_second:
            gap = max(gap, 1.0 / self.per_second)
        return gap

    def ready(self, now: float) -> bool:
        if now < self.throttled_until:
            return False
        recent = [t for t in self.sent if now - t < 60.0]
        self.sent = recent
        if len(recent) >= self.per_minute - 1:
            return False
        return not recent or now - recent[-1] >= self.spacing

    def record(self, now: float) -> None:
        self.sent.append(now)


class Notifier:
    def __init__(
        self,
        settings: Mapping[str, Any],
        clock: Callable[[], float] = time.time,
        connect: Connect = _connect,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.connect = connect
        self.pending, self.done = spool_dirs(settings)
        self.limiters: dict[str, Limiter] = {}
        # The to-do app's access token and when to stop using it: memory only, never on disk.
        self._token: tuple[str, float] | None = None
        self._load_state()

    # Limiter state survives a restart, so a restart cannot send a second minute's worth.
    def _state_path(self) -> str:
        return os.path.join(self.settings["spool"], "limits.json")

    def _load_state(self) -> None:
        try:
            with open(self._state_path(), encoding="utf-8") as fh:
                state = json.load(fh)
        except (OSError, ValueError):
            state = {}
        for target, s in state.items():
            lim = self._limiter(target)
            lim.sent = [float(t) for t in s.get("sent", [])]
            lim.throttled_until = float(s.get("throttled_until", 0))

    def _save_state(self) -> None:
        state = {
            t: {"sent": lim.sent[-100:], "throttled_until": lim.throttled_until}
            for t, lim in self.limiters.items()
        }
        _atomic_write(self.settings["spool"], "limits.json", state)

    def _limiter(self, target: str) -> Limiter:
        if target not in self.limiters:
            platform = self.settings["platforms"][self.settings["targets"][target]["platform"]]
            self.limiters[target] = Limiter(platform["per_minute"], platform.get("per_second"))
        return self.limiters[target]

    def _jobs(self) -> list[dict[str, Any]]:
        jobs = []
        for name in sorted(os.listdir(self.pending)):
            if not name.endswith(".json"):
                continue
            try:
                with open(os.path.join(self.pending, name), encoding="utf-8") as fh:
                    jobs.append(json.load(fh))
            except (OSError, ValueError):
                continue
        jobs.sort(key=lambda j: (j["enqueued"], j["id"]))
        return jobs

    def _finish(self, job: Mapping[str, Any], now: float) -> None:
        _atomic_write(self.done, job["id"], {"sent": now})
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(self.pending, job["id"] + ".json"))

    def _prune_done(self, now: float) -> None:
        for name in os.listdir(self.done):
            path = os.path.join(self.done, name)
            try:
                if now - os.stat(path).st_mtime > DONE_KEEP:
                    os.unlink(path)
            except OSError:
                continue

    def run_once(self) -> int:
        """One pass over the spool; returns how many jobs were sent."""
        now = self.clock()
        targets = load_targets(self.settings)
        ready: dict[str, list[dict[str, Any]]] = {}
        todos: list[dict[str, Any]] = []
        for job in self._jobs():
            if not job["confirmed"]:
                if in_mailbox(self.settings, job):
                    job["confirmed"] = True
                    _atomic_write(self.pending, job["id"] + ".json", job)
                elif now - job["enqueued"] > CONFIRM_WINDOW:
                    log(
                        self.settings,
                        "not-delivered",
                        rule=job["rule"],
                        mid=mid_hash(job["message_id"]),
                    )
                    os.unlink(os.path.join(self.pending, job["id"] + ".json"))
                    continue
                else:
                    continue
            if job["next_attempt"] <= now:
                if job.get("kind") == "todo":
                    todos.append(job)
                else:
                    ready.setdefault(job["target"], []).append(job)
        sent = 0
        for target, jobs in ready.items():
            sent += self._send(target, jobs, targets.get(target), now)
        for job in todos:
            sent += self._send_todo(job, targets.get(TODO_APP), now)
        if ready:
            self._save_state()
        return sent

    def _send(
        self,
        target: str,
        jobs: list[dict[str, Any]],
        creds: Mapping[str, str] | None,
        now: float,
    ) -> int:
        lim = self._limiter(target)
        if not lim.ready(now):
            return 0
        platform_id = self.settings["targets"][target]["platform"]
        platform = self.settings["platforms"][platform_id]
        text, batch = compose(jobs, platform["max_text"])
        rules = sorted({j["rule"] for j in batch})
        try:
            if not creds:
                raise SendFailed("no webhook credentials for this target")
            parts = check_url(platform, creds["url"])
            path, body = request(platform_id, creds["url"], creds.get("secret", ""), text, now)
            lim.record(now)
            status, reply = post(parts, path, body, self.settings["ca_file"], self.connect)
            outcome(platform_id, status, reply)
        except Refused as exc:
            # The configuration is wrong, not the network: keep the jobs, retry slowly, say why.
            self._retry(batch, now, BACKOFF_MAX)
            log(
                self.settings,
                "refused",
                target=target,
                rules=rules,
                reason=str(exc),
                messages=len(batch),
            )
            return 0
        except SendFailed as exc:
            if exc.throttled:
                lim.throttled_until = now + float(platform.get("throttle_seconds") or 60)
            self._retry(batch, now)
            log(
                self.settings,
                "failed",
                target=target,
                rules=rules,
                status=exc.status,
                messages=len(batch),
            )
            return 0
        except (OSError, http.client.HTTPException) as exc:
            self._retry(batch, now)
            log(
                self.settings,
                "failed",
                target=target,
                rules=rules,
                status=type(exc).__name__,
                messages=len(batch),
            )
            return 0
        for job in batch:
            self._finish(job, now)
        log(
            self.settings,
            "sent",
            target=target,
            platform=platform_id,
            rules=rules,
            messages=len(batch),
            digest=len(batch) > 1,
            mids=[mid_hash(j["message_id"]) for j in batch],
        )
        return len(batch)

    def _todo_host(self) -> urllib.parse.SplitResult:
        hosts = (self.settings.get("todo_api") or {}).get("hosts") or []
        if not hosts:
            raise Refused("no to-do API host in the settings")
        return urllib.parse.urlsplit(f"https://{hosts[0]}")

    def _access_token(self, app: Mapping[str, str] | None, now: float) -> str:
        """The app's access token: cached until TOKEN_MARGIN before DingTalk's expireIn."""
        if self._token is not None and now < self._token[1]:
            return self._token[0]
        if not app or not app.get("appKey") or not app.get("appSecret"):
            raise SendFailed("no to-do app credentials")
        body = json.dumps({"appKey": app["appKey"], "appSecret": app["appSecret"]}).encode()
        status, reply = post(
            self._todo_host(), TOKEN_PATH, body, self.settings["ca_file"], self.connect
        )
        token, life = reply.get("accessToken"), reply.get("expireIn")
        if status != 200 or not isinstance(token, str) or not token:
            raise SendFailed(f"token: HTTP {status}" + (f" {reply.get('code')}" if reply else ""))
        lifetime = float(life) if isinstance(life, (int, float)) else 7200.0
        self._token = (token, now + max(0.0, lifetime - TOKEN_MARGIN))
        return token

    def _send_todo(self, job: dict[str, Any], app: Mapping[str, str] | None, now: float) -> int:
        try:
            token = self._access_token(app, now)
            path, body = todo_request(job)
            status, reply = post(
                self._todo_host(),
                path,
                body,
                self.settings["ca_file"],
                self.connect,
                {"x-acs-dingtalk-access-token": token},
            )
            if status != 200:
                # The error shape of an expired or revoked token is not published: any refusal
                # fetches a fresh token on the next try.
                self._token = None
                raise SendFailed(f"HTTP {status}" + (f" {reply.get('code')}" if reply else ""))
        except Refused as exc:
            self._retry([job], now, BACKOFF_MAX)
            log(self.settings, "todo-refused", rule=job["rule"], reason=str(exc))
            return 0
        except SendFailed as exc:
            self._retry([job], now)
            log(self.settings, "todo-failed", rule=job["rule"], status=exc.status,
                mid=mid_hash(job["message_id"]))  # fmt: skip
            return 0
        except (OSError, http.client.HTTPException) as exc:
            self._retry([job], now)
            log(self.settings, "todo-failed", rule=job["rule"], status=type(exc).__name__,
                mid=mid_hash(job["message_id"]))  # fmt: skip
            return 0
        self._finish(job, now)
        log(self.settings, "todo-created", rule=job["rule"], mid=mid_hash(job["message_id"]))
        return 1

    def _retry(self, batch: list[dict[str, Any]], now: float, delay: float | None = None) -> None:
        for job in batch:
            job["attempts"] += 1
            wait = delay or min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** (job["attempts"] - 1))
            job["next_attempt"] = now + wait
            _atomic_write(self.pending, job["id"] + ".json", job)

    def serve(self, interval: float = 1.0) -> None:
        last_prune = 0.0
        while True:
            try:
                self.run_once()
                if self.clock() - last_prune > 3600:
                    self._prune_done(self.clock())
                    last_prune = self.clock()
            except Exception as exc:  # the service never dies on one bad job
                log(self.settings, "error", status=type(exc).__name__)
            time.sleep(interval)


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    if len(args) >= 3 and args[0] == "enqueue":
        try:
            settings = load(args[1])
            enqueue(settings, args[2], sys.stdin.buffer.read(), time.time())
        except Exception as exc:  # delivery must never fail because of a notification
            with contextlib.suppress(Exception):
                log(load(args[1]), "enqueue-error", status=type(exc).__name__)
        return 0
    if len(args) == 2 and args[0] == "run":
        Notifier(load(args[1])).serve()
        return 0
    print("usage: hkmail-notify enqueue SETTINGS RECIPIENT | run SETTINGS", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
