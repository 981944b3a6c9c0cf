"""Issue 18: attestations reach residency-embedded-region through the one flow verdict
(flows.judge) for a host of unpublished region only, and never residency-resource-region (a
resource's own placement) nor residency-cross-region-copy (a copy to a region the value names),
judged by the real pack process started with an attestations file on file
(HKMAIL_ATTESTATIONS_FILE)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.policy_fixtures import STACK, Diag, PackClient, Res
from tests.support import REPO

HK_ALI = Res("pulumi:providers:alicloud", "hk-ali", {"region": "cn-hongkong", "version": "4.0.0"})
SAE = "alicloud:sae/application:Application"
ECS = "alicloud:ecs/instance:Instance"


def _attestation(id_: str, system: str, stacks: list[str]) -> dict[str, object]:
    return {
        "id": id_,
        "system": system,
        "stacks": stacks,
        "confirmedBy": "Example Vendor HK account manager",
        "document": "data processing addendum clause 4 (Hong Kong storage)",
        "confirmedOn": "2026-11-28",
        "requester": "it@harbourtrading.com.hk",
        "approver": "dpo@kowloonbazaar.hk",
        "approvedOn": "2026-12-01",
        "reason": "the vendor keeps what the classifier sends in Hong Kong",
        "reference": "DPA-2026-21: vendor confirmation of Hong Kong storage",
        "expires": "2027-11-30",
    }


@pytest.fixture(scope="module")
def attested(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PackClient]:
    """A pack whose attestations cover the DashScope host and, as widely as a glob can, every
    aliyuncs.com host, for this test's stack."""
    d: Path = tmp_path_factory.mktemp("attestations")
    doc = {
        "attestations": [
            _attestation("ATT-2026-101", "dashscope.aliyuncs.com", [STACK]),
            _attestation("ATT-2026-102", "*.aliyuncs.com", [STACK]),
        ]
    }
    (d / "attestations.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    shutil.copy(REPO / "policies" / "approvers.yaml", d / "approvers.yaml")
    client = PackClient(env={"HKMAIL_ATTESTATIONS_FILE": str(d / "attestations.yaml")})
    client.configure()
    yield client
    client.close()


@pytest.fixture(scope="module")
def plain() -> Iterator[PackClient]:
    """The pack with the repository's attestations (none covers these hosts or this stack)."""
    client = PackClient()
    client.configure()
    yield client
    client.close()


def residency(diags: list[Diag]) -> dict[str, list[tuple[str, str]]]:
    out: dict[str, list[tuple[str, str]]] = {}
    for d in diags:
        if d.policy.startswith("residency-"):
            # the pack puts the rule's description first; the finding is the last line
            out.setdefault(d.policy, []).append((d.level, d.message.splitlines()[-1]))
    return out


# hosts the host table places outside Hong Kong (endpoints.py: DashScope's Base URL overview)
BEIJING = "https://dashscope.aliyuncs.com/compatible-mode/v1"
VIRGINIA = "https://dashscope-us.aliyuncs.com/compatible-mode/v1"
# an MNS host without a region: a regional service whose region the table cannot tell
UNPUBLISHED = "https://1234567890.mns.aliyuncs.com/topics/results"


def classifier() -> Res:
    envs = [
        {"name": "OPENAI_BASE_URL", "value": BEIJING},
        {"name": "US_BASE_URL", "value": VIRGINIA},
        {"name": "RESULTS_TOPIC", "value": UNPUBLISHED},
        # a bare region id: no attestation names a region
        {"name": "ARCHIVE_ARN", "value": "acs:oss:cn-shanghai:1234567890:mail-archive"},
    ]
    props = {"appName": "c", "packageType": "Image", "replicas": 1, "envs": json.dumps(envs)}
    return Res(SAE, "classifier", props, provider=HK_ALI)


def test_only_a_host_of_unpublished_region_is_declared(attested: PackClient) -> None:
    """`*.aliyuncs.com` (and an exact entry for dashscope.aliyuncs.com) is on file: the MNS host
    whose region the table cannot tell is declared; the DashScope hosts the table places in
    Beijing and Virginia block like the region id beside them."""
    found = residency(attested.analyze(classifier()))
    assert sorted(found) == ["residency-embedded-region"], found
    declared = [m for level, m in found["residency-embedded-region"] if level == "advisory"]
    blocked = [m for level, m in found["residency-embedded-region"] if level == "mandatory"]
    assert len(declared) == 1, found
    assert declared[0].startswith("[declared: attestation ATT-2026-102]"), declared
    assert "envs[RESULTS_TOPIC]" in declared[0], declared
    assert "1234567890.mns.aliyuncs.com" in declared[0], declared
    assert "attested Hong Kong storage by Example Vendor HK account manager" in declared[0]
    assert len(blocked) == 3, found
    assert not any(m.startswith("[declared:") or "ATT-2026" in m for m in blocked), blocked
    by_var = {v: [m for m in blocked if f"envs[{v}]" in m] for v in
              ("OPENAI_BASE_URL", "US_BASE_URL", "ARCHIVE_ARN")}  # fmt: skip
    assert all(len(ms) == 1 for ms in by_var.values()), by_var
    assert "dashscope.aliyuncs.com (cn-beijing)" in by_var["OPENAI_BASE_URL"][0], by_var
    assert "dashscope-us.aliyuncs.com (us-east-1)" in by_var["US_BASE_URL"][0], by_var
    assert "region cn-shanghai" in by_var["ARCHIVE_ARN"][0], by_var


def test_without_the_attestation_the_same_host_blocks(plain: PackClient) -> None:
    found = residency(plain.analyze(classifier()))
    levels = sorted(level for level, _ in found["residency-embedded-region"])
    assert levels == ["mandatory"] * 4, found
    assert not any(m.startswith("[declared:") for _, m in found["residency-embedded-region"])


def test_no_attestation_declares_a_placement(attested: PackClient) -> None:
    """A zone outside Hong Kong stays a mandatory violation even with attestations on file for
    every aliyuncs.com host: the program places the resource, no vendor statement can move it;
    the rule's remediation says what to do instead."""
    vm = Res(
        ECS,
        "vm",
        {"instanceType": "ecs.g7.large", "availabilityZone": "cn-shanghai-b"},
        provider=HK_ALI,
    )
    found = residency(attested.analyze(vm))
    assert [level for level, _ in found["residency-resource-region"]] == ["mandatory"], found
    assert not any(m.startswith("[declared:") for ms in found.values() for _, m in ms), found
    rule = attested.rules["residency-resource-region"]
    assert "An attestation cannot cover a placement" in rule.remediation_steps, rule
    assert "policies/exemptions.yaml" in rule.remediation_steps, rule


def test_no_attestation_declares_a_copy_to_a_documented_region(attested: PackClient) -> None:
    """A cross-region copy's destination named by a host of a documented region (here the
    Beijing OSS endpoint, under the `*.aliyuncs.com` attestation on file) blocks like the region
    id itself: the program sends the copy to that region."""
    dts = Res(
        "alicloud:dts/synchronizationInstance:SynchronizationInstance",
        "sync",
        {
            "paymentType": "PayAsYouGo",
            "sourceEndpointEngineName": "MySQL",
            "sourceEndpointRegion": "cn-hongkong",
            "destinationEndpointEngineName": "MySQL",
            "destinationEndpointRegion": "oss-cn-beijing.aliyuncs.com",
            "instanceClass": "small",
        },
        provider=HK_ALI,
    )
    found = residency(attested.analyze(dts))
    assert [level for level, _ in found.get("residency-cross-region-copy", [])] == ["mandatory"], (
        found
    )
    assert not any(m.startswith("[declared:") for ms in found.values() for _, m in ms), found
    [(_, blocked)] = found["residency-cross-region-copy"]
    assert "oss-cn-beijing.aliyuncs.com" in blocked and "cn-beijing" in blocked, blocked
