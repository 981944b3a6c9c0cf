"""The pack's README says exactly what is judged: every rule (the pack's and the gate's own) states
what it does not cover, and every regulator's control says what the checks cover and leave."""

from __future__ import annotations

import sys

from tests.support import REPO
from toolchain.gate import placement
from toolchain.gate.core import ENV_PLACEMENT_POLICY

sys.path.insert(0, str(REPO / "policies"))
from hkmail_policy.controls import CONTROLS
from hkmail_policy.rules import RULES
from hkmail_policy.scope import CONTROL_SCOPE, GATE_NOT_COVERED, NOT_COVERED

README = (REPO / "policies" / "README.md").read_text(encoding="utf-8")


def test_every_pack_rule_states_what_it_does_not_cover() -> None:
    assert set(NOT_COVERED) == {r.id for r in RULES}
    for rule in RULES:
        assert f"- Does not cover: {NOT_COVERED[rule.id]}" in README, rule.id


def test_every_gate_rule_is_listed_with_its_limits() -> None:
    gate_rules = {*placement.RULES, ENV_PLACEMENT_POLICY}
    assert set(GATE_NOT_COVERED) == gate_rules
    for rid in gate_rules:
        assert f"| `{rid}` |" in README, rid


def test_regulators_controls_say_what_is_left_to_the_firm() -> None:
    served = {c for r in RULES for c in r.controls}
    regulators = {c for c in served if c.startswith(("SFC-", "HKMA-"))}
    assert regulators <= set(CONTROL_SCOPE)
    assert set(CONTROL_SCOPE) <= set(CONTROLS)
    for cid, (covers, left) in CONTROL_SCOPE.items():
        assert f"| {cid} | {covers} | {left} |" in README


def test_the_opening_claims_only_what_is_judged() -> None:
    intro = README.split("## Running it", 1)[0]
    assert "every way" not in intro
    assert "Alibaba Mail's China site is outside Hong Kong" in intro
