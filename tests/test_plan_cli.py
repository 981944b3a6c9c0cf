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
        ("run_error", "missing", "stack config file not found"),
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
            [sys.executable, "-m", "hkmail.plan", "--stack", stack, "--format", "json"],
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
        # the whole point of the blueprint: every resource is planned in Hong Kong
        assert {r["region"] for r in custom} <= {"ap-hongkong", "cn-hongkong"}, stack
