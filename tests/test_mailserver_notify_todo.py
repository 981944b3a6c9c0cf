"""DingTalk to-dos from notify rules: hkmail-notify against loopback HTTPS endpoints that play
DingTalk's robot (oapi.dingtalk.com, tests/notify_support.py) and its API host (api.dingtalk.com,
tests/dingtalk_support.py), each checking the requests as DingTalk documents them.

The notifier and the endpoints share one clock, so a token's two-hour life plays out in no real
time; the requests are real (TLS with the host name verified). Like test_mailserver_notify, the
notifier runs alone here: the Sieve -> enqueue path it shares with robot messages is tested end to
end there.
"""

from __future__ import annotations

import json
import os
import re
import socket
import time
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from hkmail.errors import SpecError
from hkmail.mailserver import notify
from hkmail.mailserver.notify_config import (
    NotifyConfig,
    NotifyDeclaration,
    NotifyRule,
    NotifyTarget,
    NotifyTodo,
    check,
    settings,
    statements,
)
from tests.dingtalk_support import API_HOST, TOKEN_LIFE, FakeDingTalkApi
from tests.notify_support import PLATFORM_HOSTS, FakePlatform, local_settings
from tests.support import make_test_ca

HOST = "mail.hkmail.test"
DOMAIN = "hkmail.test"
DECL = NotifyDeclaration("Mainland China", "processor-contract", "EX-2026-023")
DUTY_UNION_ID = "uDuty0n3Union"
APP_KEY, APP_SECRET = "dingapp-key-7", "APPsecret-never-logged-9f"
ROBOT_TOKEN, ROBOT_SECRET = "dt-robot-token", "SECrobot-signing-secret"


class Clock:
    def __init__(self) -> None:
        self.now = time.time()  # the Maildir files the test writes carry real mtimes

    def __call__(self) -> float:
        return self.now


TODO = NotifyTodo("duty", ("subject", "link"))


def _config(todo: NotifyTodo | None = TODO) -> NotifyConfig:
    return NotifyConfig(
        (NotifyTarget("sales", "dingtalk"), NotifyTarget("finance", "wecom")),
        (
            NotifyRule(
                "orders",
                "sales",
                DECL,
                recipients=("orders",),
                fields=("subject", "senderName", "link"),
                todo=todo,
            ),
        ),
        (("duty", DUTY_UNION_ID),),
    )


@pytest.fixture
def world(tmp_path: Path) -> Iterator[dict[str, Any]]:
    ca, cert, key = make_test_ca(tmp_path, dns_names=[PLATFORM_HOSTS["dingtalk"], API_HOST])
    clock = Clock()
    robot = FakePlatform("dingtalk", ROBOT_TOKEN, ROBOT_SECRET, cert, key, clock).start()
    api = FakeDingTalkApi(APP_KEY, APP_SECRET, {DUTY_UNION_ID}, cert, key, clock).start()
    targets = {
        "sales": {"url": robot.url, "secret": ROBOT_SECRET},
        "dingtalkTodo": {"appKey": APP_KEY, "appSecret": APP_SECRET},
    }
    s = local_settings(_config(), tmp_path, ca, targets, hostname=HOST, domain=DOMAIN)
    ports = {robot.host: robot.port, API_HOST: api.port}

    def connect(host: str, port: int, timeout: float) -> socket.socket:
        return socket.create_connection(("127.0.0.1", ports[host]), timeout=timeout)

    notifier = notify.Notifier(s, clock=clock, connect=connect)
    try:
        yield {"settings": s, "robot": robot, "api": api, "clock": clock,
               "notifier": notifier, "tmp": tmp_path}  # fmt: skip
    finally:
        robot.stop()
        api.stop()


def _deliver(w: dict[str, Any], subject: str, body: str = "Please ship 20 boxes.\n") -> str:
    """A DMARC-passing message to orders@: enqueued as Sieve would, put in the Maildir as Dovecot
    would; returns its Message-ID."""
    m = EmailMessage()
    m["Authentication-Results"] = f"{HOST}; dmarc=pass (p=none) header.from=customer.example"
    m["From"] = "Chan Tai Man <buyer@customer.example>"
    m["To"] = f"orders@{DOMAIN}"
    m["Subject"] = subject
    mid = f"<{abs(hash((subject, body)))}.{time.monotonic_ns()}@customer.example>"
    m["Message-ID"] = mid
    m.set_content(body)
    raw = bytes(m)
    notify.enqueue(w["settings"], f"orders@{DOMAIN}", raw, w["clock"].now)
    new = w["tmp"] / "vmail" / DOMAIN / "orders" / "Maildir" / "new"
    new.mkdir(parents=True, exist_ok=True)
    path = new / f"{len(list(new.iterdir()))}.orders"
    path.write_bytes(raw)
    os.utime(path, (w["clock"].now, w["clock"].now))  # delivered at the test clock's time
    return mid


def _drain(w: dict[str, Any], seconds: float, step: float = 0.5) -> None:
    end = w["clock"].now + seconds
    while w["clock"].now < end:
        w["notifier"].run_once()
        w["clock"].now += step


def _why(w: dict[str, Any]) -> str:
    log = Path(w["settings"]["log"])
    return f"api refused {w['api'].refused}; log:\n{log.read_text() if log.exists() else ''}"


def test_a_matching_message_gives_the_robot_message_and_one_todo_of_the_declared_fields(
    world: dict[str, Any],
) -> None:
    w = world
    mid = _deliver(w, "Order 4711", body="Ship to 1 Queen's Road Central\n")
    _drain(w, 2)
    api, robot = w["api"], w["robot"]
    assert api.refused == [] and robot.refused == [], _why(w)
    assert len(robot.texts) == 1 and "Order 4711" in robot.texts[0]
    [todo] = api.todos
    assert todo["user"] == todo["operator"] == DUTY_UNION_ID
    body = todo["body"]
    assert body["subject"] == "[orders] Order 4711"
    assert body["executorIds"] == [DUTY_UNION_ID]
    assert body["description"] == f"Open: {notify.imap_url(HOST, mid)}"
    # the sender's name is a field of the robot message, not of the to-do; the body is neither
    assert "Chan" not in json.dumps(body) and "Queen" not in json.dumps(body)
    assert api.token_requests == 1


def test_the_token_is_cached_until_shortly_before_it_expires(world: dict[str, Any]) -> None:
    w = world
    for i in range(3):
        _deliver(w, f"Order {i}")
    _drain(w, 2)
    assert len(w["api"].todos) == 3 and w["api"].token_requests == 1, _why(w)
    w["clock"].now += TOKEN_LIFE - 60  # past our margin, before DingTalk's expiry
    _deliver(w, "Order late")
    _drain(w, 2)
    assert len(w["api"].todos) == 4, _why(w)
    assert w["api"].token_requests == 2 and w["api"].refused == [], _why(w)


def test_the_api_down_then_back_gives_each_todo_once_and_logs_no_secret(
    world: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    w = world
    w["api"].down = True
    _deliver(w, "Order while down")
    _drain(w, 120)
    assert w["api"].todos == []
    # each failure is also one ALARM line on stderr (the unit's journal): prefix, event, JSON
    alarms = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("hkmail-notify:")]
    assert alarms, _why(w)
    for line in alarms:
        m = re.fullmatch(r"hkmail-notify: ALARM (?P<event>[a-z-]+) (?P<fields>\{.*\})", line)
        assert m is not None, line
        assert m["event"] == "todo-failed"
        assert json.loads(m["fields"])["status"] == "token: HTTP 503 InvalidParameter", line
    w["api"].down = False
    _drain(w, 400)
    assert len(w["api"].todos) == 1, _why(w)
    assert len(w["robot"].texts) == 1  # the robot message did not wait for the to-do
    log = Path(w["settings"]["log"]).read_text()
    events = [json.loads(line)["event"] for line in log.splitlines()]
    assert "todo-failed" in events and events.count("todo-created") == 1, log
    token = next(iter(w["api"].tokens))
    for secret in (APP_KEY, APP_SECRET, token, DUTY_UNION_ID, "Order while down"):
        assert secret not in log and secret not in "\n".join(alarms)
    _drain(w, 60)
    assert len(w["api"].todos) == 1  # deduplicated: sent once


def test_todo_config_errors_name_the_key_and_the_allowed_values() -> None:
    allow = NotifyDeclaration("Mainland China", "processor-contract", "EX-2026-023", "", True)
    rules = (
        NotifyRule("orders", "sales", DECL, fields=("subject",),
                   todo=NotifyTodo("nobody", ("subject", "excerpt"))),
        NotifyRule("invoices", "finance", DECL, fields=("subject",), todo=NotifyTodo("duty")),
        NotifyRule("full", "sales", allow, fields=("subject", "body"),
                   todo=NotifyTodo("duty", ("body",))),
    )  # fmt: skip
    cfg = NotifyConfig(
        (NotifyTarget("sales", "dingtalk"), NotifyTarget("finance", "wecom")),
        rules,
        (("duty", DUTY_UNION_ID), ("ghost", "bad id/with slash")),
    )
    errors: dict[str, list[SpecError]] = {}
    for e in check(cfg, ("orders", "duty", "finance")):
        errors.setdefault(e.field, []).append(e)
    p = "mailServer.notify"
    [assignee] = errors[f"{p}.rules[0].todo.assignee"]
    assert assignee.value == "nobody" and "['duty', 'ghost']" in assignee.allowed
    [excerpt] = errors[f"{p}.rules[0].todo.fields"]
    assert excerpt.value == "excerpt" and excerpt.allowed == "subject"
    [wecom] = errors[f"{p}.rules[1].todo"]
    assert "DingTalk robot" in wecom.allowed
    [body] = errors[f"{p}.rules[2].todo.fields"]
    assert body.value == "body" and "never the body" in str(body)
    ghost = errors[f"{p}.dingtalkUsers.ghost"]
    assert {e.value for e in ghost} == {"ghost", "bad id/with slash"}


def test_the_plan_states_the_todo_flow_to_dingtalks_api_host() -> None:
    lines = statements(_config(), HOST)
    assert len(lines) == 2
    assert "DingTalk to-dos of rule 'orders' (mailbox and rule name, subject, IMAP link" in lines[1]
    assert "(api.dingtalk.com), Mainland China (transfer safeguard: processor-contract" in lines[1]
    assert "assignee 'duty'" in lines[1]


def _setting_rules(cfg: NotifyConfig) -> Callable[[], dict[str, Any]]:
    return lambda: settings(cfg, hostname=HOST, domain=DOMAIN, spool="/s", maildir="/m",
                            log="/l", targets_file="/t", ca_file="/c")  # fmt: skip


def test_settings_carry_the_assignees_union_id_and_no_credential() -> None:
    s = _setting_rules(_config())()
    assert s["todo_api"] == {"hosts": ["api.dingtalk.com"]}
    assert s["rules"][0]["todo"] == {"assignee": "duty", "unionId": DUTY_UNION_ID,
                                     "fields": ["subject", "link"]}  # fmt: skip
    assert "todo_api" not in _setting_rules(_config(todo=None))()
    assert APP_SECRET not in json.dumps(s)


def test_boot_keeps_the_todo_app_beside_the_webhooks_and_refuses_a_broken_one() -> None:
    from hkmail.mailserver.fetch_secrets import FetchError, _notify_targets

    hooks = {"sales": {"url": "https://oapi.dingtalk.com/robot/send?access_token=t", "secret": "S"}}
    app = {"appKey": APP_KEY, "appSecret": APP_SECRET}
    assert json.loads(_notify_targets(json.dumps({**hooks, "dingtalkTodo": app}))) == {
        **hooks,
        "dingtalkTodo": app,
    }
    with pytest.raises(FetchError, match=r"dingtalkTodo is not JSON \{appKey, appSecret\}") as info:
        _notify_targets(json.dumps({**hooks, "dingtalkTodo": {"appKey": APP_KEY}}))
    assert APP_KEY not in str(info.value)


def test_typed_args_keep_the_assignees_mailbox_names_as_they_are() -> None:
    from hkmail.components.inputs import to_config

    args = {"notify": {"dingtalk_users": {"on_duty": "u1"}, "rules": [{"has_attachment": True}]}}
    assert to_config(args) == {
        "notify": {"dingtalkUsers": {"on_duty": "u1"}, "rules": [{"hasAttachment": True}]}
    }
