"""The engine's property wire format (``google.protobuf.Struct`` with signature-keyed objects).

Pulumi encodes secrets, unknowns, resource references, assets and output values inside plain
protobuf structs using a special signature key. :func:`decode` turns that into model values
(:class:`~.model.Secret`, :data:`~.model.UNKNOWN`, :class:`~.model.ResourceReference`);
:func:`encode` turns model values back into what the engine's plugin layer sends an analyzer
(``MarshalProperties`` with KeepUnknowns, KeepSecrets and SkipInternalKeys, no KeepResources).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from google.protobuf import json_format, struct_pb2  # type: ignore[import-untyped]

from .model import UNKNOWN, ResourceReference, Secret

SIG_KEY: Final = "4dabf18193072939515e22adb298388d"
SECRET_SIG: Final = "1b47061264138c4ac30d75fd1eb44270"
RESOURCE_SIG: Final = "5cf8f73096256a8f31e491e813e4eb8e"
OUTPUT_VALUE_SIG: Final = "d0e6a833031e9bbcd3f4e8bde6ca49a4"
ASSET_SIG: Final = "c44067f5952c0a294b673a41bacd8c17"
ARCHIVE_SIG: Final = "0def7320c3a5731c473e5ecbe6d01bc7"
UNKNOWN_VALUE: Final = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


def decode(value: Any) -> object:
    """One wire value (as ``MessageToDict`` yields it) -> a model value."""
    if isinstance(value, str):
        return UNKNOWN if value == UNKNOWN_VALUE else value
    if isinstance(value, float):
        # protobuf numbers are doubles; show whole numbers as ints (TTLs, priorities, ports)
        return int(value) if value.is_integer() and abs(value) < 2**53 else value
    if isinstance(value, list):
        return [decode(v) for v in value]
    if isinstance(value, dict):
        sig = value.get(SIG_KEY)
        if sig == SECRET_SIG:
            return Secret(decode(value.get("value")))
        if sig == RESOURCE_SIG:
            rid = value.get("id")
            return ResourceReference(
                urn=str(value.get("urn", "")),
                id=None if rid is None else (UNKNOWN if rid in ("", UNKNOWN_VALUE) else rid),
                package_version=str(value.get("packageVersion", "")),
            )
        if sig == OUTPUT_VALUE_SIG:
            inner: object = decode(value["value"]) if "value" in value else UNKNOWN
            return Secret(inner) if value.get("secret") else inner
        # assets, archives and plain maps stay maps (values decoded)
        return {k: (v if k == SIG_KEY else decode(v)) for k, v in value.items()}
    return value  # bool, None, int


def decode_map(props: Mapping[str, Any]) -> dict[str, object]:
    return {k: decode(v) for k, v in props.items()}


def contains_secret(value: object) -> bool:
    if isinstance(value, Secret):
        return True
    if isinstance(value, Mapping):
        return any(contains_secret(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(contains_secret(v) for v in value)
    return False


def encode(value: object, *, keep_resources: bool = False, skip_internal: bool = True) -> Any:
    """A model value -> the JSON-able wire value the engine sends an analyzer."""
    if value is UNKNOWN:
        return UNKNOWN_VALUE
    if isinstance(value, Secret):
        return {
            SIG_KEY: SECRET_SIG,
            "value": encode(value.reveal(), keep_resources=keep_resources),
        }
    if isinstance(value, ResourceReference):
        if keep_resources:
            ref: dict[str, Any] = {SIG_KEY: RESOURCE_SIG, "urn": value.urn}
            if value.id is not None:
                ref["id"] = encode(value.id)
            if value.package_version:
                ref["packageVersion"] = value.package_version
            return ref
        # Without KeepResources the engine downgrades a reference to its id, or its URN for
        # components (which have no id).
        return encode(value.id) if value.id is not None else value.urn
    if isinstance(value, Mapping):
        return {
            str(k): encode(v, keep_resources=keep_resources, skip_internal=skip_internal)
            for k, v in value.items()
            if not (skip_internal and str(k).startswith("__"))
        }
    if isinstance(value, list | tuple):
        return [
            encode(v, keep_resources=keep_resources, skip_internal=skip_internal) for v in value
        ]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return float(value)
    raise TypeError(f"cannot encode {type(value).__name__} as a Pulumi property value")


def to_struct(props: Mapping[str, object], *, keep_resources: bool = False) -> struct_pb2.Struct:
    """Model properties -> the ``Struct`` an ``AnalyzeRequest.properties`` carries."""
    struct = struct_pb2.Struct()
    json_format.ParseDict(encode(props, keep_resources=keep_resources), struct)
    return struct


def to_display(value: object) -> Any:
    """A model value -> JSON for people: secrets as ``"[secret]"``, unknowns as ``"[unknown]"``."""
    if isinstance(value, Secret):
        return "[secret]"
    if value is UNKNOWN:
        return "[unknown]"
    if isinstance(value, ResourceReference):
        return value.urn
    if isinstance(value, Mapping):
        if value.get(SIG_KEY) in (ASSET_SIG, ARCHIVE_SIG):
            return {k: to_display(v) for k, v in value.items() if k != SIG_KEY}
        return {str(k): to_display(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_display(v) for v in value]
    return value
