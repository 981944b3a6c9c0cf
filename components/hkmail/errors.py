"""The exception hierarchy of hk-mail.

Everything a user can get wrong raises a subclass of :class:`HkMailError`, whose message names the
field, the value and what is allowed. Entry points (the Pulumi program, the CLIs) print the message
and exit; they never show a traceback for these.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

NOT_SHOWN = "[not shown]"
SECRET_HIDDEN = "(secret value, not shown)"
# What callers already pass in a secret's place; kept as they are.
_MARKERS = frozenset((NOT_SHOWN, SECRET_HIDDEN, "[secret]", "(plain text)"))
# A key whose name says it holds a credential: its value is never echoed, however it got there
# (a known secret key misplaced, or an unknown key the reader reports).
_SECRET_NAME = re.compile(
    r"secret|token|passw|passphrase|credential|app_?key|api_?key|access_?key|private_?key|"
    r"webhook|signing",
    re.IGNORECASE,
)
# A value that carries a credential in itself: a webhook URL with its token in the query
# (DingTalk access_token=, WeCom key=) or in the path (Feishu /hook/<token>).
_SECRET_TEXT = re.compile(
    r"(access_?token|token|secret|sign|key|password|passwd)=|/hook/|webhook", re.IGNORECASE
)


class HkMailError(Exception):
    """Base class of every error hk-mail reports to a user."""


class SpecError(HkMailError):
    """One bad value in the stack configuration."""

    def __init__(self, field: str, value: object, allowed: str, reason: str = "") -> None:
        self.field = field
        self.value = _hidden(field, value)
        self.allowed = allowed
        self.reason = reason
        shown = _show(self.value)
        because = f" ({reason})" if reason else ""
        super().__init__(f"{field}: {shown} is not valid{because}; allowed: {allowed}")


class SpecErrors(HkMailError):
    """Every bad value found in one stack configuration, reported together."""

    def __init__(self, errors: Sequence[SpecError], subject: str = "stack configuration") -> None:
        self.errors = tuple(errors)
        lines = "\n".join(f"  - {e}" for e in self.errors)
        noun = "error" if len(self.errors) == 1 else "errors"
        super().__init__(f"{subject} has {len(self.errors)} {noun}:\n{lines}")


class RecordError(HkMailError):
    """A DNS record that would be malformed or would break an RFC rule."""


class ProviderLimitError(RecordError):
    """A valid record that the chosen DNS provider cannot hold (size, TTL, priority, type)."""


def _hidden(field: str, value: object) -> object:
    """What an error may show of a value: never a credential, whoever reported it."""
    if value is None or (isinstance(value, str) and value in _MARKERS):
        return value
    return NOT_SHOWN if _secret_path(field) else _redact(value)


def _secret_path(field: str) -> bool:
    # The key itself, not its parents: an error under a secret's own config key already hides
    # its value, and "hkmail:notifyWebhooks.<target>.url" may show the platform's host.
    key = field.rsplit(".", 1)[-1].split("[", 1)[0]
    return bool(_SECRET_NAME.search(key))


def _redact(value: object) -> object:
    """The value with every secret-named key's value and every credential-bearing text hidden."""
    if isinstance(value, str):
        return NOT_SHOWN if _SECRET_TEXT.search(value) else value
    if isinstance(value, Mapping):
        return {
            k: NOT_SHOWN if isinstance(k, str) and _SECRET_NAME.search(k) else _redact(v)
            for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [_redact(v) for v in value]
    return value


def _show(value: object) -> str:
    if value is None:
        return "(missing)"
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


def raise_all(errors: Iterable[SpecError], subject: str = "stack configuration") -> None:
    """Raise :class:`SpecErrors` if there is at least one error."""
    collected = list(errors)
    if collected:
        raise SpecErrors(collected, subject)
