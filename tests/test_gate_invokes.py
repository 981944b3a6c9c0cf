"""Invokes under the offline engine (issue 18): every get_* data source returns a well-formed
result built from its result type, so a program that reads data sources is judged, not crashed;
zones and regions in the result are those of the provider the invoke went through."""

from __future__ import annotations

import json
import subprocess
from typing import Any

from tests.support import REPO
from toolchain.engine.model import UNKNOWN
from toolchain.engine.run import run_program

PROJECT = REPO / "tests" / "projects" / "invokes"


def test_data_sources_of_both_providers_are_judged_through_the_gate() -> None:
    out = subprocess.run(
        [str(REPO / "scripts" / "gate"), "--project", str(PROJECT), "--stack", "hk",
         "--stack", "sh", "--format", "json"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert out.returncode == 1, out.stderr  # judged (not 2): only stack sh is blocked
    stacks: dict[str, Any] = {s["stack"]: s for s in json.loads(out.stdout)["stacks"]}
    assert stacks["hk"]["passed"] and stacks["hk"]["resources"] == 9
    blocking = [v for v in stacks["sh"]["violations"] if v["enforcementLevel"] == "mandatory"]
    zone = [v for v in blocking if v["policyName"] == "residency-resource-region"]
    assert [v["resourceName"] for v in zone] == ["mail-a"]  # placed in the zone Shanghai returned
    assert "cn-shanghai" in zone[0]["message"]


def test_results_carry_the_provider_region_and_unknowns() -> None:
    plan = run_program(PROJECT, "hk")
    by_name = {r.name: r for r in plan.resources}
    # a zone read through the Hong Kong providers is a Hong Kong zone, plain and output form
    assert by_name["mail-a"].inputs["zoneId"] == "cn-hongkong-offline"
    assert by_name["mail-b"].inputs["zoneId"] == "cn-hongkong-offline"
    assert by_name["mail-subnet"].inputs["availabilityZone"] == "ap-hongkong-offline"
    # what only the cloud knows (an image id) is unknown, not invented
    assert plan.outputs["image"] is UNKNOWN and plan.outputs["tcImage"] is UNKNOWN
    assert plan.outputs["region"] == "cn-hongkong"
