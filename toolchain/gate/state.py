"""Read a ``pulumi stack export`` document into planned resources, to audit what is deployed."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from toolchain.engine.model import (
    CustomTimeouts,
    EngineError,
    PlannedResource,
    ResourceOptions,
    Secret,
)
from toolchain.engine.project import SECRET_PLACEHOLDER
from toolchain.engine.wire import SECRET_SIG, SIG_KEY, decode


def _decode_state(value: Any) -> object:
    """Checkpoint values: secrets carry ``ciphertext`` (or ``plaintext`` with --show-secrets)."""
    if isinstance(value, dict):
        if value.get(SIG_KEY) == SECRET_SIG:
            if "plaintext" in value:
                try:
                    return Secret(_decode_state(json.loads(value["plaintext"])))
                except (TypeError, json.JSONDecodeError):
                    return Secret(value["plaintext"])
            if "value" in value:
                return Secret(_decode_state(value["value"]))
            return Secret(SECRET_PLACEHOLDER)
        return {k: (v if k == SIG_KEY else _decode_state(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode_state(v) for v in value]
    return decode(value)


def _decode_map(props: Any) -> dict[str, object]:
    if not isinstance(props, Mapping):
        return {}
    return {str(k): _decode_state(v) for k, v in props.items()}


def _timeouts(raw: Any) -> CustomTimeouts:
    if not isinstance(raw, Mapping):
        return CustomTimeouts()
    # checkpoints store custom timeouts in seconds, as analyzers receive them
    return CustomTimeouts(
        create=float(raw.get("create") or 0),
        update=float(raw.get("update") or 0),
        delete=float(raw.get("delete") or 0),
    )


def load_state(path: str | os.PathLike[str]) -> tuple[str, str, tuple[PlannedResource, ...]]:
    """(project, stack, resources) of a stack export; fails with an :class:`EngineError`."""
    file = Path(path)
    try:
        doc = json.loads(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise EngineError(f"cannot read the state file {file}: {exc.strerror}", str(file)) from exc
    except json.JSONDecodeError as exc:
        raise EngineError(
            f"the state file {file} is not valid JSON: {exc.msg}", f"{file}:{exc.lineno}"
        ) from exc
    deployment = doc.get("deployment") if isinstance(doc, dict) else None
    if not isinstance(deployment, dict):
        raise EngineError(
            f"{file} is not a `pulumi stack export` document (no 'deployment')", str(file)
        )
    raw_resources = deployment.get("resources") or []
    if not isinstance(raw_resources, list):
        raise EngineError(f"{file}: deployment.resources must be a list", str(file))
    resources: list[PlannedResource] = []
    project = stack = ""
    for raw in raw_resources:
        if not isinstance(raw, dict) or raw.get("delete"):
            continue  # pending deletions are not part of the deployed stack
        urn = str(raw.get("urn", ""))
        parts = urn.split("::")
        if len(parts) < 4 or not urn.startswith("urn:pulumi:"):
            raise EngineError(f"{file}: resource with an invalid URN {urn!r}", str(file))
        if not stack:
            stack, project = parts[0][len("urn:pulumi:") :], parts[1]
        rtype = str(raw.get("type", ""))
        options = ResourceOptions(
            protect=bool(raw.get("protect")),
            retain_on_delete=bool(raw.get("retainOnDelete")),
            delete_before_replace=raw.get("deleteBeforeReplace"),
            ignore_changes=tuple(raw.get("ignoreChanges") or ()),
            aliases=tuple(raw.get("aliases") or ()),
            custom_timeouts=_timeouts(raw.get("customTimeouts")),
            additional_secret_outputs=tuple(raw.get("additionalSecretOutputs") or ()),
        )
        resources.append(
            PlannedResource(
                urn=urn,
                type=rtype,
                name="::".join(parts[3:]),
                custom=bool(raw.get("custom")),
                parent=raw.get("parent") or None,
                provider=raw.get("provider") or None,
                inputs=_decode_map(raw.get("inputs")),
                options=options,
                dependencies=tuple(raw.get("dependencies") or ()),
                property_dependencies={
                    k: tuple(v) for k, v in (raw.get("propertyDependencies") or {}).items()
                },
                id=raw.get("id") or None,
                outputs=_decode_map(raw.get("outputs")),
                external=bool(raw.get("external")),
            )
        )
    if not resources:
        raise EngineError(f"the state file {file} holds no resources", str(file))
    return project, stack, tuple(resources)
