"""hkmail:privateServer.notify and hkmail:notifyWebhooks in the stack reader: every bad value gets
an error naming its key and the allowed values, before anything is registered."""

from __future__ import annotations

import copy
import datetime as dt
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from hkmail.errors import SpecErrors
from hkmail.mailserver.notify_config import statements as notify_statements
from hkmail.spec import read_stack
from program import run
from tests.conftest import stack_config
from tests.policy_fixtures import PackClient, Res
from tests.support import (
    REPO,
    of_type,
    plaintext_hits,
    run_program,
    secret_count,
    with_secrets,
)

STACK = "private-tencent"
DECL = {
    "destinationCountry": "Mainland China",
    "transferSafeguard": "processor-contract",
    "exemption": "EX-2026-023",
}
NOTIFY = {
    "targets": [
        {"name": "sales", "platform": "dingtalk"},
        {"name": "finance", "platform": "wecom"},
    ],
    "rules": [
        {
            "name": "orders",
            "target": "sales",
            "recipients": ["ops"],
            "subject": "(?i)order",
            "fields": ["subject", "senderName", "link"],
            "crossBorder": DECL,
        },
        {
            "name": "invoices",
            "target": "finance",
            "recipients": ["compliance"],
            "hasAttachment": True,
            "crossBorder": DECL,
        },
    ],
}
WEBHOOKS = {
    "sales": {"url": "https://oapi.dingtalk.com/robot/send?access_token=abc", "secret": "SECx"},
    "finance": {"url": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k1", "secret": ""},
}


def _config(notify: Any = NOTIFY, webhooks: Any = WEBHOOKS) -> dict[str, Any]:
    config = copy.deepcopy(stack_config(STACK))
    config["hkmail:privateServer"]["notify"] = copy.deepcopy(notify)
    if webhooks is not None:
        config["hkmail:notifyWebhooks"] = json.dumps(webhooks)
    return config


def _errors(config: dict[str, Any], **kw: Any) -> dict[str, str]:
    with pytest.raises(SpecErrors) as info:
        read_stack(config, **kw)
    return {e.field: str(e) for e in info.value.errors}


def test_a_declared_stack_reads_into_typed_rules() -> None:
    spec = read_stack(_config())
    assert spec.private_server is not None and spec.private_server.notify is not None
    orders, invoices = spec.private_server.notify.rules
    assert orders.fields == ("subject", "senderName", "link") and orders.auth == "dmarc"
    assert orders.cross_border is not None and orders.cross_border.exemption == "EX-2026-023"
    assert invoices.has_attachment is True and invoices.fields == ()
    # What program.py exports as crossBorderTransfers (the plan's transfer lines): each rule with
    # exactly the fields that leave.
    lines = notify_statements(spec.private_server.notify, spec.private_server.hostname)
    assert lines[0] == (
        "CROSS-BORDER: mail notifications of rule 'orders' (mailbox and rule name, subject, "
        "sender name, IMAP link (host name, Message-ID)) leave mail.centralclinic.hk for DingTalk "
        "custom robot (oapi.dingtalk.com), Mainland China (transfer safeguard: "
        "processor-contract; exemption EX-2026-023)"
    )
    assert "rule 'invoices' (mailbox and rule name) leave" in lines[1]


def test_a_rule_asking_for_the_body_without_the_declaration_allowing_it_is_refused() -> None:
    notify = copy.deepcopy(NOTIFY)
    notify["rules"][0]["fields"] = ["subject", "body"]
    errors = _errors(_config(notify))
    msg = errors["hkmail:privateServer.notify.rules[0].fields"]
    assert "['body']" in msg and "allowContent" in msg
    notify["rules"][0]["crossBorder"] = {**DECL, "allowContent": True}
    read_stack(_config(notify))  # declared: accepted (the pack still reports it)


def test_bad_rules_name_each_key_and_the_allowed_values() -> None:
    notify = copy.deepcopy(NOTIFY)
    notify["targets"][0]["platform"] = "slack"
    notify["targets"][1]["url"] = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k1"
    del notify["rules"][0]["crossBorder"]
    notify["rules"][1]["fields"] = ["subject", "html"]
    notify["rules"][1]["recipients"] = ["nobody"]
    notify["rules"][1]["crossBorder"] = {**DECL, "transferSafeguard": "gba-standard-contract"}
    errors = _errors(_config(notify))
    p = "hkmail:privateServer.notify"
    assert "dingtalk | wecom | lark" in errors[f"{p}.targets[0].platform"]
    assert "hkmail:notifyWebhooks" in errors[f"{p}.targets[1].url"]
    assert "k1" not in errors[f"{p}.targets[1].url"]  # the credential is not echoed
    assert "every chat platform is outside Hong Kong" in errors[f"{p}.rules[0].crossBorder"]
    assert (
        "'html'" in errors[f"{p}.rules[1].fields"]
        and "senderName" in errors[f"{p}.rules[1].fields"]
    )
    assert "ops" in errors[f"{p}.rules[1].recipients"]
    assert "processor-contract" in errors[f"{p}.rules[1].crossBorder.transferSafeguard"]


def test_webhooks_must_be_a_secret_on_the_platforms_own_host() -> None:
    hooks = copy.deepcopy(WEBHOOKS)
    hooks["sales"]["url"] = "https://hooks.example.com/robot/send?access_token=abc"
    errors = _errors(_config(webhooks=hooks))
    msg = errors["hkmail:notifyWebhooks.sales.url"]
    assert "https://oapi.dingtalk.com/robot/send" in msg and "access_token" not in msg
    missing = _errors(_config(webhooks=None))
    assert "pulumi config set --secret hkmail:notifyWebhooks" in missing["hkmail:notifyWebhooks"]
    plain = _errors(_config(), secret_keys={"hkmail:dkimPrivateKey"})
    assert "a secret" in plain["hkmail:notifyWebhooks"]
    assert "SECx" not in json.dumps(plain)


def _todo_config(todo: Any, app: Any = None, users: Any = None) -> dict[str, Any]:
    notify = copy.deepcopy(NOTIFY)
    notify["rules"][0]["todo"] = todo
    notify["dingtalkUsers"] = {"ops": "uOps0nDuty"} if users is None else users
    hooks = copy.deepcopy(WEBHOOKS)
    if app is not None:
        hooks["dingtalkTodo"] = app
    return _config(notify, hooks)


def test_a_rule_with_a_todo_reads_with_its_assignee_and_the_app_only_in_the_secret() -> None:
    app = {"appKey": "dingkey", "appSecret": "APPSECRET-x"}
    spec = read_stack(_todo_config({"assignee": "ops", "fields": ["subject", "link"]}, app))
    assert spec.private_server is not None and spec.private_server.notify is not None
    notify = spec.private_server.notify
    orders = notify.rules[0]
    assert orders.todo is not None and orders.todo.fields == ("subject", "link")
    assert dict(notify.dingtalk_users) == {"ops": "uOps0nDuty"}
    lines = notify_statements(notify, spec.private_server.hostname)
    assert "DingTalk to-dos of rule 'orders'" in lines[1] and "(api.dingtalk.com)" in lines[1]


def test_bad_todo_input_names_each_key_and_the_allowed_values() -> None:
    app = {"appKey": "dingkey", "appSecret": "APPSECRET-x"}
    p = "hkmail:privateServer.notify"
    errors = _errors(_todo_config({"assignee": "ops", "due": "tomorrow"}, app))
    assert "assignee" in errors[f"{p}.rules[0].todo.due"]
    errors = _errors(_todo_config({"assignee": "compliance", "fields": ["body"]}, app))
    assert "['ops']" in errors[f"{p}.rules[0].todo.assignee"]
    assert "never the body" in errors[f"{p}.rules[0].todo.fields"]
    errors = _errors(_todo_config({"assignee": "ops"}, app, users=["ops"]))
    assert "{mailbox: DingTalk unionId}" in errors[f"{p}.dingtalkUsers"]
    # the app's credentials: missing, or a key missing, each named; never echoed
    missing = _errors(_todo_config({"assignee": "ops"}))
    assert "appKey" in missing["hkmail:notifyWebhooks.dingtalkTodo"]
    half = _errors(_todo_config({"assignee": "ops"}, {"appKey": "dingkey", "extra": "x"}))
    assert "appSecret" in half["hkmail:notifyWebhooks.dingtalkTodo.appSecret"]
    assert "appKey | appSecret" in half["hkmail:notifyWebhooks.dingtalkTodo.extra"]
    assert "dingkey" not in json.dumps(half)
    # the app's credentials in plain config: named, pointed at the secret, never echoed
    plain = _todo_config({"assignee": "ops", "appSecret": "PLAIN-1"}, app)
    plain["hkmail:privateServer"]["notify"]["dingtalkTodo"] = {
        "appKey": "k",
        "appSecret": "PLAIN-2",
    }
    errors = _errors(plain)
    assert "--secret hkmail:notifyWebhooks" in errors[f"{p}.rules[0].todo.appSecret"]
    assert "credentials, never plain config" in errors[f"{p}.dingtalkTodo"]
    assert "PLAIN-" not in json.dumps(errors)
    # without a to-do rule the key is not a target
    stray = _errors(_config(webhooks={**WEBHOOKS, "dingtalkTodo": app}))
    assert "one of the targets" in stray["hkmail:notifyWebhooks.dingtalkTodo"]


def test_no_secret_looking_key_or_webhook_url_is_echoed_at_any_level() -> None:
    """Unknown keys are echoed with their value, except a secret-bearing one (by name or by a
    credential in a URL): that is named with its path and shown as [not shown]."""
    p = "hkmail:privateServer.notify"
    hook = "https://oapi.dingtalk.com/robot/send?access_token=SUPERSECRET-URL"
    notify = copy.deepcopy(NOTIFY)
    notify["targets"][0]["appSecret"] = "SUPERSECRET-T"
    notify["targets"][1]["password"] = "SUPERSECRET-P"
    notify["rules"][0]["appSecret"] = "SUPERSECRET-R"
    notify["rules"][0]["apiToken"] = "SUPERSECRET-A"
    notify["rules"][1]["link"] = hook
    notify["rules"][1]["crossBorder"] = {**DECL, "extra": {"signingSecret": "SUPERSECRET-N"}}
    notify["dingtalkUsers"] = {"ops": {"appSecret": "SUPERSECRET-U"}}
    errors = _errors(_config(notify))
    for field in (
        f"{p}.targets[0].appSecret",
        f"{p}.targets[1].password",
        f"{p}.rules[0].appSecret",
        f"{p}.rules[0].apiToken",
        f"{p}.rules[1].link",
    ):
        assert "[not shown]" in errors[field] and "unknown key" in errors[field], errors
    assert "[not shown]" in errors[f"{p}.rules[1].crossBorder.extra"], errors
    assert "DingTalk unionId" in errors[f"{p}.dingtalkUsers.ops"], errors
    assert "SUPERSECRET" not in json.dumps(errors), errors
    # an ordinary unknown key still shows its value: the user sees what they wrote
    notify = copy.deepcopy(NOTIFY)
    notify["rules"][0]["colour"] = "blue"
    assert "'blue' is not valid" in _errors(_config(notify))[f"{p}.rules[0].colour"]


def _exemption_on_file(tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The repo's exemptions with the reviewed entry the declarations name, for this stack."""
    shutil.copy(REPO / "policies" / "approvers.yaml", tmp / "approvers.yaml")
    doc = yaml.safe_load((REPO / "policies" / "exemptions.yaml").read_text())
    doc["exemptions"].append(
        {
            "id": "EX-2026-023",
            "rule": ["residency-mail-notify"],
            "resources": {"stack": STACK, "types": ["tencentcloud:Instance/instance:Instance"]},
            "requester": "ops@centralclinic.hk",
            "approver": "dpo@kowloonbazaar.hk",
            "approvedOn": dt.date.today().isoformat(),
            "reason": "Order and invoice notifications to the sales and finance groups.",
            "reference": "DPA-2026-12: processor contract with the chat platforms",
            "expires": (dt.date.today() + dt.timedelta(days=300)).isoformat(),
        }
    )
    (tmp / "exemptions.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    monkeypatch.setenv("HKMAIL_EXEMPTIONS_FILE", str(tmp / "exemptions.yaml"))


def test_the_program_carries_the_rules_to_the_server_and_the_webhooks_only_as_a_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _exemption_on_file(tmp_path, monkeypatch)
    config, _ = with_secrets(STACK)
    config["hkmail:privateServer"]["notify"] = copy.deepcopy(NOTIFY)
    config["hkmail:notifyWebhooks"] = json.dumps(WEBHOOKS)
    resources = run_program(lambda: run(config), stack=STACK).resources
    [cvm] = of_type(resources, "tencentcloud:Instance/instance:Instance")
    doc = yaml.safe_load(cvm.inputs["userDataRaw"])
    [conf] = [f for f in doc["write_files"] if f["path"] == "/etc/hkmail/notify.json"]
    rules = json.loads(conf["content"])["rules"]
    assert [r["name"] for r in rules] == ["orders", "invoices"]
    assert rules[0]["crossBorder"]["exemption"] == "EX-2026-023"
    needles = ("access_token=abc", "SECx", "key=k1")
    hits = [h for r in resources for h in plaintext_hits(r.raw, needles, r.urn)]
    assert hits == []
    stored = [
        r for r in of_type(resources, "tencentcloud:Ssm/secret:Secret")
        if r.inputs.get("secretName", "").endswith("-notify")
    ]  # fmt: skip
    assert len(stored) == 1
    versions = [
        r for r in of_type(resources, "tencentcloud:Ssm/secretVersion:SecretVersion")
        if r.inputs.get("secretName", "").endswith("-notify")
    ]  # fmt: skip
    assert versions and secret_count(versions[0].inputs) >= 1
    # The real pack judges the server the program registered: each rule a declared flow.
    pack = PackClient()
    try:
        pack.configure()
        hk = Res("pulumi:providers:tencentcloud", "hk-tc", {"region": "ap-hongkong"})
        diags = pack.analyze(Res(cvm.type, cvm.name, cvm.inputs, provider=hk))
    finally:
        pack.close()
    found = [d for d in diags if d.policy == "residency-mail-notify"]
    assert len(found) == 2 and all(d.level == "advisory" for d in found), found
    assert "oapi.dingtalk.com" in found[0].message and "subject, sender name" in found[0].message


def test_the_gate_refuses_a_rule_whose_exemption_is_not_on_file(tmp_path: Path) -> None:
    # As CI runs it: the stack file's secure values are placeholders the gate cannot decrypt (the
    # reader leaves those to the instance), and the declarations name an exemption that
    # policies/exemptions.yaml does not hold: the program stops before any resource, exit 2.
    (tmp_path / "stacks").mkdir()
    project = yaml.safe_load((REPO / "Pulumi.yaml").read_text())
    project["main"] = str(REPO)
    project["runtime"]["options"]["virtualenv"] = str(REPO / ".venv")
    (tmp_path / "Pulumi.yaml").write_text(yaml.safe_dump(project))
    stack = yaml.safe_load((REPO / "stacks" / f"Pulumi.{STACK}.yaml").read_text())
    stack["config"]["hkmail:privateServer"]["notify"] = copy.deepcopy(NOTIFY)
    stack["config"]["hkmail:notifyWebhooks"] = {"secure": "v1:placeholder"}
    (tmp_path / "stacks" / "Pulumi.notify.yaml").write_text(yaml.safe_dump(stack))
    refused = subprocess.run(
        [str(REPO / "scripts" / "gate"), "--project", str(tmp_path), "--stack", "notify"],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert refused.returncode == 2, refused.stdout + refused.stderr
    for k in (0, 1):
        assert f"hkmail:privateServer.notify.rules[{k}].crossBorder.exemption" in refused.stderr
    assert "no such exemption on file" in refused.stderr
    assert "Traceback" not in refused.stderr and "notifyWebhooks" not in refused.stderr
