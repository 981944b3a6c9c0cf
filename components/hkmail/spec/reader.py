"""The config reader every section uses: it collects each problem with its config key path, and
the host-name rules (LDH, IDNA A-labels) all sections share.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar, cast

from hkmail.errors import SpecError

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
# SPF include targets are domain names, not host names: "_spf.example.com" is common.
_DOMAIN_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")
_GO_MIDNIGHT_UTC = re.compile(r"(\d{4}-\d{2}-\d{2}) 00:00:00 \+0000 UTC")
# Mailbox names as Postfix, Dovecot and every mail client take them without quoting.
_LOCAL_PART = re.compile(r"[a-z0-9]+(?:[._-][a-z0-9]+)*")
_MAILTO = re.compile(r"^(mailto:)?([A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+)@([A-Za-z0-9.-]+)$")

T = TypeVar("T")


class _Reader:
    """Collects every error with its config path instead of stopping at the first."""

    def __init__(self) -> None:
        self.errors: list[SpecError] = []

    def fail(self, path: str, value: object, allowed: str, reason: str = "") -> None:
        self.errors.append(SpecError(path, value, allowed, reason))

    def mapping(
        self, path: str, value: object, allowed_keys: Sequence[str]
    ) -> Mapping[str, object] | None:
        if not isinstance(value, Mapping):
            self.fail(path, value, f"a mapping with keys {', '.join(allowed_keys)}")
            return None
        for key in value:
            if key not in allowed_keys:
                self.fail(
                    f"{path}.{key}", value[key], f"keys {', '.join(allowed_keys)}", "unknown key"
                )
        return cast(Mapping[str, object], value)

    def choice(
        self, path: str, value: object, choices: Sequence[T], default: T | None = None
    ) -> T | None:
        if value is None and default is not None:
            return default
        if value not in choices:
            self.fail(path, value, " | ".join(str(c) for c in choices))
            return None
        return cast(T, value)

    def integer(
        self, path: str, value: object, low: int, high: int, default: int | None = None
    ) -> int | None:
        if value is None and default is not None:
            return default
        # bool is an int in Python; a YAML `yes` must not become TTL 1.
        if isinstance(value, str) and value.isdigit():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            self.fail(path, value, f"an integer from {low} to {high}")
            return None
        return value

    def boolean(self, path: str, value: object, default: bool) -> bool:
        if value is None:
            return default
        if not isinstance(value, bool):
            self.fail(path, value, "true | false")
            return default
        return value

    def items(self, path: str, value: object) -> list[tuple[str, object]]:
        """A list (or missing) -> [(path[i], item)]."""
        if value is None:
            return []
        if isinstance(value, str) or not isinstance(value, Sequence):
            self.fail(path, value, "a list")
            return []
        return [(f"{path}[{i}]", item) for i, item in enumerate(value)]

    def each(
        self, path: str, value: object, read: Callable[[str, object], T | None]
    ) -> tuple[T, ...]:
        out = []
        for item_path, item in self.items(path, value):
            parsed = read(item_path, item)
            if parsed is not None:
                out.append(parsed)
        return tuple(out)

    def hostname(
        self, path: str, value: object, *, min_labels: int = 1, underscore: bool = False
    ) -> str | None:
        name = normalize_hostname(value, min_labels=min_labels, underscore=underscore)
        if name is None:
            self.fail(
                path,
                value,
                f"a DNS host name of at least {min_labels} label(s), "
                "letters, digits and hyphens (e.g. mail.example.com.hk)",
            )
        return name

    def local_part(self, path: str, value: object) -> str | None:
        """A mailbox name: the part of an address before the @ (lower-cased)."""
        text = value.strip().lower() if isinstance(value, str) else ""
        if _LOCAL_PART.fullmatch(text) and len(text) <= 64:
            return text
        at = isinstance(value, str) and "@" in value
        self.fail(
            path,
            value,
            "a mailbox local part: letters, digits and . _ - inside (e.g. ops)",
            f"give the part before the @ only: {value.split('@', 1)[0]!r}"
            if at and isinstance(value, str)
            else "",
        )
        return None

    def mailto(self, path: str, value: object) -> str | None:
        match = _MAILTO.match(value) if isinstance(value, str) else None
        if match is None or normalize_hostname(match.group(3).lower(), min_labels=2) is None:
            self.fail(path, value, "an e-mail address or mailto: URI (e.g. dmarc@example.com.hk)")
            return None
        return f"mailto:{match.group(2)}@{match.group(3).lower()}"

    def date(self, path: str, value: object) -> dt.date | None:
        if value is None:
            return None
        if isinstance(value, dt.date):
            return value
        text = str(value)
        # An unquoted date in a stack file is a YAML timestamp; the Pulumi CLI hands the program
        # its Go time.Time String() form: "2027-03-31 00:00:00 +0000 UTC".
        go_time = _GO_MIDNIGHT_UTC.fullmatch(text)
        if go_time is not None:
            text = go_time.group(1)
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            self.fail(path, value, "a date as YYYY-MM-DD")
            return None


def normalize_hostname(
    value: object, *, min_labels: int = 1, underscore: bool = False
) -> str | None:
    """Lower-case LDH host name without the trailing dot, or None if it is not one."""
    if not isinstance(value, str):
        return None
    name = value.strip().lower().rstrip(".")
    if not name.isascii() or "xn--" in name:
        # Internationalised names (IDNA 2008 with UTS 46 mapping): the A-label form is what DNS
        # holds; invalid punycode such as xn--a is refused.
        name = idna_to_ascii(name) or ""
    labels = name.split(".")
    if len(name) > 253 or len(labels) < min_labels:
        return None
    label_re = _DOMAIN_LABEL if underscore else _LABEL
    if not all(label_re.match(label) for label in labels):
        return None
    if labels[-1].isdigit():  # an IP address is not a host name
        return None
    return name


def idna_to_ascii(name: str) -> str | None:
    """``name`` in its A-label form (IDNA 2008, UTS 46 mapping), or None if it is not valid."""
    import idna

    try:
        return idna.encode(name, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError, ValueError):
        return None


def display_name(name: str) -> str:
    """A domain as a person reads it: ``例子.香港 (xn--fsqu00a.xn--j6w193g)`` for an IDN."""
    if "xn--" not in name:
        return name
    import idna

    try:
        return f"{idna.decode(name)} ({name})"
    except (idna.IDNAError, UnicodeError, ValueError):
        return name
