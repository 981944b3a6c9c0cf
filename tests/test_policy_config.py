"""--policy-pack-config through Configure: allowed regions, enforcement levels, bad config."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, timedelta

import pytest

from tests.policy_fixtures import POLICIES, PackClient, PackError, Res

HK = Res("pulumi:providers:alicloud", "hk", {"region": "cn-hongkong"})
SZ_DISK = Res("alicloud:ecs/ecsDisk:EcsDisk", "d", {"zoneId": "cn-shenzhen-c"}, provider=HK)
CDN = Res("alicloud:cdn/domainNew:DomainNew", "cdn", {}, provider=HK)


@pytest.fixture(scope="module")
def pack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PackClient]:
    # lowering residency-global-edge needs an approved downgrade record (test_downgrades.py)
    tmp = tmp_path_factory.mktemp("dg")
    today = date.today()
    record = {
        "id": "DG-2026-001",
        "rule": "residency-global-edge",
        "level": "disabled",
        "requester": "ops@example.com",
        "approver": "dpo@example.com",
        "approvedOn": (today - timedelta(days=3)).isoformat(),
        "reason": "Testing the enforcement override through Configure.",
        "reference": "SEC-2001",
        "expires": (today + timedelta(days=30)).isoformat(),
    }
    (tmp / "downgrades.yaml").write_text(json.dumps({"downgrades": [record]}))
    (tmp / "approvers.yaml").write_text(json.dumps({"approvers": ["dpo@example.com"]}))
    client = PackClient(env={"HKMAIL_DOWNGRADES_FILE": str(tmp / "downgrades.yaml")})
    yield client
    client.close()


def levels(pack: PackClient, r: Res, policy: str) -> list[str]:
    return [d.level for d in pack.analyze(r) if d.policy == policy]


def test_defaults_block_shenzhen(pack: PackClient) -> None:
    pack.configure()
    assert levels(pack, SZ_DISK, "residency-resource-region") == ["mandatory"]


def test_allowed_regions_override(pack: PackClient) -> None:
    pack.configure(
        {"residency-resource-region": {"allowedRegions": ["cn-hongkong", "cn-shenzhen"]}}
    )
    assert levels(pack, SZ_DISK, "residency-resource-region") == []
    # other rules keep their own (default) setting
    sz_provider = Res("pulumi:providers:alicloud", "sz", {"region": "cn-shenzhen"})
    through_sz = Res("alicloud:vpc/network:Network", "sz-vpc", {}, provider=sz_provider)
    assert levels(pack, through_sz, "residency-provider-region") == ["mandatory"]


def test_enforcement_override_and_disable(pack: PackClient) -> None:
    pack.configure({"residency-global-edge": {"enforcementLevel": "advisory"}})
    assert levels(pack, CDN, "residency-global-edge") == ["advisory"]
    pack.configure({"residency-global-edge": {"enforcementLevel": "disabled"}})
    assert levels(pack, CDN, "residency-global-edge") == []
    pack.configure()
    assert levels(pack, CDN, "residency-global-edge") == ["mandatory"]


def test_dmarc_ramp_declared_in_config(pack: PackClient) -> None:
    rec = Res(
        "tencentcloud:Dnspod/record:Record",
        "dmarc",
        {"domain": "example.com", "subDomain": "_dmarc", "recordType": "TXT",
         "value": "v=DMARC1; p=none; rua=mailto:d@example.com"},
        provider=Res("pulumi:providers:tencentcloud", "hk", {"region": "ap-hongkong"}),
    )  # fmt: skip
    soon = (date.today() + timedelta(days=30)).isoformat()
    pack.configure({"mailauth-dmarc-enforced": {"noneRampUntil": {"example.com": soon}}})
    assert levels(pack, rec, "mailauth-dmarc-enforced") == []
    past = (date.today() - timedelta(days=2)).isoformat()
    pack.configure({"mailauth-dmarc-enforced": {"noneRampUntil": {"example.com": past}}})
    msgs = [d.message for d in pack.analyze(rec) if d.policy == "mailauth-dmarc-enforced"]
    assert len(msgs) == 1 and f"ramp for example.com ended on {past}" in msgs[0]
    far = (date.today() + timedelta(days=400)).isoformat()
    pack.configure({"mailauth-dmarc-enforced": {"noneRampUntil": {"example.com": far}}})
    msgs = [d.message for d in pack.analyze(rec) if d.policy == "mailauth-dmarc-enforced"]
    assert len(msgs) == 1 and "more than 180 days away" in msgs[0]
    pack.configure()


def test_example_config_file_through_the_gate_loader(pack: PackClient) -> None:
    from toolchain.gate.pack import load_policy_config, reconcile_config

    given = load_policy_config(POLICIES / "config.example.json")
    pack.process.configure(reconcile_config(pack.info.rules, {}, given, "example"))
    protect = Res("alicloud:kms/key:Key", "k", {}, provider=HK)
    assert levels(pack, protect, "durability-protect-data") == ["advisory"]
    pack.configure()


@pytest.mark.parametrize(
    ("config", "needle"),
    [
        ({"residency-resource-region": {"allowedRegion": ["cn-hongkong"]}}, "unknown setting"),
        ({"residency-resource-region": {"allowedRegions": "cn-hongkong"}}, "must be a list"),
        ({"residency-resource-region": {"allowedRegions": []}}, "at least 1"),
        ({"residency-resource-region": {"allowedRegions": ["HongKong"]}}, "does not match"),
        ({"residency-nonexistent": {"x": 1}}, "unknown policy"),
        ({"mailauth-dmarc-enforced": {"noneRampUntil": {"a.com": "soon"}}}, "not a date"),
    ],
)
def test_bad_config_is_rejected_by_the_pack(
    pack: PackClient, config: dict[str, dict[str, object]], needle: str
) -> None:
    # sent as given (no client-side schema check): the pack itself must refuse it
    raw = {k: {"enforcementLevel": "mandatory", "properties": v} for k, v in config.items()}
    with pytest.raises(PackError) as err:
        pack.configure_raw(raw)
    assert "failed Configure" in str(err.value)
    assert needle in str(err.value)
