"""The gate's check of where a stack's state and secrets live (issue 12), run as CI runs it
(scripts/gate on fixture projects) and on the URL forms the Pulumi CLI accepts."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import date, timedelta
from pathlib import Path

import pytest

from toolchain.gate.placement import (
    BACKEND_RULE,
    DECLARED_RULE,
    SECRETS_RULE,
    backend_where,
    placement,
    secrets_where,
)

REPO = Path(__file__).resolve().parent.parent
PROJECTS = REPO / "tests" / "projects"
PACK = REPO / "tests" / "packs" / "residency"


def gate(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k != "PULUMI_BACKEND_URL"}
    return subprocess.run(
        [str(REPO / "scripts" / "gate"), "--policy-pack", str(PACK), "--format", "json", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**base, **(env or {})},
    )


def findings(out: subprocess.CompletedProcess[str]) -> set[tuple[str, str]]:
    doc = json.loads(out.stdout)
    return {(v["policyName"], v["enforcementLevel"]) for v in doc["violations"]}


@pytest.mark.parametrize(
    ("url", "region", "inside"),
    [
        # Alibaba OSS: the S3-compatible endpoint, the classic and the internal one
        (
            "s3://st?endpoint=s3.oss-cn-hongkong.aliyuncs.com&region=cn-hongkong",
            "cn-hongkong",
            True,
        ),
        ("s3://st?endpoint=https://oss-cn-hongkong-internal.aliyuncs.com", "cn-hongkong", True),
        ("s3://st?endpoint=oss-cn-hangzhou.aliyuncs.com&region=cn-hangzhou", "cn-hangzhou", False),
        # Tencent COS
        (
            "s3://st-125?endpoint=cos.ap-hongkong.myqcloud.com&region=ap-hongkong",
            "ap-hongkong",
            True,
        ),
        ("s3://st-125?endpoint=cos.ap-guangzhou.myqcloud.com", "ap-guangzhou", False),
        # Amazon S3: Hong Kong is ap-east-1
        ("s3://st?region=ap-east-1", "ap-east-1", True),
        ("s3://st?region=us-east-1&awssdk=v2", "us-east-1", False),
        ("s3://st?endpoint=s3.ap-southeast-1.amazonaws.com", "ap-southeast-1", False),
        # Pulumi Cloud's hosted service
        ("https://api.pulumi.com", "pulumi-cloud", False),
        ("https://app.pulumi.com/acme", "pulumi-cloud", False),
        # cannot be told from the URL
        ("s3://st", None, None),
        ("s3://st?endpoint=http://minio.internal:9000", None, None),
        ("azblob://state?storage_account=acme", None, None),
        ("gs://acme-state", None, None),
        ("file://~", None, None),
        ("https://pulumi.acme.internal", None, None),
    ],
)
def test_backend_urls(url: str, region: str | None, inside: bool | None) -> None:
    where = backend_where(url)
    assert (where.region, where.in_hong_kong) == (region, inside)


@pytest.mark.parametrize(
    ("provider", "inside"),
    [
        ("passphrase", True),
        ("awskms://alias/hkmail?region=ap-east-1", True),
        ("awskms://1234abcd-12ab-34cd-56ef-1234567890ab?region=eu-west-1", False),
        ("awskms:///arn:aws:kms:us-east-1:111122223333:key/1234abcd", False),
        ("awskms:///arn%3Aaws%3Akms%3Aap-east-1%3A111122223333%3Akey%2F1234abcd", True),
        ("gcpkms://projects/p/locations/asia-east2/keyRings/r/cryptoKeys/k", True),
        ("gcpkms://projects/p/locations/global/keyRings/r/cryptoKeys/k", False),
        ("default", False),  # the Pulumi Cloud service
        ("azurekeyvault://acme.vault.azure.net/keys/pulumi", None),
        ("hashivault://pulumi", None),
        ("awskms://alias/hkmail", None),
    ],
)
def test_secrets_providers(provider: str, inside: bool | None) -> None:
    assert secrets_where(provider, {}).in_hong_kong is inside


def test_secrets_default_follows_the_backend(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.yaml").write_text("name: p\nruntime: python\n")
    stack = tmp_path / "Pulumi.dev.yaml"
    stack.write_text("config: {}\n")
    # DIY backend, no secretsprovider: `pulumi stack init` picks a passphrase
    diy = placement(tmp_path, stack, {"PULUMI_BACKEND_URL": "s3://st?region=ap-east-1"})
    assert (diy.backend_source, diy.secrets_provider) == ("PULUMI_BACKEND_URL", "passphrase")
    cloud = placement(tmp_path, stack, {"PULUMI_BACKEND_URL": "https://api.pulumi.com"})
    assert cloud.secrets_provider == "default" and cloud.secrets is not None
    assert cloud.secrets.in_hong_kong is False
    none = placement(tmp_path, stack, {})
    assert (none.backend, none.secrets) == (None, None)


def test_hong_kong_state_and_passphrase_pass_clean() -> None:
    out = gate("--project", str(PROJECTS / "placement_hk"), "--stack", "passphrase")
    assert out.returncode == 0, out.stderr
    assert findings(out) == set()
    out = gate("--project", str(PROJECTS / "placement_hk"), "--stack", "awshk")
    assert out.returncode == 0, out.stderr
    assert findings(out) == set()


def test_secrets_key_outside_hong_kong_blocks() -> None:
    out = gate("--project", str(PROJECTS / "placement_hk"), "--stack", "awsus")
    assert out.returncode == 1, out.stderr
    doc = json.loads(out.stdout)
    [v] = doc["violations"]
    assert (v["policyName"], v["enforcementLevel"]) == (SECRETS_RULE, "mandatory")
    assert v["resourceType"] == "pulumi:pulumi:Stack"
    assert "us-east-1, outside Hong Kong" in v["message"]
    assert "Pulumi.awsus.yaml secretsprovider" in v["message"]


def test_vault_location_cannot_be_verified_so_it_is_advisory() -> None:
    out = gate(
        "--project",
        str(PROJECTS / "placement_hk"),
        "--stack",
        "vault",
        env={"VAULT_ADDR": "https://vault.acme.hk:8200"},
    )
    assert out.returncode == 0, out.stderr
    [v] = json.loads(out.stdout)["violations"]
    assert (v["policyName"], v["enforcementLevel"]) == (SECRETS_RULE, "advisory")
    assert "https://vault.acme.hk:8200" in v["message"]


def test_pulumi_cloud_backend_blocks() -> None:
    out = gate("--project", str(PROJECTS / "placement_cloud"), "--stack", "dev")
    assert out.returncode == 1, out.stderr
    # the hosted state and the hosted secrets service (its default) are both outside Hong Kong
    assert findings(out) == {(BACKEND_RULE, "mandatory"), (SECRETS_RULE, "mandatory")}
    assert "Pulumi Cloud's hosted service (api.pulumi.com)" in out.stdout


def test_undeclared_is_advisory_and_env_backend_is_judged() -> None:
    project = str(PROJECTS / "placement_none")
    out = gate("--project", project, "--stack", "dev")
    assert out.returncode == 0, out.stderr
    assert findings(out) == {(DECLARED_RULE, "advisory")}
    # PULUMI_BACKEND_URL wins over Pulumi.yaml, as in the CLI: a mainland bucket blocks
    env = {"PULUMI_BACKEND_URL": "s3://st?endpoint=oss-cn-shenzhen.aliyuncs.com"}
    out = gate("--project", project, "--stack", "dev", env=env)
    assert out.returncode == 1, out.stderr
    assert findings(out) == {(BACKEND_RULE, "mandatory")}
    assert "cn-shenzhen, outside Hong Kong" in out.stdout


def test_policy_config_sets_the_level(tmp_path: Path) -> None:
    config = tmp_path / "policy.json"
    config.write_text(json.dumps({BACKEND_RULE: "advisory"}))
    args = ["--project", str(PROJECTS / "placement_cloud"), "--stack", "dev"]
    refused = gate(*args, "--policy-config", str(config))
    assert refused.returncode == 2  # a residency rule lowered without an approved record
    assert f"{BACKEND_RULE}: enforcementLevel 'advisory' lowers a mandatory" in refused.stderr
    today = date.today()
    record = {
        "id": "DG-2026-001",
        "rule": BACKEND_RULE,
        "level": "advisory",
        "requester": "ops@example.com",
        "approver": "dpo@example.com",
        "approvedOn": (today - timedelta(days=3)).isoformat(),
        "reason": "State moves to the Hong Kong bucket next week; tracked in the ticket.",
        "reference": "CHG-42",
        "expires": (today + timedelta(days=30)).isoformat(),
    }
    (tmp_path / "downgrades.yaml").write_text(json.dumps({"downgrades": [record]}))
    (tmp_path / "approvers.yaml").write_text(json.dumps({"approvers": ["dpo@example.com"]}))
    out = gate(
        *args,
        "--policy-config",
        str(config),
        "--pass-env",
        "HKMAIL_DOWNGRADES_FILE",
        env={"HKMAIL_DOWNGRADES_FILE": str(tmp_path / "downgrades.yaml")},
    )
    assert findings(out) == {(BACKEND_RULE, "advisory"), (SECRETS_RULE, "mandatory")}


def test_state_export_secrets_provider_is_judged(tmp_path: Path) -> None:
    doc = json.loads((REPO / "tests" / "states" / "nc-region.json").read_text())
    doc["deployment"]["secrets_providers"] = {
        "type": "cloud",
        "state": {"url": "gcpkms://projects/p/locations/us-central1/keyRings/r/cryptoKeys/k"},
    }
    state = tmp_path / "state.json"
    state.write_text(json.dumps(doc))
    out = gate("--state", str(state))
    assert out.returncode == 1
    assert (SECRETS_RULE, "mandatory") in findings(out)
    assert "us-central1, outside Hong Kong" in out.stdout
