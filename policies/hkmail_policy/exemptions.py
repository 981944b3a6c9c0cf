"""The exemptions file: an approved record (approvals.py) for one or more rules on resources of
one stack. Validated strictly when the pack starts, and by the gate, plan and program through
this same module: a bad file is an error naming the file, the entry and the field (fail closed).

Scope: ``resources.stack`` names one stack literally, ``resources.types`` the resource types
(globs inside one package); ``name`` and ``urn`` narrow it. A URN glob must begin with
``urn:pulumi:<that stack>::<project>::`` literally, so no entry reaches another stack."""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from .approvals import (
    APPROVAL_FIELDS,
    Approval,
    Governance,
    RecordError,
    check_fields,
    governance_path,
    load_governance,
    load_records,
    parse_approval,
)

# not resolve(): a pack directory that links hkmail_policy/ in reads its own exemptions.yaml
DEFAULT_FILE = Path(__file__).absolute().parent.parent / "exemptions.yaml"
ENV_FILE = "HKMAIL_EXEMPTIONS_FILE"  # tests and CI point the pack at another file
EXEMPT_PREFIX = "[exempt: "
ID_PATTERN = r"EX-[A-Za-z0-9-]+"
FIELDS = {"id", "rule", "resources", *APPROVAL_FIELDS}
SCOPE_FIELDS = {"stack", "types", "name", "urn"}
_GLOB = re.compile(r"[*?\[]")
_STACK = re.compile(r"^[A-Za-z0-9_.-]+$")

ExemptionsError = RecordError  # the name callers used before approvals.py


@dataclass(frozen=True)
class Exemption:
    id: str
    rules: tuple[str, ...]
    stack: str
    types: tuple[str, ...]
    name: str | None
    urn: str | None
    approval: Approval

    # the approval's fields, as the pack's messages and the reports read them
    @property
    def expires(self) -> date:
        return self.approval.expires

    @property
    def approver(self) -> str:
        return self.approval.approver

    @property
    def reference(self) -> str:
        return self.approval.reference

    def expired(self, today: date) -> bool:
        return self.approval.expired(today)

    def miss(self, urn: str, type_: str, name: str) -> str | None:
        """Why this resource is outside the scope (None when it is inside)."""
        stack = stack_of(urn)
        if stack != self.stack:
            return f"the resource is in stack '{stack}', the exemption in stack '{self.stack}'"
        if not any(fnmatch.fnmatchcase(type_, t) for t in self.types):
            return f"type {type_} is not one of {', '.join(self.types)}"
        if self.name is not None and not fnmatch.fnmatchcase(name, self.name):
            return f"name '{name}' does not match '{self.name}'"
        if self.urn is not None and not fnmatch.fnmatchcase(urn, self.urn):
            return f"URN {urn} does not match {self.urn}"
        return None

    def matches(self, rule: str, urn: str, type_: str, name: str) -> bool:
        return rule in self.rules and self.miss(urn, type_, name) is None

    def selector(self) -> str:
        parts = [f"stack {self.stack}", f"types {', '.join(self.types)}"]
        if self.name:
            parts.append(f"name {self.name}")
        if self.urn:
            parts.append(f"urn {self.urn}")
        return "; ".join(parts)


def stack_of(urn: str) -> str:
    """The stack of ``urn:pulumi:<stack>::<project>::<type>::<name>``."""
    return urn.removeprefix("urn:pulumi:").split("::", 1)[0]


def _scope(sel: Any, file: str, where: str) -> tuple[str, tuple[str, ...], str | None, str | None]:
    key = "resources"
    if not isinstance(sel, dict):
        raise RecordError(file, where, key, "must be a mapping", "stack, types, name, urn")
    check_fields(sel, SCOPE_FIELDS, {"stack", "types"}, file, f"{where}: {key}")
    stack = sel["stack"]
    if not isinstance(stack, str) or not _STACK.match(stack):
        raise RecordError(
            file, where, f"{key}.stack", f"{stack!r} is not one stack's name (no globs)"
        )
    types = [sel["types"]] if isinstance(sel["types"], str) else sel["types"]
    if not isinstance(types, list) or not types:
        raise RecordError(file, where, f"{key}.types", "must list one or more resource types")
    for t in types:
        pkg = t.split(":", 1)[0] if isinstance(t, str) else ""
        if not isinstance(t, str) or ":" not in t or not pkg or _GLOB.search(pkg):
            raise RecordError(
                file,
                where,
                f"{key}.types",
                f"{t!r} does not name a package",
                "a type or a glob inside one package, e.g. alicloud:cdn/domainNew:DomainNew, "
                "alicloud:cdn/*, pulumi:providers:alicloud",
            )
    name = sel.get("name")
    if name is not None and (not isinstance(name, str) or not name.strip("*?")):
        raise RecordError(file, where, f"{key}.name", f"{name!r} is a trivial glob", "a name glob")
    urn = sel.get("urn")
    if urn is not None:
        head = f"urn:pulumi:{stack}::"
        project = urn[len(head) :].split("::", 1)[0] if isinstance(urn, str) else ""
        if (
            not isinstance(urn, str)
            or not urn.startswith(head)
            or not project
            or (_GLOB.search(project) or "::" not in urn[len(head) :])
        ):
            raise RecordError(
                file,
                where,
                f"{key}.urn",
                f"{urn!r} is wider than stack '{stack}'",
                f"a glob beginning {head}<project>:: with stack and project written out",
            )
    return stack, tuple(types), name, urn


def parse(
    entry: Mapping[str, Any],
    file: str,
    where: str,
    rule_ids: Iterable[str] | None,
    gov: Governance,
    today: date,
) -> Exemption:
    check_fields(entry, FIELDS, FIELDS, file, where)
    raw = entry["rule"]
    rules = [raw] if isinstance(raw, str) else raw
    if not isinstance(rules, list) or not rules or not all(isinstance(r, str) for r in rules):
        raise RecordError(file, where, "rule", "must be a rule id or a list of rule ids")
    known = set(rule_ids) if rule_ids is not None else None
    for rule in rules:
        if known is not None and rule not in known:
            raise RecordError(
                file, where, "rule", f"unknown rule '{rule}'", ", ".join(sorted(known))
            )
    if len(set(rules)) != len(rules):
        raise RecordError(file, where, "rule", "lists a rule twice")
    stack, types, name, urn = _scope(entry["resources"], file, where)
    return Exemption(
        id=str(entry["id"]),
        rules=tuple(rules),
        stack=stack,
        types=types,
        name=name,
        urn=urn,
        approval=parse_approval(entry, gov, file, where, today),
    )


def path_from_env(default: Path = DEFAULT_FILE) -> Path:
    return Path(os.environ.get(ENV_FILE) or default)


def load(
    rule_ids: Iterable[str] | None,
    path: Path | None = None,
    today: date | None = None,
    approvers: Path | None = None,
) -> tuple[Exemption, ...]:
    """Every exemption in ``path`` (default: HKMAIL_EXEMPTIONS_FILE, else policies/exemptions.yaml),
    checked against the approvers file beside it (or HKMAIL_APPROVERS_FILE). ``rule_ids`` None
    skips only the rule-name check (the Pulumi program, whose environment has no pack; the pack
    and the gate check the names)."""
    path = path or path_from_env()
    rules = set(rule_ids) if rule_ids is not None else None
    day = today or date.today()
    loaded: list[Governance] = []

    def one(entry: Mapping[str, Any], file: str, where: str) -> Exemption:
        if not loaded:  # an empty exemptions file needs no approvers file
            loaded.append(load_governance(approvers or governance_path(path)))
        return parse(entry, file, where, rules, loaded[0], day)

    return load_records(path, "exemptions", ID_PATTERN, one)


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


def near_misses(
    exemptions: tuple[Exemption, ...], rule: str, urn: str, type_: str, name: str
) -> list[str]:
    """For a finding no exemption covers: each exemption of the same rule and why it did not
    apply (an entry copied from another stack says so instead of staying silent)."""
    out = []
    for ex in exemptions:
        if rule in ex.rules:
            why = ex.miss(urn, type_, name)
            if why is not None:
                out.append(f"{ex.id} covers {rule} but not this resource: {why}")
    return out
