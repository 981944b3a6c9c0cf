"""Walk resource inputs as the engine serialises them (secrets, unknowns, assets preserved).

pulumi_policy hands rules the inputs with secrets already unwrapped, so a rule could not tell a
secret from plain text. The pack therefore reads the raw request (see pack.py) and walks it here.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from pulumi_policy.proxy import (
    UNKNOWN_ARCHIVE_VALUE,
    UNKNOWN_ARRAY_VALUE,
    UNKNOWN_ASSET_VALUE,
    UNKNOWN_BOOLEAN_VALUE,
    UNKNOWN_NUMBER_VALUE,
    UNKNOWN_OBJECT_VALUE,
    UNKNOWN_STRING_VALUE,
)

SIG_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
ASSET_SIG = "c44067f5952c0a294b673a41bacd8c17"
ARCHIVE_SIG = "0def7320c3a5731c473e5ecbe6d01bc7"
UNKNOWNS = frozenset(
    {
        UNKNOWN_ARCHIVE_VALUE,
        UNKNOWN_ARRAY_VALUE,
        UNKNOWN_ASSET_VALUE,
        UNKNOWN_BOOLEAN_VALUE,
        UNKNOWN_NUMBER_VALUE,
        UNKNOWN_OBJECT_VALUE,
        UNKNOWN_STRING_VALUE,
    }
)


@dataclass(frozen=True)
class Leaf:
    """One scalar input. `path` names the element (`dataDisks[1].encrypted`); `shape` drops the
    list indexes (`dataDisks[].encrypted`) so it can be compared with the generated property map."""

    path: str
    shape: str
    value: Any
    secret: bool
    unknown: bool

    def shown(self) -> str:
        """The value as it may appear in a report: never a secret's plain text."""
        if self.secret:
            return "[secret]"
        if self.unknown:
            return "[unknown during preview]"
        if self.value is None:
            return "unset"
        text = repr(self.value)
        return text if len(text) <= 120 else text[:117] + "..."


def _number(value: Any) -> Any:
    # google.protobuf.Struct carries every number as a float; zone ids and flags are integers.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def leaves(props: Mapping[str, Any]) -> Iterator[Leaf]:
    yield from _walk(props, "", "", False)


def _walk(node: Any, path: str, shape: str, secret: bool) -> Iterator[Leaf]:
    if isinstance(node, Mapping):
        sig = node.get(SIG_KEY)
        if sig == SECRET_SIG:
            yield from _walk(node.get("value"), path, shape, True)
            return
        if sig in (ASSET_SIG, ARCHIVE_SIG):
            for key in ("text", "path", "uri"):
                if isinstance(node.get(key), str):
                    yield Leaf(f"{path}.{key}", f"{shape}.{key}", node[key], secret, False)
            return
        for key, child in node.items():
            sep = "." if path else ""
            yield from _walk(child, f"{path}{sep}{key}", f"{shape}{sep}{key}", secret)
        return
    if isinstance(node, list):
        for i, child in enumerate(node):
            yield from _walk(child, f"{path}[{i}]", f"{shape}[]", secret)
        return
    unknown = isinstance(node, str) and node in UNKNOWNS
    yield Leaf(path, shape, _number(node), secret, unknown)


def under(shape: str, prefix: str) -> bool:
    """True if a leaf shape lies at or below a property path from the generated map."""
    return shape == prefix or shape.startswith(prefix + ".") or shape.startswith(prefix + "[]")


def find(props: Mapping[str, Any], shape: str) -> list[Leaf]:
    """All leaves whose shape is exactly `shape` (e.g. `dataDisks[].kmsKeyId`)."""
    return [leaf for leaf in leaves(props) if leaf.shape == shape]


def first(props: Mapping[str, Any], shape: str) -> Leaf | None:
    found = find(props, shape)
    return found[0] if found else None
