"""``scripts/gate`` run the way CI runs it: exit codes, findings, failing closed, formats."""

from __future__ import annotations

import json
import os
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema  # type: ignore[import-untyped]
import pytest

REPO = Path(__file__).resolve().parent.parent
PROJECTS = REPO / "tests" / "projects"
PACKS = REPO / "tests" / "packs"
SARIF_SCHEMA = REPO / "tests" / "schemas" / "sarif-schema-2.1.0.json"


def gate(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(REPO / "scripts" / "gate"), *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )


def fixture_gate(project: str, stack: str, *args: str, pack: str = "residency", **kw: object):
    return gate(
        "--project",
        str(PROJECTS / project),
        "--stack",
        stack,
        "--policy-pack",
        str(PACKS / pack),
        *args,
        **kw,  # type: ignore[arg-type]
    )


def test_compliant_program_passes() -> None:
    out = fixture_gate("tc_explicit", "hk")
    assert out.returncode == 0, out.stderr
    assert "PASS: no mandatory violation" in out.stdout
    # an unknown input in preview: the pack's SDK says it cannot run that policy, like the CLI
    assert "can't run policy 'dns-txt-length'" in out.stdout
    assert "[blocking]" not in out.stdout


def test_non_compliant_explicit_provider_fails_naming_resource_and_rule() -> None:
    out = fixture_gate("nc_region", "dev", "--format", "json")
    assert out.returncode == 1, out.stderr
    doc = json.loads(out.stdout)
    assert doc["project"] == "nc-region" and doc["stack"] == "dev"
    assert doc["policyPack"] == "test-residency"
    assert doc["resources"] == 4  # stack, provider, two records
    blocking = {
        (v["resourceName"], v["policyName"])
        for v in doc["violations"]
        if v["enforcementLevel"] == "mandatory"
    }
    assert blocking == {
        ("gz", "residency-provider-region"),
        ("mx", "residency-provider-region"),
        ("legacy-spf", "residency-provider-region"),
    }
    mx = next(
        v
        for v in doc["violations"]
        if v["resourceName"] == "mx" and v["enforcementLevel"] == "mandatory"
    )
    assert mx == {
        "policyName": "residency-provider-region",
        "policyPackName": "test-residency",
        "policyPackVersion": "0.3.1",
        "enforcementLevel": "mandatory",
        "severity": "",
        "resourceUrn": "urn:pulumi:dev::nc-region::tencentcloud:Dnspod/record:Record::mx",
        "resourceType": "tencentcloud:Dnspod/record:Record",
        "resourceName": "mx",
        "message": "Tencent and Alibaba resources are placed in Hong Kong.\n"
        "placed by provider gz in 'ap-guangzhou'",
        "exempt": False,
        "exemption": "",
        "foundByUpdatePass": False,
    }
    exempt = [v for v in doc["violations"] if v["exempt"]]
    assert [(v["resourceName"], v["exemption"]) for v in exempt] == [
        ("legacy-spf", "EX-7 (approved by compliance, expires 2099-01-01)")
    ]


def test_default_provider_without_region_fails() -> None:
    out = fixture_gate("nc_default", "dev")
    assert out.returncode == 1
    assert "[blocking] residency-provider-region: pulumi:providers:tencentcloud default_0_2_3" in (
        out.stdout
    )
    assert "placed by provider default_0_2_3_github_/api.github.com/tencentcloudstack in None" in (
        out.stdout
    )


def test_policy_config_is_applied_like_the_cli(tmp_path: Path) -> None:
    config = tmp_path / "policy.json"
    config.write_text(
        json.dumps(
            {
                "residency-provider-region": "advisory",
                "dns-ttl-floor": {"minimum": 60},
                "dns-record-budget": {"enforcementLevel": "mandatory", "maxRecords": 1},
            }
        )
    )
    out = fixture_gate("nc_region", "dev", "--policy-config", str(config), "--format", "json")
    assert out.returncode == 1, out.stderr
    doc = json.loads(out.stdout)
    levels = {
        (v["policyName"], v["resourceName"]): v["enforcementLevel"] for v in doc["violations"]
    }
    assert levels[("residency-provider-region", "mx")] == "advisory"
    assert not any(p == "dns-ttl-floor" for p, _ in levels)  # 300 >= 60
    # the stack policy reported against the resource it named
    assert levels[("dns-record-budget", "legacy-spf")] == "mandatory"

    config.write_text(json.dumps({"all": "disabled"}))
    out = fixture_gate("nc_region", "dev", "--policy-config", str(config), "--format", "json")
    # "all" also disables the gate's own residency rules: refused without an approved downgrade
    # record (tests/test_downgrades.py); another pack's rules are counted, not guarded
    assert out.returncode == 2 and out.stdout == ""
    assert "residency-state-backend: enforcementLevel 'disabled' lowers a mandatory" in out.stderr


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{not json", "is not valid JSON"),
        ('{"dns-ttl-floor": "sometimes"}', "'sometimes' is not a valid enforcement level"),
        ('{"dns-ttl-floor": {"minimum": "ten"}}', "dns-ttl-floor: 'ten' is not of type 'integer'"),
    ],
)
def test_bad_policy_config_fails_closed(tmp_path: Path, content: str, expected: str) -> None:
    config = tmp_path / "policy.json"
    config.write_text(content)
    out = fixture_gate("tc_explicit", "hk", "--policy-config", str(config))
    assert out.returncode == 2
    assert expected in out.stderr and str(config) in out.stderr
    assert out.stdout == ""


@pytest.mark.parametrize(
    ("project", "stack", "pack", "expected"),
    [
        ("raises", "dev", "residency", "the program raised ZeroDivisionError"),
        ("run_error", "dev", "residency", "region: 'ap-guangzhou' is not valid"),
        ("run_error", "badyaml", "residency", "Pulumi.badyaml.yaml is not valid YAML"),
        ("tc_denied", "dev", "residency", "Default provider for 'tencentcloud' disabled."),
        ("tc_explicit", "hk", "crash", "the policy pack crashed (exit status 3) during Analyze"),
        ("tc_explicit", "hk", "broken", "the policy pack failed to start (exit status 1)"),
        ("tc_explicit", "hk", "raises", "the policy pack failed Analyze for urn:pulumi:hk::"),
        ("tc_explicit", "hk", "hang", "did not answer Analyze for urn:pulumi:hk::"),
        ("tc_explicit", "hk", "missing", "policy pack not found"),
        ("tc_explicit", "hk", "slowstart", "the policy pack did not start within 3 seconds"),
        ("tc_explicit", "hk", "imports_repo", "No module named 'toolchain'"),
    ],
)
def test_failures_exit_2_with_what_and_where(
    project: str, stack: str, pack: str, expected: str
) -> None:
    # Only the packs that must time out get a short limit: on a loaded machine a healthy pack can
    # take more than 3 s to start, and its case would then fail for the wrong reason.
    timeout = "3" if pack in ("slowstart", "hang") else "60"
    out = fixture_gate(project, stack, "--pack-timeout", timeout, pack=pack)
    assert out.returncode == 2, (out.stdout, out.stderr)
    assert expected in out.stderr
    assert "failing closed" in out.stderr
    assert out.stdout == ""


def test_resources_are_analysed_while_the_program_runs(tmp_path: Path) -> None:
    log = tmp_path / "analyze.log"
    out = fixture_gate(
        "slow",
        "dev",
        "--pass-env",
        "HKMAIL_TEST_ANALYZE_LOG",
        env={"HKMAIL_TEST_ANALYZE_LOG": str(log)},
    )
    assert out.returncode == 0, out.stderr
    entries = [line.split() for line in log.read_text().splitlines()]
    seen = {urn.rsplit("::", 1)[-1]: float(t) for t, _, urn in entries}
    # "first" was analysed while the program was still computing "second" (1.5 s later)
    assert seen["second"] - seen["first"] > 1.0
    # one pack process served every Analyze: no per-resource process start
    assert len({pid for _, pid, _ in entries}) == 1
    assert len(entries) == 4  # stack, default provider, two records


def test_state_file_is_audited() -> None:
    out = gate(
        "--state",
        str(REPO / "tests" / "states" / "nc-region.json"),
        "--policy-pack",
        str(PACKS / "residency"),
        "--format",
        "json",
    )
    assert out.returncode == 1, out.stderr
    doc = json.loads(out.stdout)
    assert (doc["project"], doc["stack"], doc["mode"]) == ("hk-mail", "prod", "state")
    assert doc["resources"] == 3  # the pending delete is not part of the stack
    assert {(v["resourceName"], v["enforcementLevel"]) for v in doc["violations"]} == {
        ("gz", "mandatory"),
        ("mx", "mandatory"),
        ("mx", "advisory"),
    }


def test_bad_state_file_fails_closed(tmp_path: Path) -> None:
    bad = tmp_path / "state.json"
    bad.write_text('{"version": 3}')
    out = gate("--state", str(bad), "--policy-pack", str(PACKS / "residency"))
    assert out.returncode == 2
    assert "is not a `pulumi stack export` document" in out.stderr


def test_sarif_is_valid_2_1_0(tmp_path: Path) -> None:
    target = tmp_path / "gate.sarif"
    out = fixture_gate("nc_region", "dev", "--format", "sarif", "--output", str(target))
    assert out.returncode == 1
    assert out.stdout == ""
    doc = json.loads(target.read_text())
    schema = json.loads(SARIF_SCHEMA.read_text())
    jsonschema.validate(doc, schema)
    run = doc["runs"][0]
    rules = [r["id"] for r in run["tool"]["driver"]["rules"]]
    assert "residency-provider-region" in rules
    errors = [r for r in run["results"] if r["level"] == "error"]
    assert len(errors) == 3
    mx = next(
        r
        for r in errors
        if "Record::mx" in r["locations"][0]["logicalLocations"][0]["fullyQualifiedName"]
    )
    assert rules[mx["ruleIndex"]] == "residency-provider-region"
    # points code scanning at the line of the program that declared the resource
    assert mx["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "__main__.py"
    assert mx["locations"][0]["physicalLocation"]["region"]["startLine"] == 8
    exempt = [r for r in run["results"] if r.get("suppressions")]
    assert len(exempt) == 1 and exempt[0]["level"] == "note"


def test_junit_has_one_case_per_resource_rule_pair(tmp_path: Path) -> None:
    target = tmp_path / "gate.xml"
    out = fixture_gate("nc_region", "dev", "--format", "junit", "--output", str(target))
    assert out.returncode == 1
    suite = ET.parse(target).getroot().find("testsuite")
    assert suite is not None
    cases = suite.findall("testcase")
    # 4 resources x 4 resource rules + 1 stack rule
    assert len(cases) == int(suite.get("tests", "0")) == 17
    failed = {(c.get("classname"), c.get("name")) for c in cases if c.find("failure") is not None}
    assert ("tencentcloud:Dnspod/record:Record.mx", "residency-provider-region") in failed
    # only what blocks is a failure: CI's count agrees with the exit code
    assert int(suite.get("failures", "0")) == len(failed) == 3
    doc = json.loads(fixture_gate("nc_region", "dev", "--format", "json").stdout)
    assert len({(v["resourceUrn"], v["policyName"]) for v in doc["violations"]
                if v["enforcementLevel"] == "mandatory" and not v["exempt"]}) == 3  # fmt: skip
    # an advisory finding passes, and says what it found in a property and in system-out
    ttl = next(
        c
        for c in cases
        if (c.get("classname"), c.get("name"))
        == ("tencentcloud:Dnspod/record:Record.mx", "dns-ttl-floor")
    )
    assert ttl.find("failure") is None and ttl.find("skipped") is None
    prop = ttl.find("properties/property")
    assert prop is not None and prop.get("name") == "hkmail.advisory" and prop.get("value")
    assert (ttl.findtext("system-out") or "").startswith("advisory (does not fail the gate): ")
    assert [child.tag for child in ttl] == ["properties", "system-out"]
    skipped = [c for c in cases if c.find("skipped") is not None]
    assert any("exempt: EX-7" in (c.find("skipped").get("message") or "") for c in skipped)  # type: ignore[union-attr]


def test_markdown_and_text(tmp_path: Path) -> None:
    md = fixture_gate("nc_region", "dev", "--format", "markdown")
    assert md.returncode == 1
    assert md.stdout.startswith("### ❌ hk-mail policy gate: `nc-region` / `dev`")
    assert (
        "| blocking | `residency-provider-region` | `tencentcloud:Dnspod/record:Record` `mx` |"
        in md.stdout
    )
    assert "| exempt | `exemption-register` |" in md.stdout
    ok = fixture_gate("tc_explicit", "hk", "--format", "markdown")
    assert ok.returncode == 0 and "✅" in ok.stdout


def test_secrets_never_printed(tmp_path: Path) -> None:
    for fmt in ("text", "json", "sarif", "junit", "markdown"):
        out = fixture_gate("tc_explicit", "hk", "--format", fmt)
        assert out.returncode == 0
        assert "hk-mail offline" not in out.stdout + out.stderr
        assert "AAABAKh0" not in out.stdout + out.stderr


def test_remediation_runs_before_analyze_like_the_engine(tmp_path: Path) -> None:
    config = tmp_path / "policy.json"
    config.write_text(json.dumps({"dns-ttl-raise": "remediate"}))
    out = fixture_gate("nc_region", "dev", "--policy-config", str(config))
    assert out.returncode == 1, out.stderr
    assert "[remediated] dns-ttl-raise: urn:pulumi:dev::nc-region::" in out.stdout
    # the remediated ttl (600) is what Analyze saw: the TTL-floor finding is gone
    assert "dns-ttl-floor" not in out.stdout


def test_missing_pack_virtualenv_is_created_from_requirements(tmp_path: Path) -> None:
    pack = tmp_path / "pack"
    pack.mkdir()
    (pack / "PulumiPolicy.yaml").write_text(
        "runtime:\n  name: python\n  options:\n    virtualenv: venv\nversion: 1.0.0\n"
    )
    (pack / "requirements.txt").write_text("# nothing: the pack cannot import pulumi_policy\n")
    (pack / "__main__.py").write_text("import pulumi_policy\n")
    out = gate(
        "--project",
        str(PROJECTS / "tc_explicit"),
        "--stack",
        "hk",
        "--policy-pack",
        str(pack),
    )
    # the CLI's behaviour: the named virtualenv is created and requirements.txt installed into
    # it, then the pack runs with that environment's python (which here lacks the SDK)
    assert (pack / "venv" / "bin" / "python").exists()
    assert "creating the virtualenv" in out.stderr
    assert out.returncode == 2
    assert "the policy pack failed to start" in out.stderr


def test_pack_sees_the_stack_config_like_under_the_cli() -> None:
    out = fixture_gate("tc_default", "dev", "--format", "json", pack="configured")
    assert out.returncode == 0, out.stderr
    messages = {v["message"] for v in json.loads(out.stdout)["violations"]}
    assert messages == {
        "Reads config.\nstack config seen by the pack: zone=example.org region=ap-hongkong"
    }


def test_state_audit_sarif_is_valid(tmp_path: Path) -> None:
    target = tmp_path / "state.sarif"
    out = gate(
        "--state",
        str(REPO / "tests" / "states" / "nc-region.json"),
        "--policy-pack",
        str(PACKS / "residency"),
        "--format",
        "sarif",
        "--output",
        str(target),
    )
    assert out.returncode == 1
    doc = json.loads(target.read_text())
    jsonschema.validate(doc, json.loads(SARIF_SCHEMA.read_text()))
    locations = [r["locations"][0]["physicalLocation"] for r in doc["runs"][0]["results"]]
    # findings in deployed state point at the state file that was audited (relative to the
    # working directory when it is inside it, as in CI)
    uris = {loc["artifactLocation"]["uri"] for loc in locations}
    assert len(uris) == 1 and uris.pop().endswith("tests/states/nc-region.json")
