"""The gate with the real policy pack (policies/) on every example stack in stacks/: all pass."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
STACKS = sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in (REPO / "stacks").glob("*.yaml"))


def test_the_repo_has_example_stacks_and_a_pack() -> None:
    assert STACKS
    assert (REPO / "policies" / "PulumiPolicy.yaml").exists()


@pytest.mark.parametrize("stack", STACKS)
def test_example_stack_passes_the_gate(stack: str) -> None:
    out = subprocess.run(
        [str(REPO / "scripts" / "gate"), "--stack", stack, "--format", "json"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, (stack, out.stdout[-3000:], out.stderr[-3000:])
    doc = json.loads(out.stdout)
    assert doc["stack"] == stack and doc["project"] == "hk-mail"
    assert doc["policyPack"] == "hk-mail-residency"
    assert doc["resources"] > 3
    assert not [v for v in doc["violations"] if v["enforcementLevel"] == "mandatory"]
    # exempted findings stay visible, at advisory level
    assert all(v["enforcementLevel"] == "advisory" for v in doc["violations"] if v["exempt"])
