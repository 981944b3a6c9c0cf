"""Strict checking of --policy-pack-config against each rule's schema.

The Pulumi CLI validates config against the schema it reads from GetAnalyzerInfo; the pack checks
again so that any other caller (the gate) fails loudly on a typo instead of silently using a
default."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from typing import Any

from .model import Rule


def _check(value: Any, schema: Mapping[str, Any], where: str) -> list[str]:
    kind = schema.get("type")
    if kind == "array":
        if not isinstance(value, list):
            return [f"{where} must be a list"]
        if len(value) < int(schema.get("minItems", 0)):
            return [f"{where} needs at least {schema['minItems']} item(s)"]
        return [e for i, v in enumerate(value) for e in _check(v, schema["items"], f"{where}[{i}]")]
    if kind == "string":
        if not isinstance(value, str):
            return [f"{where} must be a string"]
        if "pattern" in schema and not re.match(schema["pattern"], value):
            return [f"{where} = {value!r} does not match {schema['pattern']}"]
        if schema.get("format") == "date":
            try:
                date.fromisoformat(value)
            except ValueError:
                return [f"{where} = {value!r} is not a date YYYY-MM-DD"]
        return []
    if kind == "integer":
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool):
            return [f"{where} must be an integer"]
        if value < schema.get("minimum", value):
            return [f"{where} must be at least {schema['minimum']}"]
        return []
    if kind == "object":
        if not isinstance(value, dict):
            return [f"{where} must be a mapping"]
        inner = schema.get("additionalProperties", {})
        return [e for k, v in value.items() for e in _check(v, inner, f"{where}.{k}")]
    return []


def validate(config: Mapping[str, Mapping[str, Any]], rules: Mapping[str, Rule]) -> list[str]:
    """Problems with a {policy name: properties} config (empty list when it is fine)."""
    problems: list[str] = []
    for name, props in config.items():
        if name == "all":
            continue
        rule = rules.get(name)
        if rule is None:
            problems.append(f"unknown policy '{name}'; policies are {sorted(rules)}")
            continue
        for key, value in props.items():
            if key == "enforcementLevel":
                continue
            schema = rule.config_schema.get(key)
            if schema is None:
                known = sorted(rule.config_schema) or "none"
                problems.append(f"{name}: unknown setting '{key}' (settings: {known})")
                continue
            problems.extend(_check(value, schema, f"{name}.{key}"))
    return problems
