"""Mail-to-chat notify rules (``hkmail:privateServer.notify``) and their webhooks
(``hkmail:notifyWebhooks``, a secret).

The rules belong to the private server (Sieve runs them on delivery), so they live in its
section. Each rule is a cross-border transfer (every chat platform is outside Hong Kong) and
carries its own declaration, like a DirectMail sender's ``crossBorder``. The webhook URLs and
signing secrets are one secret config value, checked here against each platform's own hosts.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Mapping
from typing import Any, Final, cast

from hkmail.errors import NOT_SHOWN
from hkmail.facts import CHAT_PLATFORM_IDS, CHAT_PLATFORMS
from hkmail.mailserver.notify_config import (
    TODO_SECRET_KEY,
    NotifyConfig,
    NotifyDeclaration,
    NotifyRule,
    NotifyTarget,
    NotifyTodo,
    check,
)
from hkmail.spec.cross_border import TRANSFER_SAFEGUARDS
from hkmail.spec.reader import _Reader

NOTIFY_SECRET: Final = "notifyWebhooks"
_TARGET_KEYS: Final = ("name", "platform")
_RULE_KEYS: Final = (
    "name",
    "target",
    "recipients",
    "senders",
    "subject",
    "hasAttachment",
    "auth",
    "fields",
    "crossBorder",
    "todo",
)
_TODO_KEYS: Final = ("assignee", "fields")
_DECLARATION_KEYS: Final = (
    "destinationCountry",
    "transferSafeguard",
    "exemption",
    "reference",
    "allowContent",
)
# The GBA Standard Contract covers only flows to the nine Mainland GBA cities; no source places
# any chat platform's endpoint there, so it cannot be this transfer's safeguard.
NOTIFY_SAFEGUARDS: Final = tuple(k for k in TRANSFER_SAFEGUARDS if k != "gba-standard-contract")
_SECRET_IN_CONFIG: Final = ("url", "webhook", "webhookUrl", "secret", "signingSecret", "token")
# The to-do app's credentials, were they put in plain config (they belong in the secret).
_APP_IN_CONFIG: Final = ("appKey", "appSecret", "accessToken", TODO_SECRET_KEY)


def _no_app_credentials(r: _Reader, path: str, m: Mapping[str, Any]) -> None:
    for key in _APP_IN_CONFIG:
        if key in m:
            r.fail(
                f"{path}.{key}",
                "[not shown]",
                f"the app's credentials in the secret hkmail:{NOTIFY_SECRET} (pulumi config set "
                f'--secret hkmail:{NOTIFY_SECRET} \'{{..., "{TODO_SECRET_KEY}": {{"appKey": ..., '
                '"appSecret": ...}}\')',
                "a DingTalk app's key and secret are credentials, never plain config",
            )


def _strings(r: _Reader, path: str, raw: object) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(v, str) for v in raw):
        r.fail(path, raw, "a list of strings")
        return ()
    return tuple(v.strip().lower() for v in raw)


def _declaration(r: _Reader, path: str, raw: object) -> NotifyDeclaration | None:
    if raw is None:
        return None  # notify_config.check reports it, with why
    m = r.mapping(path, raw, _DECLARATION_KEYS)
    if m is None:
        return None
    safeguard = r.choice(f"{path}.transferSafeguard", m.get("transferSafeguard"), NOTIFY_SAFEGUARDS)
    country = m.get("destinationCountry")
    if not isinstance(country, str) or not country.strip():
        r.fail(
            f"{path}.destinationCountry",
            country,
            "the country the platform's contract names (no source we found publishes it)",
        )
        country = ""
    reference = m.get("reference", "")
    if not isinstance(reference, str):
        r.fail(f"{path}.reference", reference, "text: the contract or ticket reference")
        reference = ""
    allow = r.boolean(f"{path}.allowContent", m.get("allowContent"), False)
    if safeguard is None or not country:
        return None
    return NotifyDeclaration(country, safeguard, str(m.get("exemption", "")), reference, allow)


def _todo(r: _Reader, path: str, raw: object) -> NotifyTodo | None:
    if raw is None:
        return None
    if isinstance(raw, Mapping):
        _no_app_credentials(r, path, raw)
    m = r.mapping(path, raw, (*_TODO_KEYS, *_APP_IN_CONFIG))
    if m is None:
        return None
    assignee = m.get("assignee")
    if not isinstance(assignee, str) or not assignee.strip():
        r.fail(f"{path}.assignee", assignee, "a mailbox listed in dingtalkUsers")
        return None
    fields = m.get("fields") or []
    if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
        r.fail(f"{path}.fields", fields, "a list of the rule's fields")
        return None
    return NotifyTodo(assignee.strip().lower(), tuple(fields))


def _dingtalk_users(r: _Reader, path: str, raw: object) -> tuple[tuple[str, str], ...]:
    if raw is None:
        return ()
    if not isinstance(raw, Mapping):
        r.fail(path, NOT_SHOWN, "a mapping {mailbox: DingTalk unionId}")
        return ()
    bad = [k for k, v in raw.items() if not isinstance(k, str) or not isinstance(v, str)]
    for k in bad:
        # named by its mailbox, its value not echoed (it may be anything pasted there)
        r.fail(f"{path}.{k}", NOT_SHOWN, "a DingTalk unionId (text) for this mailbox")
    if bad:
        return ()
    return tuple((str(k).strip().lower(), str(v).strip()) for k, v in raw.items())


def read_notify(r: _Reader, raw: object, path: str, users: tuple[str, ...]) -> NotifyConfig | None:
    if isinstance(raw, Mapping):
        _no_app_credentials(r, path, raw)
    m = r.mapping(path, raw, ("targets", "rules", "dingtalkUsers", *_APP_IN_CONFIG))
    if m is None:
        return None
    before = len(r.errors)
    targets: list[NotifyTarget] = []
    for tpath, t in r.items(f"{path}.targets", m.get("targets")):
        if isinstance(t, Mapping):
            for key in _SECRET_IN_CONFIG:
                if key in t:
                    r.fail(
                        f"{tpath}.{key}",
                        "[not shown]",
                        f"the webhook in the secret hkmail:{NOTIFY_SECRET} (pulumi config set "
                        f'--secret hkmail:{NOTIFY_SECRET} \'{{"<target>": {{"url": ..., '
                        '"secret": ...}}\')',
                        "a webhook URL or signing secret is a credential, never plain config",
                    )
        tm = r.mapping(tpath, t, (*_TARGET_KEYS, *_SECRET_IN_CONFIG))
        if tm is None:
            continue
        platform = r.choice(f"{tpath}.platform", tm.get("platform"), CHAT_PLATFORM_IDS)
        if platform is not None:
            targets.append(NotifyTarget(str(tm.get("name", "")), platform))
    if not targets:
        r.fail(f"{path}.targets", m.get("targets"), "a non-empty list of {name, platform}")
    rules: list[NotifyRule] = []
    for rpath, raw_rule in r.items(f"{path}.rules", m.get("rules")):
        rm = r.mapping(rpath, raw_rule, _RULE_KEYS)
        if rm is None:
            continue
        has = rm.get("hasAttachment")
        if has is not None and not isinstance(has, bool):
            r.fail(f"{rpath}.hasAttachment", has, "true | false")
            has = None
        auth: Any = rm.get("auth", "dmarc")  # notify_config.check names the allowed values
        subject = rm.get("subject")
        if subject is not None and not isinstance(subject, str):
            r.fail(f"{rpath}.subject", subject, "a regular expression (text)")
            subject = None
        rules.append(
            NotifyRule(
                name=str(rm.get("name", "")),
                target=str(rm.get("target", "")),
                cross_border=_declaration(r, f"{rpath}.crossBorder", rm.get("crossBorder")),
                recipients=_strings(r, f"{rpath}.recipients", rm.get("recipients")),
                senders=_strings(r, f"{rpath}.senders", rm.get("senders")),
                subject=subject,
                has_attachment=has,
                auth=auth,
                fields=tuple(str(f) for f in cast(list[object], rm.get("fields") or [])),
                todo=_todo(r, f"{rpath}.todo", rm.get("todo")),
            )
        )
    if not rules:
        r.fail(f"{path}.rules", m.get("rules"), "a non-empty list of notify rules")
    config = NotifyConfig(
        tuple(targets),
        tuple(rules),
        _dingtalk_users(r, f"{path}.dingtalkUsers", m.get("dingtalkUsers")),
    )
    for e in check(config, users, path):
        if not any(x.field == e.field for x in r.errors[before:]):
            r.errors.append(e)
    return config if len(r.errors) == before else None


def check_webhooks(r: _Reader, raw: object, notify: NotifyConfig) -> None:
    """hkmail:notifyWebhooks: one {url, secret} per target, each URL on its platform's host."""
    key = f"hkmail:{NOTIFY_SECRET}"
    value = raw
    if isinstance(raw, str):
        if not raw.lstrip().startswith("{"):
            # A tool's stand-in for a secret it cannot decrypt (the offline gate and plan): not
            # checkable here; the instance's hkmail-fetch-secrets refuses anything but the JSON.
            return
        try:
            value = json.loads(raw)
        except ValueError:
            value = None
    if not isinstance(value, Mapping):
        r.fail(key, "[secret]", 'a JSON object {"<target>": {"url": "https://...", "secret": ...}}')
        return
    for t in notify.targets:
        entry = value.get(t.name)
        path = f"{key}.{t.name}"
        platform = CHAT_PLATFORMS[t.platform]
        if not isinstance(entry, Mapping) or not isinstance(entry.get("url"), str):
            r.fail(path, "[secret]", "{url, secret} of the target's webhook", "missing")
            continue
        parts = urllib.parse.urlsplit(entry["url"])
        if (
            parts.scheme != "https"
            or (parts.hostname or "") not in platform.hosts
            or parts.port not in (None, 443)
            or not parts.path.startswith(platform.path)
        ):
            r.fail(
                f"{path}.url",
                # not the path: Feishu and others carry the token in it
                f"{parts.scheme}://{parts.hostname}/... (path and query not shown)",
                " or ".join(f"https://{h}{platform.path}..." for h in platform.hosts),
                f"a {platform.title} webhook is on the platform's own host",
            )
        secret = entry.get("secret", "")
        if not isinstance(secret, str) or (t.platform != "wecom" and not secret):
            r.fail(
                f"{path}.secret",
                "[secret]",
                "the robot's signing secret" if t.platform != "wecom" else "empty (WeCom has none)",
            )
    _check_todo_app(r, key, value, notify)
    for name in value:
        if name == TODO_SECRET_KEY and notify.has_todo:
            continue
        if name not in {t.name for t in notify.targets}:
            r.fail(
                f"{key}.{name}",
                "[secret]",
                f"one of the targets {[t.name for t in notify.targets]}",
            )


def _check_todo_app(r: _Reader, key: str, value: Mapping[str, Any], notify: NotifyConfig) -> None:
    """The to-do app's credentials: {appKey, appSecret} under "dingtalkTodo", where a rule has a
    to-do (an enterprise internal app's Client ID and Client Secret)."""
    if not notify.has_todo:
        return
    app = value.get(TODO_SECRET_KEY)
    path = f"{key}.{TODO_SECRET_KEY}"
    if not isinstance(app, Mapping):
        r.fail(
            path,
            "[secret]",
            '{"appKey": ..., "appSecret": ...} of a DingTalk enterprise internal app',
            "missing: a rule creates DingTalk to-dos",
        )
        return
    for k in ("appKey", "appSecret"):
        if not isinstance(app.get(k), str) or not app[k].strip():
            r.fail(f"{path}.{k}", "[secret]", "the internal app's " + k + " (non-empty text)")
    for k in app:
        if k not in ("appKey", "appSecret"):
            r.fail(f"{path}.{k}", "[secret]", "appKey | appSecret")
