"""The exception hierarchy of hk-mail.

Everything a user can get wrong raises a subclass of :class:`HkMailError`, whose message names the
field, the value and what is allowed. Entry points (the Pulumi program, the CLIs) print the message
and exit; they never show a traceback for these.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence


class HkMailError(Exception):
    """Base class of every error hk-mail reports to a user."""


class SpecError(HkMailError):
    """One bad value in the stack configuration."""

    def __init__(self, field: str, value: object, allowed: str, reason: str = "") -> None:
        self.field = field
        self.value = value
        self.allowed = allowed
        self.reason = reason
        shown = _show(value)
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
