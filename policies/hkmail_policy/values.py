"""Walk resource inputs as the engine serialises them (secrets, unknowns, assets preserved), and
decode encoded payloads (base64, gzip+base64) so that rules see what they carry.

pulumi_policy hands rules the inputs with secrets already unwrapped, so a rule could not tell a
secret from plain text. The pack therefore reads the raw request (see pack.py) and walks it here.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import email
import functools
import gzip
import io
import re
import threading
import zlib
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


_last = threading.local()


@contextlib.contextmanager
def walks_kept() -> Iterator[None]:
    """Within this block (one AnalyzeStack, on this thread) every walk is kept until the block
    ends: each stack rule walks every resource of the stack in turn, so the last walk alone
    would be recomputed once per rule."""
    _last.kept = {}
    try:
        yield
    finally:
        _last.kept = None


def leaves(props: Mapping[str, Any]) -> tuple[Leaf, ...]:
    """Every scalar input of props. Every rule walks the same resource's inputs in turn, so the
    last walk is kept (per thread) and reused while the same props object is asked for."""
    kept: dict[int, tuple[Mapping[str, Any], tuple[Leaf, ...]]] | None
    kept = getattr(_last, "kept", None)
    hit = kept.get(id(props)) if kept is not None else getattr(_last, "entry", None)
    if hit is not None and hit[0] is props:
        found: tuple[Leaf, ...] = hit[1]
        return found
    found = tuple(_walk(props, "", "", False))
    if kept is not None:
        kept[id(props)] = (props, found)  # props held too: its id stays its own
    else:
        _last.entry = (props, found)
    return found


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


# --- encoded payloads ---------------------------------------------------------------------------
# User data and command blobs are often base64, or gzip then base64 (cloud-init accepts both;
# Tencent requires base64 user data; Cloud Assistant / TAT commands take base64 content). Every
# rule that reads values looks at the decoded text too, through `texts`.

_B64 = re.compile(r"[A-Za-z0-9+/=_-]+")
_MAX_LAYERS = 3
_MAX_DECODED = 4 * 1024 * 1024


def _decode_once(data: bytes) -> tuple[str, bytes] | None:
    """One layer off: gzip, or base64 (standard or URL-safe). None if neither applies."""
    if data[:2] == b"\x1f\x8b":
        try:
            with gzip.GzipFile(fileobj=io.BytesIO(data)) as f:
                return "gzip", f.read(_MAX_DECODED)
        except (OSError, EOFError, zlib.error):
            return None
    compact = b"".join(data.split())
    if len(compact) < 16 or not _B64.fullmatch(compact.decode("ascii", "replace")):
        return None
    try:
        if b"-" in compact or b"_" in compact:
            out = base64.urlsafe_b64decode(compact + b"=" * (-len(compact) % 4))
        else:
            out = base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        return None
    if out[:2] == b"\x1f\x8b" or _printable(out):
        return "base64", out
    return None


def _printable(data: bytes) -> bool:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return bool(text) and sum(c.isprintable() or c in "\r\n\t" for c in text) >= 0.95 * len(text)


@functools.lru_cache(maxsize=4096)
def texts(value: str) -> tuple[tuple[str, str], ...]:
    """The value and every text decoded from it: ((how, text), ...), `how` being "" for the value
    itself, else the layers taken off ("base64", "gzip+base64", ...)."""
    out: list[tuple[str, str]] = [("", value)]
    data = value.encode("utf-8", "replace")
    layers: list[str] = []
    for _ in range(_MAX_LAYERS):
        step = _decode_once(data)
        if step is None:
            break
        layers.insert(0, step[0])
        data = step[1]
        if _printable(data):
            out.append(("+".join(layers), data.decode("utf-8")))
    for how, text in list(out):
        if _MIME.search(text):
            out.extend(_mime_parts(how, text, 0))
    return tuple(out)


# cloud-init MIME multipart user data (`Content-Type: multipart/mixed`, parts such as
# text/x-shellscript, text/cloud-config, text/x-include-url, each possibly base64 or
# quoted-printable): every part body is read like the value itself.
_MIME = re.compile(r"(?im)^content-type:\s*multipart/")
_MAX_MIME_DEPTH = 3


def _mime_parts(how: str, text: str, depth: int) -> list[tuple[str, str]]:
    if depth >= _MAX_MIME_DEPTH:
        return []
    message = email.message_from_string(text.lstrip())
    out: list[tuple[str, str]] = []
    for part in message.walk():
        if part.is_multipart():
            continue
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes):
            continue
        layer = f"mime {part.get_content_type()}"
        label = f"{layer}+{how}" if how else layer
        for inner_how, inner in texts(payload.decode("utf-8", "replace")):
            out.append((f"{inner_how}+{label}" if inner_how else label, inner))
    return out
