"""Declarative rule objects: one rule, one place (id, text, severity, controls, check)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from .values import Leaf

Severity = Literal["low", "medium", "high", "critical"]
Enforcement = Literal["advisory", "mandatory", "disabled"]
Scope = Literal["resource", "stack"]


@dataclass(frozen=True)
class ProviderRef:
    urn: str
    type: str
    name: str
    props: Mapping[str, Any]  # raw engine serialisation


@dataclass
class Resource:
    """A resource as the engine shows it to the pack (inputs in raw engine serialisation)."""

    urn: str
    type: str
    name: str
    props: Mapping[str, Any]
    protect: bool
    provider: ProviderRef | None
    parent: str | None = None
    # property name -> URNs it depends on (AnalyzeStack only)
    property_dependencies: Mapping[str, Sequence[str]] = field(default_factory=dict)

    @property
    def package(self) -> str:
        if self.type.startswith("pulumi:providers:"):
            return self.type.split(":", 2)[2]
        return self.type.split(":", 1)[0]

    def describe(self) -> str:
        return f"{self.type} '{self.name}'"


@dataclass(frozen=True)
class Finding:
    """One violation. The message names the resource, the property path, the offending value
    and what would be allowed."""

    message: str
    urn: str | None = None  # only stack rules set it (the resource the finding is about)


@dataclass(frozen=True)
class Context:
    config: Mapping[str, Any]
    today: date
    stack: Sequence[Resource] = ()

    def allowed_regions(self) -> list[str]:
        return list(self.config.get("allowedRegions", []))


Check = Callable[[Resource, Context], Iterable[Finding]]


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    description: str
    severity: Severity
    enforcement: Enforcement
    remediation: str
    controls: tuple[str, ...]
    check: Check
    scope: Scope = "resource"
    # JSON-schema properties of this rule's --policy-pack-config entry, each with a "default".
    config_schema: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    # The resource types the rule judges, as type-token prefixes ("alicloud:oss/" or a whole
    # token); empty: every resource. The pack calls `check` only for these (see `judges`).
    types: tuple[str, ...] = ()
    # Extra prefixes read from this rule's config at run time (e.g. "typePrefixes").
    types_from_config: str | None = None

    def judges(self, resource_type: str, config: Mapping[str, Any]) -> bool:
        if not self.types and self.types_from_config is None:
            return True
        extra = tuple(config.get(self.types_from_config, ())) if self.types_from_config else ()
        return resource_type.startswith((*self.types, *extra))

    def defaults(self) -> dict[str, Any]:
        return {k: v["default"] for k, v in self.config_schema.items() if "default" in v}


def violation(resource: Resource, leaf: Leaf | None, problem: str, allowed: str) -> Finding:
    """Standard message: resource, path, value, allowed values."""
    where = f"{leaf.path} = {leaf.shown()}" if leaf is not None else "(resource)"
    return Finding(f"{resource.describe()}: {where}: {problem}. Allowed: {allowed}.")


ALLOWED_REGIONS_SCHEMA: Mapping[str, Mapping[str, Any]] = {
    "allowedRegions": {
        "type": "array",
        "items": {"type": "string", "pattern": "^[a-z]{2}-[a-z0-9-]+$"},
        "minItems": 1,
        "default": ["cn-hongkong", "ap-hongkong"],
        "description": "Regions where data may be placed (their zones are allowed too).",
    }
}
