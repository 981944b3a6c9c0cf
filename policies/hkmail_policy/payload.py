"""Credentials inside payloads (user data, environment maps, file contents, scripts), found with
detect-secrets (Yelp; pinned) rather than a home-grown list: its keyword detector reads
``password=`` / ``secret:`` / ``token`` assignments in YAML, shell and env syntax and skips
placeholders and templates (``${VAR}``, ``<your password>``), and its plugins know AWS keys, JWTs,
private keys, Slack/GitHub/GitLab/Stripe/SendGrid/Twilio/... tokens. What it does not know
(Alibaba AccessKey, Tencent SecretId, bearer tokens, DingTalk/WeCom/Lark webhook tokens) is added
as detect-secrets plugins in secret_plugins.py. Entropy plugins are off: they flag ids and hashes.

Values are scanned as decoded (base64, gzip+base64), line by line, as YAML: cloud-init user data
is YAML, and detect-secrets' YAML rules also read ``KEY=value`` lines."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from detect_secrets.core import scan
from detect_secrets.settings import transient_settings

_BUILT_IN = (
    "AWSKeyDetector",
    "ArtifactoryDetector",
    "AzureStorageKeyDetector",
    "BasicAuthDetector",
    "DiscordBotTokenDetector",
    "GitHubTokenDetector",
    "GitLabTokenDetector",
    "JwtTokenDetector",
    "KeywordDetector",
    "MailchimpDetector",
    "NpmDetector",
    "OpenAIDetector",
    "PrivateKeyDetector",
    "PypiTokenDetector",
    "SendGridDetector",
    "SlackDetector",
    "SquareOAuthDetector",
    "StripeDetector",
    "TelegramBotTokenDetector",
    "TwilioKeyDetector",
)
_OURS = (
    "AlibabaAccessKeyDetector",
    "TencentSecretIdDetector",
    "BearerTokenDetector",
    "ChatWebhookTokenDetector",
)
_PLUGIN_FILE = (Path(__file__).resolve().parent / "secret_plugins.py").as_uri()
_SETTINGS = {
    "plugins_used": [{"name": n} for n in _BUILT_IN]
    + [{"name": n, "path": _PLUGIN_FILE} for n in _OURS],
}


# A keyword hit whose key names where a secret is kept (secret_name, password_file, token_ref,
# key_id, ..._arn, ..._url) is a reference, not the secret: it passes. So does a value that is a
# path, a secret-store name of this blueprint (hkmail-...), or a type annotation.
_REFERENCE_KEY = re.compile(
    r"(?i)^\W*[\w.-]*(?:name|file|path|ref|reference|id|arn|url|store)\W*\s*[:=]"
)
_REFERENCE_VALUE = re.compile(r"^(?:/|\w+:/|hkmail-[a-z0-9-]+$|(?:str|int|bytes|None)$)")
# Lines in env-file or YAML scalar form (KEY=value, key: value with no spaces in the value) are
# also read with detect-secrets' YAML rules, which take unquoted values; elsewhere (scripts,
# code) only its default rules (quoted values) apply, which keeps prose and code quiet.
_ASSIGNMENT = re.compile(r"^\s*(?:export\s+|-\s+)?[\w.-]+\s*(?:=|:\s)\s*\S+\s*$")


def _scan(lines: list[tuple[int, str]], filename: str) -> list[tuple[int, str, str]]:
    found = scan._process_line_based_plugins(lines, filename)
    return [(s.line_number, str(s.type), str(s.secret_value or "")) for s in found]


@lru_cache(maxsize=4096)
def credentials(text: str) -> tuple[str, ...]:
    """The kinds of credential in ``text`` (detect-secrets' secret types), sorted, each once.
    ``_process_line_based_plugins`` is detect-secrets 1.5.0's per-file scan without reading a
    file (the version is pinned; tests/test_policy_secrets_payload.py exercises it)."""
    lines = list(enumerate(text.splitlines(), 1))
    by_number = dict(lines)
    assignments = [(n, line) for n, line in lines if _ASSIGNMENT.match(line)]
    with transient_settings(_SETTINGS):
        hits = _scan(lines, "payload") + _scan(assignments, "payload.yaml")
    kinds = set()
    for number, kind, value in hits:
        line = by_number.get(number, "").strip().lstrip("- ")
        if kind == "Secret Keyword" and (
            _REFERENCE_KEY.match(line) or _REFERENCE_VALUE.match(value.strip("'\""))
        ):
            continue
        kinds.add(kind)
    return tuple(sorted(kinds))
