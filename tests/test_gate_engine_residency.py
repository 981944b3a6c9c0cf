"""What the offline engine and the gate add for residency (issue 13, classes 3, 4, 7) and how the
gate runs: transforms, passphrase secrets, the update-mode pass, placement read from the
environment, the children's minimal environment, several stacks and reports from one run,
and a policy config that would weaken the gate."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from toolchain.engine.model import Secret
from toolchain.engine.project import SECRET_PLACEHOLDER, load_project, load_stack_config
from toolchain.engine.run import run_program
from toolchain.engine.secrets import (
    DecryptError,
    decrypt_value,
    derive_key,
    encrypt_value,
    key_from_state,
    new_encryption_salt,
)

REPO = Path(__file__).resolve().parent.parent
PROJECTS = REPO / "tests" / "projects"
PACKS = REPO / "tests" / "packs"
PASSPHRASE = "hk-mail test passphrase"  # the fixture stacks in tests/projects/secret_region
SECRETS_ENV = ("PULUMI_CONFIG_PASSPHRASE", "PULUMI_CONFIG_PASSPHRASE_FILE")


def gate(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in SECRETS_ENV}
    return subprocess.run(
        [str(REPO / "scripts" / "gate"), *args],
        capture_output=True,
        text=True,
        timeout=600,
        env={**base, **(env or {})},
    )


# -- class 4: transforms run as the engine runs them -------------------------------------------


def test_transforms_run_in_the_engines_order_and_the_plan_shows_their_result() -> None:
    plan = run_program(PROJECTS / "transforms", "dev")
    by_name = {r.name: r for r in plan}
    # own transform (tags, protect) -> the component's transform (provider sz) -> the stack's
    # transform (zone to Hangzhou, because the zone was still in Hong Kong)
    sw = by_name["net-sw"]
    assert sw.inputs["zoneId"] == "cn-hangzhou-b"
    assert sw.inputs["tags"] == {"t": "own"}
    assert sw.options.protect is True
    assert sw.provider_urn is not None and sw.provider_urn.endswith("::sz")
    # the component's transform reaches every child, even one with its own explicit provider
    assert by_name["net-vpc"].provider_urn.endswith("::sz")  # type: ignore[union-attr]
    # a component gets no provider from a transform (the engine resolves none for it)
    assert by_name["net"].provider is None
    # legacy transformations run in the SDK first; the stack transform then sees Beijing
    assert by_name["legacy-sw"].inputs["zoneId"] == "cn-beijing-a"
    assert by_name["legacy-sw"].provider_urn.endswith("::hk")  # type: ignore[union-attr]


def test_the_real_pack_judges_the_transformed_inputs() -> None:
    out = gate("--project", str(PROJECTS / "transforms"), "--stack", "dev", "--format", "json")
    assert out.returncode == 1, out.stderr
    doc = json.loads(out.stdout)
    blocking = {
        (v["resourceName"], v["policyName"])
        for v in doc["violations"]
        if v["enforcementLevel"] == "mandatory"
    }
    assert ("net-sw", "residency-resource-region") in blocking
    assert ("legacy-sw", "residency-resource-region") in blocking
    assert ("net-vpc", "residency-provider-region") in blocking  # moved to Shenzhen
    messages = " ".join(v["message"] for v in doc["violations"])
    assert "cn-hangzhou-b" in messages and "cn-beijing-a" in messages


# -- class 3: values unknown at preview --------------------------------------------------------


def test_passphrase_secrets_decrypt_like_the_cli_vector_from_its_own_tests() -> None:
    # pulumi/pulumi pkg/secrets/passphrase/manager_test.go: this state is unlocked by "password"
    state = "v1:fozI5u6B030=:v1:F+6ZduKKd8G0/V7L:PGMFeIzwobWRKmEAzUdaQHqC5mMRIQ=="
    key = key_from_state("password", state)
    assert len(key) == 32
    with pytest.raises(DecryptError, match="incorrect passphrase"):
        key_from_state("password123", state)


def test_encrypt_decrypt_round_trip_with_fixed_inputs() -> None:
    key = derive_key("pw", b"\x01" * 8)
    value = encrypt_value(key, "cn-hongkong", nonce=b"\x02" * 12)
    assert value.startswith("v1:AgICAgICAgICAgIC:")  # base64 of the 12-byte nonce
    assert decrypt_value(key, value) == "cn-hongkong"
    tampered = value[:-4] + ("AAAA" if not value.endswith("AAAA") else "BBBB")
    with pytest.raises(ValueError):
        decrypt_value(key, tampered)
    state, key2 = new_encryption_salt("pw", salt=b"\x01" * 8)
    assert key2 == key and key_from_state("pw", state) == key


def test_stack_secrets_are_decrypted_when_the_passphrase_is_set(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    project = load_project(PROJECTS / "secret_region")
    monkeypatch.delenv("PULUMI_CONFIG_PASSPHRASE", raising=False)
    monkeypatch.delenv("PULUMI_CONFIG_PASSPHRASE_FILE", raising=False)
    locked = load_stack_config(project, "sh")
    assert locked.value("secret-region:region") == Secret(SECRET_PLACEHOLDER)
    assert any("not decrypted offline" in w for w in locked.warnings)

    phrase_file = tmp_path / "phrase"
    phrase_file.write_text(f"  {PASSPHRASE}\n")  # the CLI trims the file's white space
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE_FILE", str(phrase_file))
    assert load_stack_config(project, "sh").value("secret-region:region") == Secret("cn-shanghai")

    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "wrong")  # wins over the file, as in the CLI
    with pytest.raises(DecryptError, match="incorrect passphrase"):
        load_stack_config(project, "sh")


def test_gate_decrypts_a_secret_region_and_blocks_or_passes_on_the_real_value() -> None:
    project = str(PROJECTS / "secret_region")
    env = {"PULUMI_CONFIG_PASSPHRASE": PASSPHRASE}
    out = gate("--project", project, "--stack", "sh", "--format", "json", env=env)
    assert out.returncode == 1, out.stderr
    doc = json.loads(out.stdout)
    blocked = {v["resourceName"] for v in doc["violations"] if v["policyName"].startswith("resid")}
    assert "vpc" in blocked  # created through provider p
    # the plaintext is handed to the pack inside the secret wrapper and never printed
    assert "cn-shanghai" not in out.stdout + out.stderr
    hk = gate("--project", project, "--stack", "hk", "--format", "json", env=env)
    hk_doc = json.loads(hk.stdout)
    assert not [v for v in hk_doc["violations"] if v["policyName"].startswith("residency-prov")]


def test_without_the_passphrase_a_secret_region_is_unresolved_and_blocked() -> None:
    out = gate("--project", str(PROJECTS / "secret_region"), "--stack", "hk", "--format", "json")
    assert out.returncode == 1, out.stderr
    assert "not decrypted offline" in out.stderr
    doc = json.loads(out.stdout)
    assert any(
        v["resourceName"] == "vpc" and v["policyName"] == "residency-provider-region"
        for v in doc["violations"]
    )


def test_a_wrong_passphrase_fails_closed_like_the_cli() -> None:
    out = gate(
        "--project",
        str(PROJECTS / "secret_region"),
        "--stack",
        "hk",
        env={"PULUMI_CONFIG_PASSPHRASE": "not it"},
    )
    assert out.returncode == 2
    assert "incorrect passphrase" in out.stderr and out.stdout == ""


def test_update_pass_finds_resources_registered_inside_an_apply_on_an_id() -> None:
    preview = run_program(PROJECTS / "apply_on_id", "dev")
    assert {r.name for r in preview} == {"apply-on-id-dev", "hk", "vpc"}
    update = run_program(PROJECTS / "apply_on_id", "dev", preview=False)
    assert {"sw", "sh", "b"} <= {r.name for r in update}
    out = gate("--project", str(PROJECTS / "apply_on_id"), "--stack", "dev", "--format", "json")
    assert out.returncode == 1, out.stderr
    doc = json.loads(out.stdout)
    assert {u.rsplit("::", 1)[1] for u in doc["updateOnlyResources"]} == {"sw", "sh", "b"}
    found = {v["resourceName"] for v in doc["violations"] if v["foundByUpdatePass"]}
    # provider sh is judged through bucket b, created with it (issue 18)
    assert {"sw", "b"} <= found
    # without the pass the gate sees what `pulumi preview` sees, and the leak goes unseen
    blind = gate(
        "--project",
        str(PROJECTS / "apply_on_id"),
        "--stack",
        "dev",
        "--format",
        "json",
        "--no-update-pass",
    )
    assert not {v["resourceName"] for v in json.loads(blind.stdout)["violations"]} & found


def test_update_pass_runs_only_when_the_preview_could_have_missed_something() -> None:
    quiet = gate("--project", str(PROJECTS / "nc_region"), "--stack", "dev", "--format", "json")
    assert json.loads(quiet.stdout)["updatePass"] == ""  # no apply() skipped: nothing to find
    skipped = gate("--project", str(PROJECTS / "apply_on_id"), "--stack", "dev", "--format", "json")
    assert "apply() on an unknown value" in json.loads(skipped.stdout)["updatePass"]
    asks = gate("--project", str(PROJECTS / "dry_run_branch"), "--stack", "dev", "--format", "json")
    assert asks.returncode == 1, asks.stderr
    doc = json.loads(asks.stdout)
    assert "whether it runs in preview" in doc["updatePass"]
    # a program that registers a leak only outside preview is caught by the update pass
    assert [u.rsplit("::", 1)[1] for u in doc["updateOnlyResources"]] == ["sh", "late"]


# -- class 7: placement from the environment ---------------------------------------------------


def test_reading_a_region_variable_is_a_residency_violation() -> None:
    out = gate(
        "--project",
        str(PROJECTS / "env_region"),
        "--stack",
        "dev",
        "--format",
        "json",
        env={"ALICLOUD_REGION": "cn-hongkong", "TENCENTCLOUD_REGION": "ap-hongkong"},
    )
    assert out.returncode == 1, out.stderr
    doc = json.loads(out.stdout)
    found = [v for v in doc["violations"] if v["policyName"] == "residency-environment-placement"]
    text = "\n".join(v["message"] for v in found)
    # os.environ.get, os.getenv and the SDK's own default (a provider without region)
    assert "ALICLOUD_REGION (not set here) at __main__.py:8" in text
    assert "TENCENTCLOUD_REGION (not set here) at __main__.py:9" in text
    assert "ALICLOUD_REGION (not set here) at __main__.py:11" in text
    assert all(v["enforcementLevel"] == "mandatory" for v in found)


# -- the children's environment -----------------------------------------------------------------


def test_program_and_pack_get_only_the_environment_they_need() -> None:
    leaky = {
        "ALICLOUD_ACCESS_KEY": "LTAI-test",
        "TENCENTCLOUD_SECRET_KEY": "tc-test",
        "PULUMI_CONFIG_PASSPHRASE": "pp-test",
        "PULUMI_ACCESS_TOKEN": "pul-test",
        "GITHUB_TOKEN": "gh-test",
        "ALICLOUD_REGION": "cn-hangzhou",
        "HKMAIL_WANTED": "yes",
    }
    out = gate(
        "--project",
        str(PROJECTS / "env_probe"),
        "--stack",
        "dev",
        "--policy-pack",
        str(PACKS / "env_probe"),
        "--pass-env",
        "HKMAIL_WANTED",
        "--format",
        "json",
        env=leaky,
    )
    assert out.returncode == 0, out.stderr
    messages = [v["message"] for v in json.loads(out.stdout)["violations"]]
    pack_env = set(json.loads(next(m for m in messages if "ENV " in m).split("ENV ", 1)[1]))
    plan = run_program(PROJECTS / "env_probe", "dev")
    log = next(d.message for d in plan.diagnostics if d.message.startswith("ENV "))
    for seen in (pack_env, set(json.loads(log[4:]))):
        assert not seen & (set(leaky) - {"HKMAIL_WANTED"})
        assert "PATH" in seen and "HOME" in seen
    assert "HKMAIL_WANTED" in pack_env
    assert plan.outputs["home_entries"] == []  # an empty HOME: no credential files in it
    refused = gate("--project", str(PROJECTS / "env_probe"), "--stack", "dev",
                   "--pass-env", "ALICLOUD_REGION")  # fmt: skip
    assert refused.returncode == 2 and "never passed" in refused.stderr


# -- one invocation: every stack, one pack process, every report --------------------------------


def test_every_stack_one_pack_process_every_format_from_one_run(tmp_path: Path) -> None:
    log = tmp_path / "analyze.log"
    reports = {f: tmp_path / f"gate.{f}" for f in ("json", "sarif", "junit", "markdown")}
    out = gate(
        "--project",
        str(PROJECTS / "multi"),
        "--all-stacks",
        "--policy-pack",
        str(PACKS / "residency"),
        "--pass-env",
        "HKMAIL_TEST_ANALYZE_LOG",
        *[a for f, p in reports.items() for a in ("--report", f"{f}={p}")],
        "--format",
        "text",
        env={"HKMAIL_TEST_ANALYZE_LOG": str(log)},
    )
    assert out.returncode == 1, out.stderr
    assert "Policy gate for stack gz" in out.stdout and "Policy gate for stack hk" in out.stdout
    pids = {line.split()[1] for line in log.read_text().splitlines()}
    assert len(pids) == 1  # one pack process judged both stacks
    urns = [line.split()[2] for line in log.read_text().splitlines()]
    assert any(":gz::" in u for u in urns) and any(":hk::" in u for u in urns)
    doc = json.loads(reports["json"].read_text())
    assert [s["stack"] for s in doc["stacks"]] == ["gz", "hk"]
    assert [s["passed"] for s in doc["stacks"]] == [False, True] and doc["passed"] is False
    sarif = json.loads(reports["sarif"].read_text())
    assert [r["automationDetails"]["id"] for r in sarif["runs"]] == [
        "hk-mail-gate/multi/gz/",
        "hk-mail-gate/multi/hk/",
    ]
    suites = ET.parse(reports["junit"]).getroot().findall("testsuite")
    assert len(suites) == 2 and suites[0].get("failures") != "0"
    md = reports["markdown"].read_text()
    assert "`multi` / `gz`" in md and "`multi` / `hk`" in md


def test_the_pack_sees_each_stacks_own_config() -> None:
    out = gate(
        "--project",
        str(PROJECTS / "multi"),
        "--stack",
        "hk",
        "--stack",
        "gz",
        "--policy-pack",
        str(PACKS / "env_probe"),
        "--format",
        "json",
    )
    assert out.returncode == 0, out.stderr
    stacks = json.loads(out.stdout)["stacks"]
    seen = {s["stack"]: [v["message"] for v in s["violations"]] for s in stacks}
    assert any("STACK hk region=ap-hongkong" in m for m in seen["hk"])
    assert any("STACK gz region=ap-guangzhou" in m for m in seen["gz"])


def test_single_stack_contract_unchanged_and_a_failing_stack_fails_closed(tmp_path: Path) -> None:
    project = tmp_path / "multi"
    shutil.copytree(PROJECTS / "multi", project)
    (project / "Pulumi.broken.yaml").write_text("config: [not, a, mapping]\n")
    out = gate("--project", str(project), "--all-stacks", "--policy-pack", str(PACKS / "residency"),
               "--format", "json")  # fmt: skip
    assert out.returncode == 2
    assert "stack broken" in out.stderr
    doc = json.loads(out.stdout)
    assert [e["stack"] for e in doc["errors"]] == ["broken"]
    assert [s["stack"] for s in doc["stacks"]] == ["gz", "hk"]  # still judged and reported


# -- a policy config must not weaken the gate ---------------------------------------------------


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"residency-resourse-region": {"enforcementLevel": "advisory"}}, "unknown policy"),
        (
            {"residency-resource-region": {"allowedRegions": ["cn-hongkong", "cn-shenzhen"]}},
            "'cn-shenzhen', outside Hong Kong",
        ),
    ],
)
def test_policy_config_unknown_rule_or_region_outside_hong_kong_exits_2(
    tmp_path: Path, config: dict[str, object], expected: str
) -> None:
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(config))
    out = gate("--stack", "tencent-exmail", "--policy-config", str(path))
    assert out.returncode == 2, (out.stdout, out.stderr)
    assert expected in out.stderr and out.stdout == ""
