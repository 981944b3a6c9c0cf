"""Residency of mail-to-chat notifications: each notify rule a mail server carries is a flow out
of Hong Kong to a chat platform (DingTalk, WeCom, Lark/Feishu), judged with the one flow model.

The pack sees the rules where the engine shows them: the server's user data (cloud-config, plain,
base64 or gzip+base64) writes the notifier's settings file (``.../etc/hkmail/notify.json``). Each
rule there names its target platform, the fields that leave, and the stack's cross-border
declaration. The pack keeps its own table of the platforms' hosts (below); it does not trust the
settings file to say where a platform is. A rule's DingTalk to-do is a second flow of the rule,
to DingTalk's API host, covered by the rule's declaration only where the rule's own target is a
DingTalk robot (the same platform).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import yaml

from ..controls import RESIDENCY
from ..flows import CrossBorder as FlowCrossBorder
from ..flows import Declarations, Flow, Place, judge
from ..model import Context, Finding, Resource, Rule, violation
from ..values import Leaf, leaves, texts

SETTINGS_PATH = "/etc/hkmail/notify.json"
INSTANCE_TYPES = ("alicloud:ecs/instance:Instance", "tencentcloud:Instance/instance:Instance")

# Where each platform's webhook is (DESIGN.md "Chat platforms": all three endpoints are outside
# Hong Kong; no source we found names the country or the storage location).
_WHERE = "outside Hong Kong (DESIGN.md 'Chat platforms'); country and storage not published"
PLATFORM_HOSTS: Mapping[str, tuple[str, ...]] = {
    "dingtalk": ("oapi.dingtalk.com",),
    "wecom": ("qyapi.weixin.qq.com",),
    "lark": ("open.feishu.cn", "open.larksuite.com"),
    # A rule's to-do: DingTalk's to-do API (open.dingtalk.com, CreateTodoTask).
    "dingtalk-todo": ("api.dingtalk.com",),
}
# What each destination is, as plans and the evidence picture name it.
PLATFORM_TITLES: Mapping[str, str] = {
    "dingtalk": "DingTalk robot",
    "wecom": "WeCom robot",
    "lark": "Lark/Feishu bot",
    "dingtalk-todo": "DingTalk to-do",
}
CONTENT_FIELDS = ("body", "attachments")
FIELD_WORDS = {
    "subject": "subject",
    "senderName": "sender name",
    "senderAddress": "sender address",
    "excerpt": "one-line excerpt",
    "link": "IMAP link (host name, Message-ID)",
    "body": "message body",
    "attachments": "attachment names and sizes",
}


def notify_settings(props: Mapping[str, Any]) -> Iterator[tuple[Leaf, dict[str, Any]]]:
    """The notifier settings written by any cloud-config among the resource's inputs."""
    for leaf in leaves(props):
        if not isinstance(leaf.value, str) or leaf.unknown:
            continue
        for _, text in texts(leaf.value):
            if not text.startswith("#cloud-config") or SETTINGS_PATH not in text:
                continue
            try:
                doc = yaml.safe_load(text)
            except yaml.YAMLError:
                continue
            for f in (doc or {}).get("write_files") or []:
                if isinstance(f, dict) and str(f.get("path", "")).endswith(SETTINGS_PATH):
                    try:
                        settings = json.loads(f.get("content") or "")
                    except ValueError:
                        continue
                    if isinstance(settings, dict):
                        yield leaf, settings
            break


def rule_flows(settings: Mapping[str, Any]) -> Iterator[tuple[Mapping[str, Any], Flow, str]]:
    """(rule, flow, platform) for every notify rule: the server's host in Hong Kong to the
    platform's webhook host, carrying exactly the rule's fields."""
    source = Place(
        str(settings.get("hostname", "mail server")),
        "hong-kong",
        "the private mail server (instance placed in Hong Kong; residency-resource-region)",
    )
    targets = settings.get("targets") or {}
    for rule in settings.get("rules") or []:
        target = targets.get(rule.get("target"), {})
        platform = str(target.get("platform", "unknown"))
        title = PLATFORM_TITLES.get(platform, "unknown platform")
        via = f"notify rule {rule.get('name')!r}, {title} target {rule.get('target')!r}"
        fields = rule.get("fields") or []
        flow = Flow(source, _place(platform), _data("mail notifications", fields), via,
                    "notification")  # fmt: skip
        yield rule, flow, platform
        todo = rule.get("todo")
        if isinstance(todo, Mapping):
            via = f"notify rule {rule.get('name')!r}, DingTalk to-do for {todo.get('assignee')!r}"
            flow = Flow(source, _place("dingtalk-todo"), _data("DingTalk to-dos", todo.get(
                "fields") or []), via, "notification")  # fmt: skip
            # The rule's declaration is for its target's platform: it covers a to-do only where
            # that platform is DingTalk.
            yield rule, flow, "dingtalk-todo" if platform == "dingtalk" else "unknown"


def _place(platform: str) -> Place:
    hosts = PLATFORM_HOSTS.get(platform)
    if hosts is None:
        return Place(f"{platform} (unknown platform)", "unknown", "not a known chat platform")
    return Place(" | ".join(hosts), "outside", f"{platform}: {_WHERE}")


def _data(what: str, fields: Iterable[Any]) -> str:
    words = [FIELD_WORDS.get(f, str(f)) for f in fields]
    # No ": " or " -> " in data, no " (" in via: plans and reports parse Flow.describe().
    return (
        f"{what} (mailbox and rule name"
        + (", " + ", ".join(words) if words else "")
        + ") of each matching message"
    )


def _declarations(rule: Mapping[str, Any], platform: str) -> Declarations:
    d = rule.get("crossBorder")
    if platform not in PLATFORM_HOSTS:
        return Declarations()
    if not isinstance(d, Mapping) or not d.get("exemption") or not d.get("transferSafeguard"):
        return Declarations()
    return Declarations(
        cross_border=(
            FlowCrossBorder(
                destination=" | ".join(PLATFORM_HOSTS.get(platform, ("-",))),
                destination_country=str(d.get("destinationCountry") or "not stated"),
                transfer_safeguard=str(d["transferSafeguard"]),
                exemption=str(d["exemption"]),
                kinds=("notification",),
            ),
        )
    )


def check_mail_notify(resource: Resource, ctx: Context) -> Iterable[Finding]:
    for leaf, settings in notify_settings(resource.props):
        for rule, flow, platform in rule_flows(settings):
            verdict = judge(flow, _declarations(rule, platform), ctx.today)
            content = [f for f in _fields(rule, platform) if f in CONTENT_FIELDS]
            # A to-do never carries content, whatever the declaration allows.
            allow = (
                platform != "dingtalk-todo"
                and isinstance(rule.get("crossBorder"), Mapping)
                and bool(rule["crossBorder"].get("allowContent"))
            )
            if content and not allow:
                yield violation(
                    resource,
                    leaf,
                    f"{flow.describe()}: the rule sends {', '.join(content)}, which its "
                    "declaration does not allow",
                    "the rule's fields without body and attachments, or crossBorder."
                    "allowContent: true in a reviewed declaration",
                )
            elif verdict.reported:
                # Declared flows carry the "[declared: ...]" prefix: the pack reports them as
                # advisory; undeclared and unknown ones block.
                yield Finding(
                    f"{verdict.message()} ({resource.describe()}: {leaf.path})"
                    if verdict.verdict == "declared"
                    else violation(
                        resource,
                        leaf,
                        verdict.message(),
                        "a crossBorder declaration on the rule {destinationCountry, "
                        "transferSafeguard, exemption}",
                    ).message
                )


def _fields(rule: Mapping[str, Any], platform: str) -> list[Any]:
    if platform == "dingtalk-todo":
        todo = rule.get("todo")
        return list(todo.get("fields") or []) if isinstance(todo, Mapping) else []
    return list(rule.get("fields") or [])


RULES: tuple[Rule, ...] = (
    Rule(
        id="residency-mail-notify",
        title="Mail notifications to chat platforms are declared and minimal",
        description="A mail server's notify rules (mail turned into DingTalk, WeCom or Lark/Feishu "
        "group messages, and DingTalk to-dos) each send data to a platform outside Hong Kong. "
        "Each rule is a flow (the server -> the platform's webhook host, carrying exactly the "
        "rule's fields; a to-do is a second flow, to DingTalk's API host) judged with the flow "
        "model: blocked unless the rule carries a cross-border declaration "
        "(destination country, transfer safeguard, exemption id); a rule that sends the message "
        "body or attachment names is blocked unless its declaration allows content. Declared "
        "rules are reported as advisory, so the evidence lists them. Read from the server's "
        "user data (the notifier's settings file), decoded as cloud-init would.",
        severity="high",
        enforcement="mandatory",
        remediation="Declare each rule (crossBorder: destinationCountry, transferSafeguard, "
        "exemption) and send only what a person needs to act (subject, sender name, excerpt, "
        "link); drop body/attachments or set crossBorder.allowContent in a reviewed declaration.",
        controls=RESIDENCY,
        check=check_mail_notify,
        types=INSTANCE_TYPES,
    ),
)
