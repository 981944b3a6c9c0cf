"""Mail-to-chat notify rules of the private server: the typed form, its checks, and the settings
file hkmail-notify reads on the instance.

A rule matches delivered mail and names a target (a DingTalk, WeCom or Lark group robot) and the
fields that leave Hong Kong. Every target is outside Hong Kong (facts.CHAT_PLATFORMS), so every
rule carries a cross-border declaration; the body and attachments may leave only where the
declaration says so (``allowContent``). Webhook URLs and signing secrets are never part of this
model: they are a Pulumi secret, stored in the Hong Kong secret store and fetched at boot.

A rule may also create a DingTalk to-do (``todo``) for a person: an enterprise app's to-do API on
DingTalk's own host, the same platform as the rule's DingTalk robot, so the rule's declaration
covers it. The to-do carries a subset of the rule's fields, never the body or attachments; its
assignee is a mailbox whose DingTalk unionId the stack lists (``dingtalkUsers``). The app's
appKey/appSecret are in the same secret as the webhooks (key ``dingtalkTodo``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, Literal

from hkmail.errors import SpecError
from hkmail.facts import (
    CHAT_PLATFORM_IDS,
    CHAT_PLATFORMS,
    DINGTALK_TODO_HOSTS,
    DINGTALK_TODO_TITLE,
    ChatPlatformId,
)
from hkmail.mailserver.fetch_secrets import TODO_APP

#: What a rule may send, and what each exposes (README "Mail to chat"). None is sent unless the
#: rule lists it; "body" and "attachments" only with the declaration's allowContent.
NOTIFY_FIELDS: Final[dict[str, str]] = {
    "subject": "the Subject line (first 200 characters)",
    "senderName": "the display name of the From address",
    "senderAddress": "the From address",
    "excerpt": "the first non-empty line of the text body (at most 120 characters)",
    "link": "an IMAP URL (RFC 5092) searching INBOX for the Message-ID: the server's host name "
    "and the Message-ID",
    "body": "the text body (at most 2,000 characters)",
    "attachments": "each attachment's file name and size (never its content)",
}
CONTENT_FIELDS: Final = ("body", "attachments")
AUTH_CHOICES: Final = ("dmarc", "dkim")
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
_LOCAL = re.compile(r"^[a-z0-9][a-z0-9._+-]{0,63}$")
_DOMAIN = re.compile(r"^(?!-)[a-z0-9-]{1,63}(\.(?!-)[a-z0-9-]{1,63})+$")
_EXEMPTION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,63}$")
# DingTalk publishes no format for a unionId; every example is letters and digits (it goes in the
# to-do URL's path, so nothing else is accepted).
_UNION_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
#: The key of the to-do app's credentials in the notify secret (never a target name: those are
#: lower case); fetch-secrets splits the secret on it at boot.
TODO_SECRET_KEY: Final = TODO_APP


@dataclass(frozen=True)
class NotifyDeclaration:
    """The stack's statement that a rule's fields leave Hong Kong, for where, on what safeguard."""

    destination_country: str
    transfer_safeguard: str
    exemption: str  # id of the reviewed exemption in policies/exemptions.yaml
    reference: str = ""
    #: the body and attachment names may leave (they are refused otherwise)
    allow_content: bool = False


@dataclass(frozen=True)
class NotifyTarget:
    name: str
    platform: ChatPlatformId


@dataclass(frozen=True)
class NotifyTodo:
    """A DingTalk to-do for ``assignee`` (a mailbox listed in NotifyConfig.dingtalk_users)."""

    assignee: str
    #: what the to-do carries: some of the rule's fields, never body or attachments
    fields: tuple[str, ...] = ()


@dataclass(frozen=True)
class NotifyRule:
    name: str
    target: str
    cross_border: NotifyDeclaration | None
    recipients: tuple[str, ...] = ()  # mailbox local parts; empty: every mailbox
    senders: tuple[str, ...] = ()  # addresses or domains; empty: any sender
    subject: str | None = None  # a regular expression, searched case-insensitively
    has_attachment: bool | None = None
    auth: Literal["dmarc", "dkim"] = "dmarc"
    fields: tuple[str, ...] = ()
    todo: NotifyTodo | None = None


@dataclass(frozen=True)
class NotifyConfig:
    targets: tuple[NotifyTarget, ...]
    rules: tuple[NotifyRule, ...]
    #: (mailbox, DingTalk unionId): the people a rule's to-do may be assigned to
    dingtalk_users: tuple[tuple[str, str], ...] = ()

    @property
    def has_todo(self) -> bool:
        return any(r.todo is not None for r in self.rules)

    def target(self, name: str) -> NotifyTarget:
        return next(t for t in self.targets if t.name == name)


def check(
    n: NotifyConfig, users: tuple[str, ...], path: str = "mailServer.notify"
) -> list[SpecError]:
    """Every problem of the notify rules, each naming its key and what is allowed."""
    errors: list[SpecError] = []

    def bad(fld: str, value: object, allowed: str, reason: str = "") -> None:
        errors.append(SpecError(f"{path}.{fld}", value, allowed, reason))

    names = [t.name for t in n.targets]
    for i, t in enumerate(n.targets):
        if not _NAME.match(t.name):
            bad(f"targets[{i}].name", t.name, "a-z, 0-9, '-' (at most 40)")
        if t.platform not in CHAT_PLATFORMS:
            bad(f"targets[{i}].platform", t.platform, " | ".join(CHAT_PLATFORM_IDS))
    if len(set(names)) != len(names):
        bad("targets", names, "each target name once")
    for mailbox, union_id in n.dingtalk_users:
        if mailbox not in users:
            bad(f"dingtalkUsers.{mailbox}", mailbox, f"a mailbox of this server: {list(users)}")
        if not _UNION_ID.match(union_id):
            bad(
                f"dingtalkUsers.{mailbox}",
                union_id,
                "the person's DingTalk unionId (letters, digits, '_', '-')",
            )
    mapped = [m for m, _ in n.dingtalk_users]
    rule_names = [r.name for r in n.rules]
    if len(set(rule_names)) != len(rule_names):
        bad("rules", rule_names, "each rule name once")
    for i, r in enumerate(n.rules):
        p = f"rules[{i}]"
        if not _NAME.match(r.name):
            bad(f"{p}.name", r.name, "a-z, 0-9, '-' (at most 40)")
        if r.target not in names:
            bad(f"{p}.target", r.target, f"one of the targets {names}")
        for u in r.recipients:
            if u not in users:
                bad(f"{p}.recipients", u, f"a mailbox of this server: {list(users)}")
        for s in r.senders:
            local, at, domain = s.rpartition("@")
            if not _DOMAIN.match(domain) or (at and not _LOCAL.match(local)):
                bad(f"{p}.senders", s, "a lower-case address (user@example.com) or domain")
        if r.subject is not None:
            try:
                re.compile(r.subject)
            except re.error as exc:
                bad(f"{p}.subject", r.subject, "a regular expression", str(exc))
        if r.auth not in AUTH_CHOICES:
            bad(
                f"{p}.auth",
                r.auth,
                " | ".join(AUTH_CHOICES),
                "only authenticated mail may notify, so spoofed mail cannot make work",
            )
        for f in r.fields:
            if f not in NOTIFY_FIELDS:
                bad(f"{p}.fields", f, " | ".join(NOTIFY_FIELDS))
        if len(set(r.fields)) != len(r.fields):
            bad(f"{p}.fields", list(r.fields), "each field once")
        if r.todo is not None:
            _check_todo(r, p, mapped, n, bad)
        d = r.cross_border
        if d is None:
            bad(
                f"{p}.crossBorder",
                None,
                "a declaration {destinationCountry, transferSafeguard, exemption, reference, "
                "allowContent}",
                "every chat platform is outside Hong Kong: each rule is a cross-border transfer",
            )
            continue
        content = [f for f in r.fields if f in CONTENT_FIELDS]
        if content and not d.allow_content:
            bad(
                f"{p}.fields",
                content,
                " | ".join(f for f in NOTIFY_FIELDS if f not in CONTENT_FIELDS)
                + " (or crossBorder.allowContent: true)",
                "the body and attachments leave Hong Kong only where the declaration allows it",
            )
        if not d.destination_country.strip():
            bad(f"{p}.crossBorder.destinationCountry", d.destination_country, "the country")
        if not _EXEMPTION.match(d.exemption):
            bad(
                f"{p}.crossBorder.exemption",
                d.exemption,
                "the id of the reviewed exemption in policies/exemptions.yaml (e.g. EX-2026-001)",
            )
    return errors


def _check_todo(
    r: NotifyRule,
    p: str,
    mapped: list[str],
    n: NotifyConfig,
    bad: Callable[..., None],
) -> None:
    assert r.todo is not None
    t = r.todo
    if r.target in [x.name for x in n.targets] and n.target(r.target).platform != "dingtalk":
        bad(
            f"{p}.todo",
            r.target,
            "a rule whose target is a DingTalk robot",
            "a to-do goes to DingTalk; the rule's declaration covers its own target's platform",
        )
    if t.assignee not in mapped:
        bad(
            f"{p}.todo.assignee",
            t.assignee,
            f"a mailbox listed in dingtalkUsers: {mapped}",
            "the to-do is assigned to that person's DingTalk unionId",
        )
    allowed = [f for f in r.fields if f not in CONTENT_FIELDS]
    for f in t.fields:
        if f not in allowed:
            bad(
                f"{p}.todo.fields",
                f,
                " | ".join(allowed) or "none (the rule sends no field)",
                "a to-do carries only fields the rule already lets leave, never the body or "
                "attachments",
            )
    if len(set(t.fields)) != len(t.fields):
        bad(f"{p}.todo.fields", list(t.fields), "each field once")


def settings(
    n: NotifyConfig,
    *,
    hostname: str,
    domain: str,
    spool: str,
    maildir: str,
    log: str,
    targets_file: str,
    ca_file: str,
) -> dict[str, Any]:
    """What /etc/hkmail/notify.json holds: rules, targets, platform facts; no secret."""
    used = {t.platform for t in n.targets}
    return {
        "hostname": hostname,
        "domain": domain,
        "spool": spool,
        "maildir": maildir,
        "log": log,
        "targets_file": targets_file,
        "ca_file": ca_file,
        "platforms": {
            pid: {
                "hosts": list(p.hosts),
                "path": p.path,
                "per_minute": p.per_minute,
                "per_second": p.per_second,
                "max_text": p.max_text,
                "throttle_seconds": p.throttle_seconds,
            }
            for pid, p in CHAT_PLATFORMS.items()
            if pid in used
        },
        **({"todo_api": {"hosts": list(DINGTALK_TODO_HOSTS)}} if n.has_todo else {}),
        "targets": {t.name: {"platform": t.platform} for t in n.targets},
        "rules": [
            {
                "name": r.name,
                "target": r.target,
                "recipients": list(r.recipients),
                "senders": list(r.senders),
                "subject": r.subject,
                "hasAttachment": r.has_attachment,
                "auth": r.auth,
                "fields": list(r.fields),
                **({"todo": _todo_settings(n, r.todo)} if r.todo is not None else {}),
                # Read by the policy pack (the flow it judges), not by the notifier.
                "crossBorder": None
                if r.cross_border is None
                else {
                    "destination": CHAT_PLATFORMS[n.target(r.target).platform].title,
                    "destinationCountry": r.cross_border.destination_country,
                    "transferSafeguard": r.cross_border.transfer_safeguard,
                    "exemption": r.cross_border.exemption,
                    "reference": r.cross_border.reference,
                    "allowContent": r.cross_border.allow_content,
                },
            }
            for r in n.rules
        ],
    }


def _todo_settings(n: NotifyConfig, t: NotifyTodo) -> dict[str, Any]:
    return {
        "assignee": t.assignee,
        "unionId": dict(n.dingtalk_users).get(t.assignee, ""),
        "fields": list(t.fields),
    }


#: Short words for the plan's transfer lines (what each field carries; the table above says more).
_FIELD_WORDS: Final[dict[str, str]] = {
    "subject": "subject",
    "senderName": "sender name",
    "senderAddress": "sender address",
    "excerpt": "one-line excerpt",
    "link": "IMAP link (host name, Message-ID)",
    "body": "message body",
    "attachments": "attachment names and sizes",
}


def statements(n: NotifyConfig, hostname: str) -> list[str]:
    """One line per rule for the plan's crossBorderTransfers: what leaves, for where, declared
    how (every chat platform is outside Hong Kong)."""
    out = []
    for r in n.rules:
        platform = CHAT_PLATFORMS[n.target(r.target).platform]
        fields = ", ".join(_FIELD_WORDS.get(f, f) for f in r.fields)
        d = r.cross_border
        declared = (
            f"transfer safeguard: {d.transfer_safeguard}; exemption {d.exemption}"
            + (f"; {d.reference}" if d.reference else "")
            if d is not None
            else "NOT DECLARED"
        )
        out.append(
            f"CROSS-BORDER: mail notifications of rule {r.name!r} (mailbox and rule name"
            f"{', ' + fields if fields else ''}) leave {hostname} for {platform.title} "
            f"({', '.join(platform.hosts)}), {d.destination_country if d else 'country not stated'}"
            f" ({declared})"
        )
        if r.todo is not None:
            fields = ", ".join(_FIELD_WORDS.get(f, f) for f in r.todo.fields)
            out.append(
                f"CROSS-BORDER: DingTalk to-dos of rule {r.name!r} (mailbox and rule name"
                f"{', ' + fields if fields else ''}; assignee {r.todo.assignee!r}) leave "
                f"{hostname} for {DINGTALK_TODO_TITLE} ({', '.join(DINGTALK_TODO_HOSTS)}), "
                f"{d.destination_country if d else 'country not stated'} ({declared})"
            )
    return out
