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


@pytest.mark.parametrize(
    ("project", "blocked"),
    [
        # an explicit provider in Guangzhou: both records it manages (the provider itself is
        # judged through what it creates; one that only reads is advisory, issue 18)
        (
            "nc_region",
            {
                ("mx", "residency-provider-region"),
                # and its MX delivers to Exmail, whose storage no attestation covers for
                # stack 'dev' (attestations name their stacks, issue 25)
                ("mx", "residency-mail-storage"),
                ("legacy-spf", "residency-provider-region"),
            },
        ),
        # a default provider with no region (Tencent's default is ap-guangzhou)
        (
            "nc_default",
            {
                (
                    "default_0_2_3_github_/api.github.com/tencentcloudstack",
                    "residency-provider-region",
                ),
                ("mx", "residency-provider-region"),
                ("mx", "residency-mail-storage"),
            },
        ),
        # a Hong Kong provider, but snapshots copied to Shanghai
        ("nc_alicloud", {("mail-disks", "residency-cross-region-copy")}),
    ],
)
def test_non_compliant_programs_are_blocked_by_the_real_pack(
    project: str, blocked: set[tuple[str, str]]
) -> None:
    out = subprocess.run(
        [
            str(REPO / "scripts" / "gate"),
            "--project",
            str(REPO / "tests" / "projects" / project),
            "--stack",
            "dev",
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 1, (out.stdout[-3000:], out.stderr[-3000:])
    doc = json.loads(out.stdout)
    found = {
        (v["resourceName"], v["policyName"])
        for v in doc["violations"]
        if v["enforcementLevel"] == "mandatory" and not v["exempt"]
    }
    assert found == blocked
