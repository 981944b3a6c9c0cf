"""The bootstrap project (bootstrap/): its program under mocks, the gate on it, and the deploy
guardrail's RAM and CAM documents (grammar and an evaluator over representative requests)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from toolchain.engine.model import Plan, PlannedResource
from toolchain.engine.run import run_program

REPO = Path(__file__).resolve().parent.parent
BOOTSTRAP = REPO / "bootstrap"


def _guardrail() -> ModuleType:
    spec = importlib.util.spec_from_file_location("hkmail_guardrail", BOOTSTRAP / "guardrail.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


g = _guardrail()


@pytest.fixture(scope="module", params=["alicloud", "tencentcloud"])
def plan(request: pytest.FixtureRequest) -> Plan:
    return run_program(BOOTSTRAP, request.param, timeout=300)


def _of(plan: Plan, type_: str) -> list[PlannedResource]:
    return [r for r in plan.resources if r.type == type_]


def _one(plan: Plan, type_: str, name: str) -> PlannedResource:
    [found] = [r for r in _of(plan, type_) if r.name == name]
    return found


def test_state_bucket_is_hong_kong_versioned_encrypted_protected_logged(plan: Plan) -> None:
    [provider] = [r for r in plan.resources if r.type.startswith("pulumi:providers:")]
    assert provider.inputs["region"] in ("cn-hongkong", "ap-hongkong")
    custom = [r for r in plan.resources if r.custom and not r.type.startswith("pulumi:")]
    # nothing falls back to a default provider: every resource goes through the Hong Kong one
    assert all((r.provider or "").startswith(provider.urn) for r in custom)
    if plan.stack == "alicloud":
        key = _one(plan, "alicloud:kms/key:Key", "state-cmk")
        state = _one(plan, "alicloud:oss/bucket:Bucket", "state")
        logs = _one(plan, "alicloud:oss/bucket:Bucket", "state-access-logs")
        assert state.inputs["versioning"] == {"status": "Enabled"}
        sse = state.inputs["serverSideEncryptionRule"]
        assert isinstance(sse, dict) and sse["sseAlgorithm"] == "KMS"
        assert state.inputs["acl"] == "private"
        logging = state.inputs["logging"]
        assert isinstance(logging, dict) and logging["targetPrefix"] == "state/"
        assert state.inputs["forceDestroy"] is False
        blocks = _of(plan, "alicloud:oss/bucketPublicAccessBlock:BucketPublicAccessBlock")
        assert len(blocks) == 2 and all(b.inputs["blockPublicAccess"] is True for b in blocks)
        assert "state-access-logs" in " ".join(state.property_dependencies.get("logging", ()))
    else:
        key = _one(plan, "tencentcloud:Kms/key:Key", "state-cmk")
        state = _one(plan, "tencentcloud:Cos/bucket:Bucket", "state")
        logs = _one(plan, "tencentcloud:Cos/bucket:Bucket", "state-access-logs")
        assert state.inputs["bucket"] == "wanchaifunds-pulumi-state-1250000000"
        assert state.inputs["versioningEnable"] is True
        assert state.inputs["encryptionAlgorithm"] == "KMS"
        assert state.inputs["acl"] == "private"
        assert state.inputs["logEnable"] is True and state.inputs["logPrefix"] == "state/"
        assert state.inputs["forceClean"] is False
    for r in (key, state, logs):
        assert r.options.protect and r.options.retain_on_delete, r.name
    # the bucket's key is the Hong Kong key created here
    assert any(key.urn in deps for deps in state.property_dependencies.values())


def test_deploy_identity_carries_the_exported_policy(plan: Plan) -> None:
    if plan.stack == "alicloud":
        policy = _one(plan, "alicloud:ram/policy:Policy", "deploy-hong-kong-only")
        doc = json.loads(str(policy.inputs["policyDocument"]))
        role = _one(plan, "alicloud:ram/role:Role", "deploy")
        trust = json.loads(str(role.inputs["assumeRolePolicyDocument"]))
        assert trust["Statement"][0]["Principal"] == {"RAM": ["acs:ram::5123456789012345:root"]}
        assert g.ram_problems(doc) == []
        assert doc == g.ram_policy("5123456789012345", "hkmail-", ["wanchaifunds.com.hk"])
        assert _of(plan, "alicloud:ram/rolePolicyAttachment:RolePolicyAttachment")
    else:
        policy = _one(plan, "tencentcloud:Cam/policy:Policy", "deploy-hong-kong-only")
        doc = json.loads(str(policy.inputs["document"]))
        assert g.cam_problems(doc) == []
        assert doc == g.cam_policy("100000000001", "hkmail-", ["wanchaifunds.com.hk"])
        assert _of(plan, "tencentcloud:Cam/rolePolicyAttachment:RolePolicyAttachment")
    assert plan.outputs["deployPolicy"] == doc
    backend = str(plan.outputs.get("backendUrl", ""))
    assert backend == "" or "hongkong" in backend  # unknown in preview, else Hong Kong


def test_exported_policy_files_are_current() -> None:
    for path, text in g.example_documents().items():
        assert path.read_text(encoding="utf-8") == text, (
            f"{path}: run python bootstrap/guardrail.py"
        )


def test_exported_policies_fit_the_clouds_grammar() -> None:
    assert g.ram_problems(g.load(g.RAM_FILE)) == []
    assert g.cam_problems(g.load(g.CAM_FILE)) == []


def _ram(version: str = "1", **statement: Any) -> dict[str, Any]:
    return {"Version": version, "Statement": [statement]}


def _cam(version: str = "2.0", **statement: Any) -> dict[str, Any]:
    return {"version": version, "statement": [statement]}


REGION_KEY = {"RegionEquals": {"acs:RequestedRegion": "cn-hongkong"}}


@pytest.mark.parametrize(
    ("doc", "problem"),
    [
        (_ram("2", Effect="Allow", Action="*", Resource="*"), "Version"),
        (_ram(Effect="allow", Action="*", Resource="*"), "Effect"),
        (_ram(Effect="Allow", Resource="*"), "Action"),
        (_ram(Effect="Allow", Action="ecs", Resource="*"), "malformed"),
        (_ram(Effect="Allow", Action="*", Resource="qcs::cvm:x:y:z"), "malformed"),
        (_ram(Effect="Allow", Action="*", Resource="*", Condition=REGION_KEY), "operator"),
        (_ram(Effect="Allow", Action="*", Resource="*", Principal={"RAM": ["*"]}), "unknown"),
    ],
)
def test_ram_grammar_rejects(doc: dict[str, Any], problem: str) -> None:
    assert any(problem in p for p in g.ram_problems(doc))


@pytest.mark.parametrize(
    ("doc", "problem"),
    [
        (_cam("1", effect="allow", action=["*"], resource=["*"]), "version"),
        (_cam(effect="Allow", action=["*"], resource=["*"]), "effect"),
        (_cam(effect="allow", action=["cvm:RunInstances"], resource=["*"]), "malformed"),
        (_cam(effect="allow", action=["name/cvm:*"], resource=["acs:ecs:x:1:*"]), "malformed"),
        (_cam(effect="allow", action=["name/cvm:*"]), "resource"),
    ],
)
def test_cam_grammar_rejects(doc: dict[str, Any], problem: str) -> None:
    assert any(problem in p for p in g.cam_problems(doc))


ACCT = g.EXAMPLE_ACCOUNT
UIN = f"uin/{g.EXAMPLE_UIN}"
RAM_CASES = [
    # regional actions: only on cn-hongkong resource strings
    ("ecs:RunInstances", f"acs:ecs:cn-hongkong:{ACCT}:instance/*", True),
    ("ecs:RunInstances", f"acs:ecs:cn-hangzhou:{ACCT}:instance/*", False),
    ("ecs:CreateDisk", f"acs:ecs:ap-southeast-1:{ACCT}:disk/*", False),
    ("vpc:CreateVpc", f"acs:vpc:cn-hongkong:{ACCT}:vpc/*", True),
    ("vpc:CreateVpc", f"acs:vpc:cn-shenzhen:{ACCT}:vpc/*", False),
    ("kms:CreateKey", f"acs:kms:cn-hongkong:{ACCT}:key/*", True),
    ("kms:CreateKey", f"acs:kms:us-west-1:{ACCT}:key/*", False),
    ("oss:PutBucket", f"acs:oss:cn-hongkong:{ACCT}:wanchaifunds-archive", True),
    ("oss:PutBucket", f"acs:oss:cn-beijing:{ACCT}:wanchaifunds-archive", False),
    ("log:CreateProject", f"acs:log:cn-hongkong:{ACCT}:project/audit", True),
    ("log:CreateProject", f"acs:log:eu-central-1:{ACCT}:project/audit", False),
    # leaks denied whatever the resource string says
    ("ecs:CopySnapshot", f"acs:ecs:cn-hongkong:{ACCT}:snapshot/s-1", False),
    ("oss:PutBucketReplication", f"acs:oss:cn-hongkong:{ACCT}:wanchaifunds-archive", False),
    ("dm:SingleSendMail", f"acs:dm:cn-hangzhou:{ACCT}:*", False),
    ("cdn:AddCdnDomain", f"acs:cdn:*:{ACCT}:domain/x", False),
    # services the blueprint does not use: nothing
    ("rds:CreateDBInstance", f"acs:rds:cn-hongkong:{ACCT}:dbinstance/*", False),
    # global services, narrowed by name
    ("alidns:AddDomainRecord", f"acs:alidns:*:{ACCT}:domain/example.com.hk", True),
    ("alidns:AddDomainRecord", f"acs:alidns:*:{ACCT}:domain/other.com", False),
    ("ram:CreateRole", f"acs:ram:*:{ACCT}:role/hkmail-mail", True),
    ("ram:CreateRole", f"acs:ram:*:{ACCT}:role/admin", False),
    ("ram:AttachPolicyToUser", f"acs:ram:*:{ACCT}:user/ops", False),
    ("ram:PassRole", f"acs:ram:*:{ACCT}:role/hkmail-mail", True),
    # read-only listings the provider needs, anywhere
    ("ecs:DescribeRegions", "*", True),
]
CAM_CASES = [
    ("name/cvm:RunInstances", f"qcs::cvm:ap-hongkong:{UIN}:instance/*", True),
    ("name/cvm:RunInstances", f"qcs::cvm:ap-guangzhou:{UIN}:instance/*", False),
    ("name/cbs:CreateDisks", f"qcs::cbs:ap-hongkong:{UIN}:volume/*", True),
    ("name/cbs:CreateDisks", f"qcs::cbs:ap-singapore:{UIN}:volume/*", False),
    ("name/cos:PutBucket", f"qcs::cos:ap-hongkong:{UIN}:prefix//1250000000/archive", True),
    ("name/cos:PutBucket", f"qcs::cos:ap-shanghai:{UIN}:prefix//1250000000/archive", False),
    ("name/kms:CreateKey", f"qcs::kms:ap-hongkong:{UIN}:key/*", True),
    ("name/kms:CreateKey", f"qcs::kms:na-ashburn:{UIN}:key/*", False),
    ("name/ses:CreateEmailIdentity", f"qcs::ses:ap-hongkong:{UIN}:*", True),
    ("name/ses:CreateEmailIdentity", f"qcs::ses:ap-singapore:{UIN}:*", False),
    ("name/cls:CreateTopic", f"qcs::cls:ap-hongkong:{UIN}:topic/*", True),
    ("name/cls:CreateTopic", f"qcs::cls:ap-beijing:{UIN}:topic/*", False),
    ("name/cos:PutBucketReplication", f"qcs::cos:ap-hongkong:{UIN}:*", False),
    ("name/cbs:CopySnapshotCrossRegions", f"qcs::cbs:ap-hongkong:{UIN}:snapshot/*", False),
    ("name/cvm:SyncImages", f"qcs::cvm:ap-hongkong:{UIN}:image/*", False),
    ("name/cdb:CreateDBInstance", f"qcs::cdb:ap-hongkong:{UIN}:instanceId/*", False),
    ("name/dnspod:CreateRecord", f"qcs::dnspod::{UIN}:domain/example.com.hk", True),
    ("name/dnspod:CreateRecord", f"qcs::dnspod::{UIN}:domain/other.com", False),
    ("name/cam:CreateRole", f"qcs::cam::{UIN}:roleName/hkmail-mail", True),
    ("name/cam:CreateRole", f"qcs::cam::{UIN}:roleName/admin", False),
    ("name/cam:AttachUserPolicy", f"qcs::cam::{UIN}:uin/2", False),
]


@pytest.mark.parametrize(("action", "resource", "allowed"), RAM_CASES)
def test_ram_guardrail_decisions(action: str, resource: str, allowed: bool) -> None:
    assert g.evaluate(g.load(g.RAM_FILE), action, resource).allowed is allowed


@pytest.mark.parametrize(("action", "resource", "allowed"), CAM_CASES)
def test_cam_guardrail_decisions(action: str, resource: str, allowed: bool) -> None:
    assert g.evaluate(g.load(g.CAM_FILE), action, resource).allowed is allowed


def test_explicit_deny_beats_another_attached_allow() -> None:
    # an identity that also has a full-access policy still cannot replicate out of Hong Kong
    full = {"Version": "1", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    combined = {
        "Version": "1",
        "Statement": [*g.load(g.RAM_FILE)["Statement"], *full["Statement"]],
    }
    assert g.evaluate(combined, "ecs:RunInstances", f"acs:ecs:cn-hangzhou:{ACCT}:x").allowed
    decision = g.evaluate(combined, "oss:PutBucketReplication", f"acs:oss:cn-hongkong:{ACCT}:b")
    assert decision == g.Decision(False, "explicit deny")


def test_deploy_role_cannot_create_directmail_and_the_narrow_grant_can() -> None:
    """The DirectMail example cannot be deployed by the deploy role (explicit deny), and the
    sender grant is exactly the provider's three calls, for a separate identity."""
    deploy = g.load(g.RAM_FILE)
    assert g.evaluate(deploy, "dm:CreateDomain", "*") == g.Decision(False, "explicit deny")
    sender = g.load(g.DIRECTMAIL_FILE)
    assert g.ram_problems(sender) == []
    for action in ("dm:CreateDomain", "dm:DescDomain", "dm:DeleteDomain"):
        assert g.evaluate(sender, action, "*").allowed, action
    for action in ("dm:SingleSendMail", "dm:BatchSendMail", "dm:CreateMailAddress", "ecs:*"):
        assert not g.evaluate(sender, action, "*").allowed, action
    # on the same identity as the deploy policy the deny still wins: hence a separate identity
    both = {"Version": "1", "Statement": [*deploy["Statement"], *sender["Statement"]]}
    assert not g.evaluate(both, "dm:CreateDomain", "*").allowed
    readme = " ".join((REPO / "README.md").read_text(encoding="utf-8").split())
    assert "bootstrap/policies/alicloud-ram-directmail-sender.json" in readme
    assert "cannot deploy the DirectMail sender" in readme


def test_bootstrap_passes_the_gate() -> None:
    env = {k: v for k, v in os.environ.items() if k != "PULUMI_BACKEND_URL"}
    for stack in ("alicloud", "tencentcloud"):
        out = subprocess.run(
            [str(REPO / "scripts" / "gate"), "--project", str(BOOTSTRAP), "--stack", stack,
             "--format", "json"],
            capture_output=True, text=True, timeout=300, env=env,
        )  # fmt: skip
        assert out.returncode == 0, (stack, out.stdout, out.stderr)
        doc = json.loads(out.stdout)
        assert not [v for v in doc["violations"] if v["enforcementLevel"] == "mandatory"]
        # only the reminder that the bootstrap's own state is local at first
        assert {v["policyName"] for v in doc["violations"]} <= {"residency-state-declared"}
