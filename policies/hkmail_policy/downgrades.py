"""Downgrade records (policies/downgrades.yaml): the approval a policy config needs to set a
residency-* or secrets-* rule below its mandatory level. Without one the pack's Configure and
the gate refuse the config (exit 2), so a rule is never lowered silently.

An approved record (approvals.py) plus the rule and the lowest level it allows: a record for
``advisory`` does not allow ``disabled``; one for ``disabled`` allows both."""

from __future__ import annotations

import os
from collections.abc import Mapping
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

DEFAULT_FILE = Path(__file__).absolute().parent.parent / "downgrades.yaml"
ENV_FILE = "HKMAIL_DOWNGRADES_FILE"
ID_PATTERN = r"DG-[A-Za-z0-9-]+"
FIELDS = {"id", "rule", "level", *APPROVAL_FIELDS}
GUARDED_PREFIXES = ("residency-", "secrets-")
RANK = {"disabled": 0, "advisory": 1, "mandatory": 2, "remediate": 3}
LOWER = ("advisory", "disabled")


@dataclass(frozen=True)
class Downgrade:
    id: str
    rule: str
    level: str
    approval: Approval


@dataclass(frozen=True)
class Lowered:
    """A rule the config runs below its default level, and the record that allows it."""

    rule: str
    default: str
    level: str
    record: str  # "" when no record is needed (a rule outside residency-*/secrets-*)


def guarded(rule: str) -> bool:
    return rule.startswith(GUARDED_PREFIXES)


def parse(
    entry: Mapping[str, Any], file: str, where: str, gov: Governance, today: date
) -> Downgrade:
    check_fields(entry, FIELDS, FIELDS, file, where)
    rule = entry["rule"]
    if not isinstance(rule, str) or not guarded(rule):
        raise RecordError(
            file, where, "rule", f"{rule!r} is not a residency-* or secrets-* rule",
            "a residency-* or secrets-* rule id (other rules need no record)",
        )  # fmt: skip
    level = entry["level"]
    if level not in LOWER:
        raise RecordError(
            file, where, "level", f"{level!r} is not a lower level", "advisory, disabled"
        )
    return Downgrade(str(entry["id"]), rule, level, parse_approval(entry, gov, file, where, today))


def path_from_env(default: Path = DEFAULT_FILE) -> Path:
    return Path(os.environ.get(ENV_FILE) or default)


def load(
    path: Path | None = None, today: date | None = None, approvers: Path | None = None
) -> tuple[Downgrade, ...]:
    """Every record (none when the file does not exist)."""
    path = path or path_from_env()
    if not path.is_file():
        return ()
    day = today or date.today()
    loaded: list[Governance] = []

    def one(entry: Mapping[str, Any], file: str, where: str) -> Downgrade:
        if not loaded:
            loaded.append(load_governance(approvers or governance_path(path)))
        return parse(entry, file, where, loaded[0], day)

    return load_records(path, "downgrades", ID_PATTERN, one)


def judge(
    levels: Mapping[str, str],
    defaults: Mapping[str, str],
    records: tuple[Downgrade, ...],
    today: date,
    source: str,
    file: str = "policies/downgrades.yaml",
) -> tuple[list[str], list[Lowered]]:
    """(problems, lowered rules) for the levels a config sets. A guarded rule below mandatory
    needs a current record allowing that level."""
    problems: list[str] = []
    lowered: list[Lowered] = []
    for rule, level in sorted(levels.items()):
        default = defaults.get(rule, "mandatory")
        if RANK.get(level, 2) >= RANK.get(default, 2):
            continue
        if not guarded(rule) or default != "mandatory":
            lowered.append(Lowered(rule, default, level, ""))
            continue
        mine = [r for r in records if r.rule == rule and RANK[r.level] <= RANK[level]]
        current = [r for r in mine if not r.approval.expired(today)]
        if current:
            lowered.append(Lowered(rule, default, level, current[0].id))
            continue
        why = (
            f"{', '.join(r.id for r in mine)} expired on "
            f"{', '.join(str(r.approval.expires) for r in mine)}"
            if mine
            else "no downgrade record allows it"
        )
        problems.append(
            f"{source}: {rule}: enforcementLevel '{level}' lowers a mandatory "
            f"{rule.split('-', 1)[0]} rule and {why}; allowed: 'mandatory', or an approved record "
            f"in {file} (id DG-..., rule {rule}, level {level}, requester, approver, approvedOn, "
            "reason, reference, expires; format: policies/README.md#downgrades)"
        )
    return problems, lowered
