"""residency-mail-notify through the real pack process: a mail server's notify rules are flows
out of Hong Kong, blocked unless declared, and blocked when they send the body or attachments
without a declaration that allows it.

The user data is built the way a program that does not use hk-mail's library could build it
(the library's own checks refuse these rules before anything is registered; the pack must not
depend on that).
"""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from hkmail.mailserver.notify_config import (
    NotifyConfig,
    NotifyDeclaration,
    NotifyRule,
    NotifyTarget,
    NotifyTodo,
    settings,
)
from tests.policy_fixtures import Diag, PackClient, Res
from tests.svg_support import measure_labels

HK_ALI = Res("pulumi:providers:alicloud", "hk-ali", {"region": "cn-hongkong", "version": "4.0.0"})
HK_TC = Res("pulumi:providers:tencentcloud", "hk-tc", {"region": "ap-hongkong"})
RULE = "residency-mail-notify"
DECL = NotifyDeclaration("Mainland China", "processor-contract", "EX-2026-023")


@pytest.fixture(scope="module")
def pack() -> Iterator[PackClient]:
    client = PackClient()
    client.configure()
    yield client
    client.close()


def _user_data(*rules: NotifyRule) -> str:
    cfg = NotifyConfig(
        (NotifyTarget("sales", "dingtalk"), NotifyTarget("fin", "wecom")),
        rules,
        (("duty", "uDuty1"),),
    )
    conf = settings(
        cfg,
        hostname="mail.example.hk",
        domain="example.hk",
        spool="/var/vmail/.hkmail-notify",
        maildir="/var/vmail/{domain}/{user}/Maildir",
        log="/var/log/hkmail-notify/notify.log",
        targets_file="/etc/hkmail/notify-targets.json",
        ca_file="/etc/ssl/certs/ca-certificates.crt",
    )
    doc = {"write_files": [{"path": "/etc/hkmail/notify.json", "content": json.dumps(conf)}]}
    return "#cloud-config\n" + yaml.safe_dump(doc)


def _instance(user_data: str, cloud: str = "alicloud") -> Res:
    if cloud == "alicloud":
        props: dict[str, Any] = {"instanceType": "ecs.g7.large", "userData": user_data}
        return Res("alicloud:ecs/instance:Instance", "mail", props, provider=HK_ALI)
    props = {"instanceType": "S5.MEDIUM4", "userData": user_data}
    return Res("tencentcloud:Instance/instance:Instance", "mail", props, provider=HK_TC)


def _of(diags: list[Diag]) -> list[Diag]:
    return [d for d in diags if d.policy == RULE]


def test_an_undeclared_rule_is_a_blocked_flow_naming_what_leaves(pack: PackClient) -> None:
    ud = _user_data(NotifyRule("orders", "sales", None, fields=("subject", "senderName")))
    [d] = _of(pack.analyze(_instance(ud)))
    assert d.level == "mandatory"
    assert "notification flow of mail notifications" in d.message
    assert "subject, sender name" in d.message
    assert "mail.example.hk (Hong Kong) -> oapi.dingtalk.com (outside Hong Kong)" in d.message
    assert "notify rule 'orders'" in d.message and "crossBorder" in d.message


def test_a_declared_rule_is_reported_as_advisory_with_its_declaration(pack: PackClient) -> None:
    ud = _user_data(NotifyRule("invoices", "fin", DECL, fields=("subject",)))
    [d] = _of(pack.analyze(_instance(ud)))
    assert d.level == "advisory"
    assert "[declared: crossBorder EX-2026-023]" in d.message
    assert "qyapi.weixin.qq.com" in d.message and "Mainland China" in d.message


def test_the_body_without_a_declaration_that_allows_it_is_blocked(pack: PackClient) -> None:
    ud = _user_data(NotifyRule("full", "sales", DECL, fields=("subject", "body")))
    [d] = _of(pack.analyze(_instance(ud)))
    assert d.level == "mandatory"
    assert "sends body, which its declaration does not allow" in d.message
    allowed = NotifyDeclaration("Mainland China", "processor-contract", "EX-1", allow_content=True)
    ud = _user_data(NotifyRule("full", "sales", allowed, fields=("body", "attachments")))
    [d] = _of(pack.analyze(_instance(ud)))
    assert d.level == "advisory" and "message body, attachment names" in d.message


@pytest.mark.parametrize("encoding", ["base64", "gzip+base64"])
def test_encoded_user_data_is_read_too(pack: PackClient, encoding: str) -> None:
    raw = _user_data(NotifyRule("orders", "sales", None)).encode()
    data = gzip.compress(raw) if encoding.startswith("gzip") else raw
    [d] = _of(pack.analyze(_instance(base64.b64encode(data).decode(), "tencentcloud")))
    assert d.level == "mandatory" and "oapi.dingtalk.com" in d.message


def test_a_server_without_rules_has_no_notify_finding(pack: PackClient) -> None:
    assert _of(pack.analyze(_instance("#cloud-config\npackages: [postfix]\n"))) == []


def test_plans_and_reports_show_each_rule_with_its_fields_and_status(pack: PackClient) -> None:
    from toolchain import mailflows
    from toolchain.gate.core import Violation

    declared = _user_data(NotifyRule("orders", "sales", DECL, fields=("subject", "link")))
    undeclared = _user_data(NotifyRule("alerts", "fin", None))
    rows = []
    for ud in (declared, undeclared):
        [d] = _of(pack.analyze(_instance(ud)))
        v = Violation(d.policy, "hk-mail-residency", "1", d.level, "high", d.urn, "t", "mail",
                      d.message)  # fmt: skip
        rows += mailflows.rows([v])
    orders, alerts = rows
    assert orders.kind == "notification"
    assert orders.data == (
        "mail notifications (mailbox and rule name, subject, IMAP link (host name, Message-ID)) "
        "of each matching message"
    )
    assert orders.source == "mail.example.hk (Hong Kong)"
    assert orders.destination == "oapi.dingtalk.com (outside Hong Kong)"
    assert orders.via == "notify rule 'orders', DingTalk robot target 'sales'"
    assert orders.status.startswith("declared cross-border (EX-2026-023): Mainland China")
    assert not orders.needs_declaration
    assert alerts.destination == "qyapi.weixin.qq.com (outside Hong Kong)"
    assert alerts.status.startswith("BLOCKED") and alerts.needs_declaration


def test_a_todo_is_a_second_flow_to_dingtalks_api_host_under_the_rules_declaration(
    pack: PackClient,
) -> None:
    todo = NotifyTodo("duty", ("subject",))
    ud = _user_data(NotifyRule("orders", "sales", DECL, fields=("subject", "link"), todo=todo))
    robot, task = _of(pack.analyze(_instance(ud)))
    assert robot.level == task.level == "advisory"
    assert "-> oapi.dingtalk.com (outside Hong Kong)" in robot.message
    assert "notification flow of DingTalk to-dos (mailbox and rule name, subject)" in task.message
    assert "-> api.dingtalk.com (outside Hong Kong)" in task.message
    assert "DingTalk to-do for 'duty'" in task.message and "EX-2026-023" in task.message
    # undeclared: both flows block
    ud = _user_data(NotifyRule("orders", "sales", None, fields=("subject",), todo=todo))
    assert [d.level for d in _of(pack.analyze(_instance(ud)))] == ["mandatory", "mandatory"]


def test_a_todo_is_blocked_with_content_or_under_another_platforms_declaration(
    pack: PackClient,
) -> None:
    allowed = NotifyDeclaration("Mainland China", "processor-contract", "EX-1", allow_content=True)
    todo = NotifyTodo("duty", ("body",))
    body = NotifyRule("full", "sales", allowed, fields=("body",), todo=todo)
    robot, task = _of(pack.analyze(_instance(_user_data(body))))
    assert robot.level == "advisory"  # the robot message may carry it: declared
    assert task.level == "mandatory" and "sends body" in task.message
    # a WeCom rule's declaration is about WeCom: it does not cover a DingTalk to-do
    wecom = NotifyRule("inv", "fin", DECL, fields=("subject",), todo=NotifyTodo("duty"))
    robot, task = _of(pack.analyze(_instance(_user_data(wecom))))
    assert robot.level == "advisory" and "qyapi.weixin.qq.com" in robot.message
    assert task.level == "mandatory" and "api.dingtalk.com" in task.message


def test_the_report_picture_has_a_box_per_notify_flow_with_platform_fields_and_destination(
    pack: PackClient, tmp_path: Path
) -> None:
    import xml.etree.ElementTree as ET

    from toolchain import mailflows, report
    from toolchain.gate.core import Violation

    ud = _user_data(
        NotifyRule("orders", "sales", DECL, fields=("subject", "link"),
                   todo=NotifyTodo("duty", ("subject",))),
        NotifyRule("invoices", "fin", None, fields=("subject",)),
    )  # fmt: skip
    violations = [
        Violation(d.policy, "hk-mail-residency", "1", d.level, "high", d.urn, "t", "mail",
                  d.message)
        for d in _of(pack.analyze(_instance(ud)))
    ]  # fmt: skip
    rows = mailflows.rows(violations)
    # the undeclared rule is also a transfer row of the table: drawn once, as its box
    move = report.Transfer("instance 'mail'", "qyapi…", "none declared", "none", "none",
                           "BLOCKED", rule=RULE)  # fmt: skip
    picture = report.svg([], [move], [], flows=rows)
    doc = ET.fromstring(picture)
    ns = {"s": "http://www.w3.org/2000/svg"}
    boxes = {}
    for g in doc.iterfind(".//s:g", ns):
        title = g.findtext("s:title", "", ns)
        if title.startswith("notify rule"):
            boxes[title.split("\n", 1)[0]] = (
                title.split("\n")[1:],
                [t.text for t in g.iterfind("s:text", ns)],
                g.find("s:rect", ns),
            )
    assert set(boxes) == {
        "notify rule 'orders', DingTalk robot target 'sales'",
        "notify rule 'orders', DingTalk to-do for 'duty'",
        "notify rule 'invoices', WeCom robot target 'fin'",
    }
    lines, texts, rect = boxes["notify rule 'orders', DingTalk robot target 'sales'"]
    assert texts[0] == "'orders' → DingTalk robot target 'sales'"
    assert lines[0] == texts[1] == "to oapi.dingtalk.com (outside Hong Kong)"
    assert lines[1] == (
        "mail notifications: mailbox and rule name, subject, IMAP link (host name, Message-ID)"
    )
    assert lines[2].startswith("declared cross-border (EX-2026-023)")
    assert rect is not None and rect.get("stroke") == "#ef6c00"
    lines, texts, _ = boxes["notify rule 'orders', DingTalk to-do for 'duty'"]
    assert lines[:2] == [
        "to api.dingtalk.com (outside Hong Kong)",
        "DingTalk to-dos: mailbox and rule name, subject",
    ]
    lines, _, rect = boxes["notify rule 'invoices', WeCom robot target 'fin'"]
    assert lines[0] == "to qyapi.weixin.qq.com (outside Hong Kong)" and lines[2].startswith(
        "BLOCKED"
    )
    assert rect is not None and rect.get("stroke") == "#c62828"
    labels = [t.text or "" for t in doc.iterfind(".//s:text", ns)]
    assert not any(label.startswith("leaves HK: qyapi") for label in labels)
    # as chromium lays it out: no label past its box; each one cut is whole in the tooltip
    overflow, cut = measure_labels(f"<!doctype html><html><body>{picture}</body></html>", tmp_path)
    assert overflow == []
    assert cut, "the field lists are longer than a box"
    for label, tooltip in cut:
        assert label[:-1] in tooltip
