"""Exemptions: valid ones downgrade to advisory `[exempt: id]`, expired ones block again, and a
bad exemptions file stops the pack from starting."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.policy_fixtures import STACK, PackClient, PackError, Res

REPO = Path(__file__).resolve().parent.parent

HK = Res("pulumi:providers:alicloud", "hk", {"region": "cn-hongkong"})
TODAY = date.today()
APPROVED = TODAY - timedelta(days=10)
APPROVERS = {"approvers": [{"address": "bob@example.com", "github": "bob"}]}


def entry(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "EX-2026-001",
        "rule": "residency-global-edge",
        "resources": {"stack": STACK, "types": ["alicloud:cdn/*"], "name": "mta-sts*"},
        "requester": "alice@example.com",
        "approver": "bob@example.com",
        "approvedOn": APPROVED.isoformat(),
        "reason": "Public MTA-STS policy file only; no personal data behind the CDN.",
        "reference": "SEC-1234",
        "expires": (TODAY + timedelta(days=60)).isoformat(),
    }
    base.update(over)
    return base


def write(tmp: Path, entries: list[Any]) -> Path:
    path = tmp / "exemptions.yaml"
    path.write_text(yaml.safe_dump({"exemptions": entries}))
    (tmp / "approvers.yaml").write_text(yaml.safe_dump(APPROVERS))
    return path


@pytest.fixture(scope="module")
def pack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PackClient]:
    path = write(
        tmp_path_factory.mktemp("ex"),
        [
            entry(),
            entry(
                id="EX-2025-009",
                rule=["residency-cross-region-copy", "residency-embedded-region"],
                resources={
                    "stack": STACK,
                    "types": "alicloud:oss/bucketReplication:BucketReplication",
                    "urn": f"urn:pulumi:{STACK}::hk-mail::alicloud:oss/bucketReplication:*::dr-*",
                },
                reason="Off-site copy in Singapore under PCPD model clauses with the processor.",
                reference="DPA-77: PCPD RMC signed 2025-01-10",
                approvedOn=(TODAY - timedelta(days=100)).isoformat(),
                expires=(TODAY - timedelta(days=1)).isoformat(),
            ),
            entry(
                id="EX-2026-002",
                rule="encryption-at-rest-kms",
                resources={
                    "stack": STACK,
                    "types": ["alicloud:ecs/ecsDisk:EcsDisk"],
                    "name": "scratch-*",
                },
                reason="Scratch disk for spam-filter model updates; holds no mail.",
                reference="SEC-1301",
            ),
        ],
    )
    client = PackClient(env={"HKMAIL_EXEMPTIONS_FILE": str(path)})
    client.configure()
    yield client
    client.close()


def test_valid_exemption_is_reported_as_exempt_advisory(pack: PackClient) -> None:
    cdn = Res("alicloud:cdn/domainNew:DomainNew", "mta-sts-example-com", {}, provider=HK)
    found = [d for d in pack.analyze(cdn) if d.policy == "residency-global-edge"]
    assert len(found) == 1
    assert found[0].level == "advisory"
    line = found[0].message.splitlines()[1]
    assert line.startswith("[exempt: EX-2026-001] alicloud:cdn/domainNew:DomainNew")
    assert "SEC-1234" in line and "bob@example.com" in line


def test_exemption_covers_only_its_selector_and_rule(pack: PackClient) -> None:
    other = Res("alicloud:cdn/domainNew:DomainNew", "static-assets", {}, provider=HK)
    found = [d for d in pack.analyze(other) if d.policy == "residency-global-edge"]
    assert [d.level for d in found] == ["mandatory"]
    assert not found[0].message.splitlines()[1].startswith("[exempt")


def test_exemption_of_a_stack_rule(pack: PackClient) -> None:
    scratch = Res("alicloud:ecs/ecsDisk:EcsDisk", "scratch-1", {"size": 20}, provider=HK)
    mail = Res("alicloud:ecs/ecsDisk:EcsDisk", "mail-1", {"size": 200}, provider=HK)
    found = {d.urn: d for d in pack.analyze_stack([scratch, mail])}
    assert found[scratch.urn].level == "advisory"
    assert found[scratch.urn].message.splitlines()[1].startswith("[exempt: EX-2026-002] ")
    assert found[mail.urn].level == "mandatory"


def test_expired_exemption_stops_applying(pack: PackClient) -> None:
    props = {"bucket": "mail", "destination": {"bucket": "dr", "location": "oss-ap-southeast-1"}}
    rep = Res("alicloud:oss/bucketReplication:BucketReplication", "dr-sg", props, provider=HK)
    found = [d for d in pack.analyze(rep) if d.policy == "residency-cross-region-copy"]
    assert [d.level for d in found] == ["mandatory"]
    expired = (TODAY - timedelta(days=1)).isoformat()
    assert f"[exemption expired: EX-2025-009 (expired {expired})]" in found[0].message


def test_one_exemption_covering_several_rules(pack: PackClient) -> None:
    # EX-2025-009 lists two rules: both findings on the matching resource are covered (expired)
    props = {
        "bucket": "mail",
        "destination": {"bucket": "dr", "location": "oss-ap-southeast-1"},
        "endpoint": "dr.ap-southeast-1.example",
    }
    rep = Res("alicloud:oss/bucketReplication:BucketReplication", "dr-sg", props, provider=HK)
    diags = pack.analyze(rep)
    for rule in ("residency-cross-region-copy", "residency-embedded-region"):
        found = [d for d in diags if d.policy == rule]
        assert len(found) == 1 and "[exemption expired: EX-2025-009" in found[0].message, rule


@pytest.mark.parametrize(
    ("entries", "needle"),
    [
        # the bad inputs, each named by entry and field (the rest: test_approvals.py)
        (
            [entry(approver="Alice+DPO@example.com")],
            "exemptions[0] (EX-2026-001): approver: Alice+DPO@example.com is the requester",
        ),
        ([entry(rule="residency-typo")], "rule: unknown rule 'residency-typo'"),
        ([entry(expiry="2027-01-01")], "expiry: unknown field (did you mean 'expires'?)"),
        (
            [entry(resources={"stack": STACK, "types": ["*"]})],
            "resources.types: '*' does not name a package",
        ),
        (
            [entry(resources={"stack": STACK, "types": ["x:y"], "urn": "urn:pulumi:*::*::x"})],
            "resources.urn: 'urn:pulumi:*::*::x' is wider than stack 'test'",
        ),
        ([entry(), entry()], "exemptions[1] (EX-2026-001): id: used twice"),
    ],
)
def test_bad_exemptions_file_stops_the_pack(
    tmp_path: Path, entries: list[Any], needle: str
) -> None:
    path = write(tmp_path, entries)
    with pytest.raises(PackError) as err:
        PackClient(env={"HKMAIL_EXEMPTIONS_FILE": str(path)})
    assert "the policy pack failed to start" in str(err.value)
    assert needle in str(err.value)


def test_a_finding_names_the_exemption_that_did_not_match(pack: PackClient) -> None:
    # EX-2026-001 covers residency-global-edge for mta-sts* only: another CDN domain is told why
    other = Res("alicloud:cdn/domainNew:DomainNew", "static-assets", {}, provider=HK)
    (found,) = [d for d in pack.analyze(other) if d.policy == "residency-global-edge"]
    assert (
        "[not exempt: EX-2026-001 covers residency-global-edge but not this resource: name "
        "'static-assets' does not match 'mta-sts*']" in found.message
    )


def test_an_exemption_of_another_stack_does_not_apply(tmp_path: Path) -> None:
    path = write(tmp_path, [entry(resources={"stack": "prod", "types": ["alicloud:cdn/*"]})])
    client = PackClient(env={"HKMAIL_EXEMPTIONS_FILE": str(path)})
    try:
        client.configure()
        cdn = Res("alicloud:cdn/domainNew:DomainNew", "mta-sts-example-com", {}, provider=HK)
        (found,) = [d for d in client.analyze(cdn) if d.policy == "residency-global-edge"]
        assert found.level == "mandatory"
        assert "the resource is in stack 'test', the exemption in stack 'prod'" in found.message
    finally:
        client.close()


def test_the_committed_exemptions_file_loads() -> None:
    client = PackClient()  # the repo's policies/exemptions.yaml
    rules = (REPO / "policies" / "hkmail_policy" / "rules").glob("*.py")
    declared = sum(len(re.findall(r"^\s+id=\"", p.read_text(), re.M)) for p in rules)
    try:
        assert len(client.info.rules) == declared  # every rule of the pack, none lost on start
    finally:
        client.close()
