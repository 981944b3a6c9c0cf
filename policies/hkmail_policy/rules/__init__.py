"""All rules of the pack, in the order reviewers read them."""

from __future__ import annotations

from ..model import Rule
from . import (
    durability,
    encryption,
    exposure,
    journal,
    mailauth,
    mailflows,
    notify,
    residency,
    secrets,
)

RULES: tuple[Rule, ...] = (
    *residency.RULES,
    *mailflows.RULES,
    *notify.RULES,
    *encryption.RULES,
    *exposure.RULES,
    *durability.RULES,
    *journal.RULES,
    *secrets.RULES,
    *mailauth.RULES,
)
RULES_BY_ID = {r.id: r for r in RULES}
assert len(RULES_BY_ID) == len(RULES), "duplicate rule id"
