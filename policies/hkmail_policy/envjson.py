"""Environments given as one JSON-encoded string (SAE `Application.envs`): decoded into one leaf
per variable, so the residency rules judge each variable as they judge the map and key/value
environments of other functions and containers, and a finding names the variable.

Which inputs are such strings, and their documented shape, is generated from the SDK docs
(field_roles.json `environments`, form `json`; tools/field_roles.py). A value that is not JSON of
that shape is not guessed at: `problems` says so, naming the input and the shape, and the raw
text is still scanned as a whole by the rules that read every value (fail closed).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from .coverage import environment_inputs
from .values import Leaf, leaves


@dataclass(frozen=True)
class EnvLeaf(Leaf):
    """The value of one variable decoded from a JSON environment string; `var` is its name."""

    var: str = ""


@dataclass(frozen=True)
class Decoded:
    """One JSON environment input: its raw leaf, and either its variables or why not."""

    leaf: Leaf
    variables: tuple[EnvLeaf, ...]
    problem: str | None  # None: decoded as documented
    shape: str  # the documented shape, for the message


_JSON_TYPES: dict[type, str] = {
    dict: "an object",
    str: "a string",
    int: "a number",
    float: "a number",
    bool: "a boolean",
}


def _shape(entry: Mapping[str, str]) -> str:
    name, value, ref = entry["name"], entry["value"], entry.get("reference")
    alt = f' (or "{ref}": {{...}} in place of "{value}": a value kept elsewhere)' if ref else ""
    return f'a JSON array of objects {{"{name}": <string>, "{value}": <string>}}{alt}'


def _decode(leaf: Leaf, entry: Mapping[str, str]) -> Decoded:
    shape = _shape(entry)
    name_key, value_key, ref_key = entry["name"], entry["value"], entry.get("reference")

    def bad(why: str) -> Decoded:
        return Decoded(leaf, (), why, shape)

    text = leaf.value.strip()
    if not text:
        return Decoded(leaf, (), None, shape)  # unset
    try:
        doc: Any = json.loads(text)
    except json.JSONDecodeError as exc:
        return bad(f"not valid JSON ({exc.msg} at character {exc.pos})")
    if not isinstance(doc, list):
        return bad(f"the JSON is {_JSON_TYPES.get(type(doc), 'a scalar')}, not an array")
    out: list[EnvLeaf] = []
    for i, item in enumerate(doc):
        if not isinstance(item, Mapping) or not isinstance(item.get(name_key), str):
            return bad(f'element {i} is not an object with a string "{name_key}"')
        var = item[name_key]
        value = item.get(value_key)
        if value is None:
            if ref_key is not None and isinstance(item.get(ref_key), Mapping):
                continue  # the value is kept elsewhere (an SAE ConfigMap), judged there as text
            return bad(f'element {i} ({var}) has no "{value_key}"')
        if isinstance(value, (Mapping, list)):
            return bad(f'element {i} ({var}): "{value_key}" is not a string')
        out.append(
            EnvLeaf(
                f"{leaf.path}[{var}]",  # the finding names the variable
                f"{leaf.shape}[].{value_key}",
                value if isinstance(value, str) else json.dumps(value),
                leaf.secret,
                False,
                var,
            )
        )
    return Decoded(leaf, tuple(out), None, shape)


@cache  # asked for every resource by two rules: a dict lookup for the many types without one
def _json_inputs(type_token: str) -> Mapping[str, Mapping[str, str]]:
    return {p: e for p, e in environment_inputs(type_token).items() if e["form"] == "json"}


def decoded(type_token: str, props: Mapping[str, Any]) -> Iterator[Decoded]:
    """Each JSON environment input of the resource that holds a literal string."""
    inputs = _json_inputs(type_token)
    if not inputs:
        return
    for leaf in leaves(props):
        entry = inputs.get(leaf.shape)
        if entry is not None and isinstance(leaf.value, str) and not leaf.unknown:
            yield _decode(leaf, entry)


def expanded(type_token: str, props: Mapping[str, Any]) -> tuple[Leaf, ...]:
    """The resource's leaves with each well-formed JSON environment string replaced by its
    variables (a malformed one stays as it is: still read as text)."""
    found = {d.leaf.path: d for d in decoded(type_token, props) if d.problem is None}
    if not found:
        return leaves(props)
    out: list[Leaf] = []
    for leaf in leaves(props):
        d = found.get(leaf.path)
        out.extend(d.variables if d is not None else (leaf,))
    return tuple(out)


def problems(type_token: str, props: Mapping[str, Any]) -> Iterator[Decoded]:
    """The JSON environment inputs whose value is not of the documented shape."""
    return (d for d in decoded(type_token, props) if d.problem is not None)
