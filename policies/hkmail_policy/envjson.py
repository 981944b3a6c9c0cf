"""Environments given as one JSON-encoded string (SAE `Application.envs`): decoded into one leaf
per variable, so the residency rules judge each variable as they judge the map and key/value
environments of other functions and containers, and a finding names the variable.

Which inputs are such strings, and their documented shape, is generated from the SDK docs
(field_roles.json `environments`, form `json`; tools/field_roles.py). Nothing in the string goes
unread (fail closed): beside the variables, the rest of the string (names, keys outside the
documented shape, `valueFrom` references, elements that are not variables) is kept as one leaf,
scanned as text by the rules that read every value; what is not of the documented shape is
reported by `problems`, naming the input and the shape; a string that is not a JSON array at
all is read as a whole.
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
    """The value of one variable decoded from a JSON environment string; `var` is its name (for
    judging it, never shown for a secret string); `label` is how findings name it: the name, or
    `#index` when the string is a secret (its variable names are part of the secret)."""

    var: str = ""
    label: str = ""


@dataclass(frozen=True)
class Decoded:
    """One JSON environment input: its raw leaf, what the rules read in its place (`scan`: the
    variables and the rest of the string, or the raw leaf when it is no JSON array), and what in
    it is not of the documented shape."""

    leaf: Leaf
    scan: tuple[Leaf, ...]
    problem: str | None  # None: all of it as documented
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
    alt = (
        f' (or "{ref}": {{"configMapRef": {{"configMapId": <number>, "key": <string>}}}} in '
        f'place of "{value}": a value kept in an SAE ConfigMap)'
        if ref
        else ""
    )
    return f'a JSON array of objects {{"{name}": <string>, "{value}": <string>}}{alt}'


def _reference_problem(ref: object) -> str | None:
    """Why a `valueFrom` is not the documented {configMapRef: {configMapId, key}} (None if it
    is): anything else in it could carry a value the pack does not read as a variable."""
    if not isinstance(ref, Mapping) or set(ref) != {"configMapRef"}:
        return "is not exactly {configMapRef: {...}}"
    inner = ref["configMapRef"]
    if not isinstance(inner, Mapping) or set(inner) != {"configMapId", "key"}:
        return "configMapRef is not exactly {configMapId, key}"
    cid, key = inner["configMapId"], inner["key"]
    if isinstance(cid, bool) or not isinstance(cid, int) or not isinstance(key, str):
        return "configMapRef's configMapId is not a number or its key not a string"
    return None


def _decode(leaf: Leaf, entry: Mapping[str, str]) -> Decoded:
    shape = _shape(entry)
    name_key, value_key, ref_key = entry["name"], entry["value"], entry.get("reference")
    known = {name_key, value_key} | ({ref_key} if ref_key else set())

    text = leaf.value.strip()
    if not text:
        return Decoded(leaf, (), None, shape)  # unset
    try:
        doc: Any = json.loads(text)
    except json.JSONDecodeError as exc:
        return Decoded(leaf, (leaf,), f"not valid JSON ({exc.msg} at character {exc.pos})", shape)
    if not isinstance(doc, list):
        why = f"the JSON is {_JSON_TYPES.get(type(doc), 'a scalar')}, not an array"
        return Decoded(leaf, (leaf,), why, shape)
    variables: list[Leaf] = []
    rest: list[Any] = []  # the string less the values read as variables
    problems: list[str] = []
    for i, item in enumerate(doc):
        if not isinstance(item, Mapping) or not isinstance(item.get(name_key), str):
            problems.append(f'element {i} is not an object with a string "{name_key}"')
            rest.append(item)
            continue
        var = item[name_key]
        label = f"#{i}" if leaf.secret else var
        # a secret string's names and keys stay out of messages: the element by its index
        el = f"element {i}" if leaf.secret else f"element {i} ({var})"
        extra = sorted(k for k in item if k not in known)
        if extra:
            problems.append(
                f"{el} has keys outside {', '.join(sorted(known))}"
                + ("" if leaf.secret else ": " + ", ".join(extra))
            )
        value = item.get(value_key)
        ref = item.get(ref_key) if ref_key else None
        if value is None:
            if ref is None:
                problems.append(f'{el} has no "{value_key}"')
            elif (ref_problem := _reference_problem(ref)) is not None:
                problems.append(f'{el}: "{ref_key}" {ref_problem}')
            rest.append(item)  # a reference's contents are read as text
            continue
        if isinstance(value, (Mapping, list)):
            problems.append(f'{el}: "{value_key}" is not a string')
            rest.append(item)
            continue
        if ref is not None:
            problems.append(f'{el} has both "{value_key}" and "{ref_key}"')
        variables.append(
            EnvLeaf(
                f"{leaf.path}[{label}]",  # the finding names the variable
                f"{leaf.shape}[].{value_key}",
                value if isinstance(value, str) else json.dumps(value),
                leaf.secret,
                False,
                var,
                label,
            )
        )
        rest.append({**item, value_key: ""})
    remainder = Leaf(
        leaf.path, leaf.shape, json.dumps(rest, ensure_ascii=False), leaf.secret, False
    )
    return Decoded(leaf, (*variables, remainder), "; ".join(problems) or None, shape)


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
    """The resource's leaves with each JSON environment string replaced by what is read in its
    place: its variables and the rest of the string (or the string itself when it is no JSON
    array)."""
    found = {d.leaf.path: d for d in decoded(type_token, props)}
    if not found:
        return leaves(props)
    out: list[Leaf] = []
    for leaf in leaves(props):
        d = found.get(leaf.path)
        out.extend(d.scan if d is not None else (leaf,))
    return tuple(out)


def problems(type_token: str, props: Mapping[str, Any]) -> Iterator[Decoded]:
    """The JSON environment inputs with something not of the documented shape."""
    return (d for d in decoded(type_token, props) if d.problem is not None)
