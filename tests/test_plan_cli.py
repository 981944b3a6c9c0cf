"""``scripts/plan`` run the way a user runs it, on fixture projects and on the repo's stacks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PROJECTS = REPO / "tests" / "projects"


def plan(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(REPO / "scripts" / "plan"), *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )


def test_text_table_shows_regions_and_secrets_masked() -> None:
    out = plan("--project", str(PROJECTS / "tc_explicit"), "--stack", "hk")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    row = next(line for line in lines if line.strip().startswith("example-mx "))
    assert "tencentcloud:Dnspod/record:Record" in row and "ap-hongkong" in row
    assert "example-dkim (protected)" in out.stdout
    assert "dkim: [secret]" in out.stdout
    assert "AAAB" not in out.stdout and "hk-mail offline" not in out.stdout


def test_json_contract(tmp_path: Path) -> None:
    target = tmp_path / "plan.json"
    out = plan(
        "--project",
        str(PROJECTS / "tc_default"),
        "--stack",
        "dev",
        "--format",
        "json",
        "--output",
        str(target),
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout == ""
    doc = json.loads(target.read_text())
    assert doc["project"] == "tc-default" and doc["stack"] == "dev"
    by_name = {r["name"]: r for r in doc["resources"]}
    for r in doc["resources"]:
        assert set(r) == {
            "urn",
            "type",
            "name",
            "parent",
            "provider",
            "region",
            "protect",
            "inputs",
        }
    provider = by_name["default_0_2_3_github_/api.github.com/tencentcloudstack"]
    assert provider["inputs"]["secret_key"] == "[secret]"
    spf = by_name["spf"]
    assert spf["provider"] == provider["urn"]
    assert spf["region"] == "ap-hongkong"
    assert spf["inputs"]["value"] == "v=spf1 include:spf.mail.qq.com -all"
    assert spf["parent"] == "urn:pulumi:dev::tc-default::pulumi:pulumi:Stack::tc-default-dev"


@pytest.mark.parametrize(
    ("project", "stack", "expected"),
    [
        ("raises", "dev", "ZeroDivisionError"),
        ("run_error", "dev", "region: 'ap-guangzhou' is not valid; allowed: ap-hongkong"),
        ("run_error", "exit", "error: domains[0].name: 'bad..name' is not valid"),
        ("run_error", "badyaml", "Pulumi.badyaml.yaml is not valid YAML"),
        ("run_error", "missing", "--stack missing: no such stack (no "),
        ("tc_denied", "dev", "Default provider for 'tencentcloud' disabled."),
    ],
)
def test_errors_exit_2_with_one_message_and_no_traceback(
    project: str, stack: str, expected: str
) -> None:
    out = plan("--project", str(PROJECTS / project), "--stack", stack)
    assert out.returncode == 2
    assert out.stdout == ""
    assert expected in out.stderr
    assert "Traceback" not in out.stderr
    assert out.stderr.startswith("error:")


def test_repo_stacks_plan() -> None:
    stacks = sorted(
        p.name[len("Pulumi.") : -len(".yaml")] for p in (REPO / "stacks").glob("*.yaml")
    )
    assert stacks, "the repo has example stacks"
    for stack in stacks:
        out = subprocess.run(
            [sys.executable, "-m", "toolchain.plan", "--stack", stack, "--format", "json"],
            capture_output=True,
            text=True,
            cwd=REPO,
            timeout=300,
        )
        assert out.returncode == 0, (stack, out.stderr)
        doc = json.loads(out.stdout)
        custom = [
            r for r in doc["resources"] if r["type"].split(":")[0] in ("tencentcloud", "alicloud")
        ]
        assert custom, stack
        # every cloud resource goes through a provider whose region the plan can show (whether
        # that region is allowed is the policy gate's call: tests/test_gate_repo.py)
        assert all(r["region"] for r in custom), stack
        assert all(r["provider"] for r in custom if not r["type"].startswith("pulumi:")), stack


def test_plan_with_gate_verdicts() -> None:
    out = plan(
        "--project",
        str(PROJECTS / "nc_region"),
        "--stack",
        "dev",
        "--gate",
        "--policy-pack",
        str(REPO / "tests" / "packs" / "residency"),
    )
    assert out.returncode == 1, out.stderr
    assert "Plan for stack dev of project nc-region:" in out.stdout
    assert (
        "[blocking] residency-provider-region: tencentcloud:Dnspod/record:Record mx" in out.stdout
    )
    assert out.stdout.rstrip().endswith("FAIL: 3 mandatory violations")
    doc = plan(
        "--project",
        str(PROJECTS / "tc_explicit"),
        "--stack",
        "hk",
        "--gate",
        "--format",
        "json",
        "--policy-pack",
        str(REPO / "tests" / "packs" / "residency"),
    )
    assert doc.returncode == 0, doc.stderr
    parsed = json.loads(doc.stdout)
    assert parsed["gate"]["passed"] is True and len(parsed["resources"]) == 6


def test_verbose_shows_the_programs_traceback() -> None:
    out = plan("--project", str(PROJECTS / "raises"), "--stack", "dev", "--verbose")
    assert out.returncode == 2
    assert "helper.build(3)" in out.stderr and "ZeroDivisionError" in out.stderr


@pytest.mark.parametrize("where", ["missing-dir/plan.json", "."])
def test_output_that_cannot_be_written_is_an_error(tmp_path: Path, where: str) -> None:
    target = tmp_path / where
    out = plan("--project", str(PROJECTS / "tc_default"), "--stack", "dev", "--output", str(target))
    assert out.returncode == 2
    assert out.stdout == "" and "Traceback" not in out.stderr
    reason = "does not exist" if "missing" in where else "is a directory"
    assert out.stderr.startswith("error: --output ") and reason in out.stderr
