"""Well-formed invoke results under the offline engine's mocks (runs inside the child, like
_runner: standard library and the ``pulumi`` SDK only).

A real preview runs every ``get_*`` invoke against the cloud. Offline there is no cloud, and an
empty result breaks the SDK (Pulumi's mock layer iterates a missing failure list) or the program
(``zones.zones[0].id`` on None). So each result is built from the function's own result type,
which the SDK passes to ``pulumi.runtime.invoke*`` (recorded here by token):

- inputs the function echoes back (``nameRegex``, ``ids``, ``availableResourceCreation``) are the
  arguments given;
- lists hold one element, objects are built from their own output type, so indexing works;
- a region field is the region of the provider the invoke went through, a zone field a zone of
  it (``<region>-offline``): a real answer through that provider names that region, and the pack
  judges the value like any other; without a provider region the field is unknown (fails closed);
- every other text is unknown (the engine's unknown sentinel, so a resource input set from it is
  unknown to the pack, as a value the cloud computes is); numbers and flags are None.
"""

from __future__ import annotations

import collections.abc
import re
import threading
import typing
from typing import Any

import pulumi.runtime
from pulumi import _types
from pulumi.runtime import rpc

UNKNOWN = rpc.UNKNOWN
# An unknown scalar in an offline result: a plain string that survives deserialisation (the
# sentinel itself would become an Unknown() object the SDK's type checks reject), turned into
# the sentinel once the SDK hands the result over (see install).
MARK = "hkmail-offline-unknown-" + UNKNOWN
ZONE_SUFFIX = "-offline"  # a zone of the provider's region whose letter is not known offline
_REGION = re.compile(r"(?i)region")
_ZONE = re.compile(r"(?i)zone")
# not availability zones: time zones and DNS zones
_NOT_GEO = re.compile(r"(?i)time_?zone|dns_?zone|private_?zone|hosted_?zone|pvtz|zone_?count")
_ID_LIKE = re.compile(r"^(id|ids|name|names)$")
_MAX_DEPTH = 8

_lock = threading.Lock()
_result_types: dict[str, type] = {}


def _record(tok: str, typ: Any) -> None:
    if typ is not None:
        with _lock:
            _result_types.setdefault(tok, typ)


def _known_to_sdk(value: Any) -> Any:
    """MARK -> the engine's unknown sentinel, in place, through dicts, lists and output types.

    The SDK type-checks a plain invoke's result (``isinstance(id, str)``), so an unknown cannot
    stay an ``Unknown()`` object; the sentinel string is what the wire uses for unknown, so a
    resource input set from it reaches the engine, and the pack, as unknown."""
    if isinstance(value, str):
        return UNKNOWN if value == MARK else value
    if isinstance(value, list):
        value[:] = [_known_to_sdk(v) for v in value]
    elif isinstance(value, dict):
        for k in list(value):
            value[k] = _known_to_sdk(value[k])
    elif hasattr(value, "__dict__") and not isinstance(value, type):
        for k, v in list(vars(value).items()):
            vars(value)[k] = _known_to_sdk(v)
    return value


def _fixed(result: Any) -> Any:
    if isinstance(result, pulumi.Output):  # before hasattr: an Output lifts any attribute
        return result.apply(_known_to_sdk)
    if hasattr(result, "value"):  # InvokeResult
        result.value = _known_to_sdk(result.value)
    return result


def install() -> None:
    """Wrap the SDK's invoke entry points: record each call's result type by its token, and turn
    the offline result's unknown markers into the engine's unknown sentinel."""
    for name in (
        "invoke",
        "invoke_single",
        "invoke_async",
        "invoke_output",
        "invoke_output_single",
    ):
        original = getattr(pulumi.runtime, name, None)
        if original is None or getattr(original, "_hkmail_wrapped", False):
            continue
        if name == "invoke_async":

            async def awrapper(tok: str, props: Any, *args: Any, _o: Any = original,
                               **kw: Any) -> Any:  # fmt: skip
                _record(tok, kw.get("typ", args[1] if len(args) > 1 else None))
                return _known_to_sdk(await _o(tok, props, *args, **kw))

            wrapped: Any = awrapper
        else:

            def wrapper(tok: str, props: Any, *args: Any, _o: Any = original, **kw: Any) -> Any:
                _record(tok, kw.get("typ", args[1] if len(args) > 1 else None))
                return _fixed(_o(tok, props, *args, **kw))

            wrapped = wrapper
        wrapped._hkmail_wrapped = True
        setattr(pulumi.runtime, name, wrapped)


def result_type(tok: str) -> type | None:
    with _lock:
        return _result_types.get(tok)


def _geography(name: str, owner: str) -> str | None:
    """ "region" / "zone" when a field of class `owner` holds one, else None."""
    if _NOT_GEO.search(name):
        return None
    if _ZONE.search(name):
        return "zone"
    if _REGION.search(name):
        return "region"
    if _ID_LIKE.match(name):  # GetZonesZoneResult.id, GetRegionsRegionResult.id
        if _ZONE.search(owner) and not _NOT_GEO.search(owner):
            return "zone"
        if _REGION.search(owner):
            return "region"
    return None


def _scalar(geo: str | None, region: str | None, text: bool) -> Any:
    if not text:
        return None  # numbers and flags: None passes the SDK's type checks; unknown offline
    if geo is None or region is None:
        return MARK
    return region if geo == "region" else region + ZONE_SUFFIX


def _value(name: str, hint: Any, owner: str, region: str | None, depth: int) -> Any:
    t = _types.unwrap_type(hint)
    origin = typing.get_origin(t)
    if origin in (list, collections.abc.Sequence, typing.Sequence):
        (elem,) = typing.get_args(t) or (Any,)
        return [_value(name, elem, owner, region, depth + 1)]
    if origin in (dict, collections.abc.Mapping, typing.Mapping):
        return {}
    if isinstance(t, type) and _types.is_output_type(t):
        return build(t, {}, region, depth + 1) if depth < _MAX_DEPTH else {}
    return _scalar(_geography(name, owner), region, t is str or t is Any)


def build(
    typ: type, args: typing.Mapping[str, Any], region: str | None, depth: int = 0
) -> dict[str, Any]:
    """The wire-named result of an invoke whose result type is `typ`."""
    out: dict[str, Any] = {}
    owner = typ.__name__
    for wire_name, hint in _types.output_type_types(typ).items():
        given = args.get(wire_name)
        if given is not None:
            out[wire_name] = given
        else:
            out[wire_name] = _value(wire_name, hint, owner, region, depth)
    return out
