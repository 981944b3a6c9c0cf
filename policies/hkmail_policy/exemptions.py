"""The exemptions file: who asked, who approved, which resources, which rule, why, reference,
expiry. Validated strictly when the pack starts: a bad file stops the pack (fail closed)."""

from __future__ import annotations

import fnmatch
import os
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import yaml

DEFAULT_FILE = Path(__file__).resolve().parent.parent / "exemptions.yaml"
ENV_FILE = "HKMAIL_EXEMPTIONS_FILE"  # tests point the pack at fixture files
EXEMPT_PREFIX = "[exempt: "

_FIELDS = {"id", "rule", "resources", "requester", "approver", "reason", "reference", "expires"}
_SELECTOR_FIELDS = {"urn", "type", "name"}
_ID = re.compile(r"^EX-[A-Za-z0-9-]+$")


class ExemptionsError(ValueError):
    pass


@dataclass(frozen=True)
class Exemption:
    id: str
    rules: tuple[str, ...]
    urn: str | None
    type: str | None
    name: str | None
    requester: str
    approver: str
    reason: str
    reference: str
    expires: date

    def matches(self, rule: str, urn: str, type_: str, name: str) -> bool:
        if rule not in self.rules:
            return False
        if self.urn is not None:
            return fnmatch.fnmatchcase(urn, self.urn)
        assert self.type is not None
        return fnmatch.fnmatchcase(type_, self.type) and fnmatch.fnmatchcase(name, self.name or "*")

    def expired(self, today: date) -> bool:
        return today > self.expires  # valid through the whole expiry day

    def selector(self) -> str:
        if self.urn is not None:
            return f"urn {self.urn}"
        return f"type {self.type} name {self.name or '*'}"


def _text(entry: dict[str, Any], key: str, where: str, min_len: int = 1) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or len(value.strip()) < min_len:
        raise ExemptionsError(f"{where}: '{key}' must be a text of at least {min_len} characters")
    return value.strip()


def _parse(entry: Any, where: str, rule_ids: set[str]) -> Exemption:
    if not isinstance(entry, dict):
        raise ExemptionsError(f"{where}: each exemption must be a mapping")
    unknown = set(entry) - _FIELDS
    missing = _FIELDS - set(entry)
    if unknown or missing:
        raise ExemptionsError(
            f"{where}: unknown fields {sorted(unknown)}, missing fields {sorted(missing)}; "
            f"fields are {sorted(_FIELDS)}"
        )
    ex_id = _text(entry, "id", where)
    where = f"{where} ({ex_id})"
    if not _ID.match(ex_id):
        raise ExemptionsError(f"{where}: id must look like EX-2026-001")
    # one rule id, or a list when one decision covers several findings of the same resources
    # (e.g. DirectMail: the service itself and its non-Hong Kong provider)
    raw = entry["rule"]
    rules = [raw] if isinstance(raw, str) else raw
    if not isinstance(rules, list) or not rules or not all(isinstance(r, str) for r in rules):
        raise ExemptionsError(f"{where}: 'rule' must be a rule id or a list of rule ids")
    for rule in rules:
        if rule not in rule_ids:
            raise ExemptionsError(f"{where}: unknown rule '{rule}'; rules are {sorted(rule_ids)}")
    if len(set(rules)) != len(rules):
        raise ExemptionsError(f"{where}: 'rule' lists a rule twice")
    sel = entry["resources"]
    if not isinstance(sel, dict) or set(sel) - _SELECTOR_FIELDS or not sel:
        raise ExemptionsError(f"{where}: 'resources' must be a mapping with urn, or type (+ name)")
    if ("urn" in sel) == ("type" in sel) or ("name" in sel and "type" not in sel):
        raise ExemptionsError(f"{where}: 'resources' takes either urn, or type with optional name")
    for k, v in sel.items():
        if not isinstance(v, str) or not v or v.strip("*?") == "":
            raise ExemptionsError(f"{where}: resources.{k} must be a non-trivial glob, got {v!r}")
    requester, approver = _text(entry, "requester", where), _text(entry, "approver", where)
    if requester.lower() == approver.lower():
        raise ExemptionsError(f"{where}: the approver must not be the requester")
    expires = entry["expires"]
    if isinstance(expires, str):
        try:
            expires = date.fromisoformat(expires)
        except ValueError as e:
            raise ExemptionsError(f"{where}: expires must be a date YYYY-MM-DD") from e
    if not isinstance(expires, date):
        raise ExemptionsError(f"{where}: expires must be a date YYYY-MM-DD")
    return Exemption(
        id=ex_id,
        rules=tuple(rules),
        urn=sel.get("urn"),
        type=sel.get("type"),
        name=sel.get("name"),
        requester=requester,
        approver=approver,
        reason=_text(entry, "reason", where, 10),
        reference=_text(entry, "reference", where, 3),
        expires=expires,
    )


def load(rule_ids: set[str], path: Path | None = None) -> tuple[Exemption, ...]:
    path = path or Path(os.environ.get(ENV_FILE) or DEFAULT_FILE)
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as e:
        raise ExemptionsError(f"{path}: cannot read exemptions: {e}") from e
    if not isinstance(doc, dict) or set(doc) != {"exemptions"}:
        raise ExemptionsError(f"{path}: expected one top-level key 'exemptions' (a list)")
    entries = doc["exemptions"] or []
    if not isinstance(entries, list):
        raise ExemptionsError(f"{path}: 'exemptions' must be a list")
    out = [_parse(e, f"{path}: exemptions[{i}]", rule_ids) for i, e in enumerate(entries)]
    ids = [e.id for e in out]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise ExemptionsError(f"{path}: duplicate exemption ids {dupes}")
    return tuple(out)


def decide(
    exemptions: tuple[Exemption, ...], rule: str, urn: str, type_: str, name: str, today: date
) -> tuple[Exemption | None, list[Exemption]]:
    """(the valid exemption covering this finding, expired ones that would have)."""
    expired: list[Exemption] = []
    for ex in exemptions:
        if ex.matches(rule, urn, type_, name):
            if not ex.expired(today):
                return ex, expired
            expired.append(ex)
    return None, expired
