"""The Alibaba Cloud shape: Alidns in Hong Kong, and DirectMail only as a declared transfer."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from hkmail.components.dns_providers import ALIDNS, DNSPOD
from hkmail.errors import SpecErrors
from hkmail.records import Record
from hkmail.spec import DirectMailSender, read_stack
from program import run
from tests.conftest import stack_config
from tests.support import Registered, of_type, run_in_process

RECORD = "alicloud:dns/alidnsRecord:AlidnsRecord"
PROVIDER = "pulumi:providers:alicloud"


def run_config(config: dict[str, Any], stack: str = "test") -> list[Registered]:
    return run_in_process(lambda: run(config), stack=stack)


def test_alibaba_mail_stack_is_pinned_to_cn_hongkong() -> None:
    resources = run_config(stack_config("alibaba-mail"), "alibaba-mail")
    [provider] = of_type(resources, PROVIDER)
    assert provider.inputs["region"] == "cn-hongkong"
    custom = [r for r in resources if r.custom and r.type != PROVIDER]
    assert {r.provider.rsplit("::", 1)[0] for r in custom} == {provider.urn}
    [domain] = of_type(resources, "alicloud:dns/alidnsDomain:AlidnsDomain")
    assert domain.inputs["domainName"] == "pedderlaw.com.hk" and domain.protect
    records = of_type(resources, RECORD)
    mx = sorted(
        (int(r.inputs["priority"]), r.inputs["value"]) for r in records if r.inputs["type"] == "MX"
    )
    # Alidns: priority in its own field, host without the trailing dot.
    assert mx == [
        (5, "mx1.qiye.aliyun.com"),
        (10, "mx2.qiye.aliyun.com"),
        (15, "mx3.qiye.aliyun.com"),
    ]
    values = {(r.inputs["rr"], r.inputs["type"]): r.inputs["value"] for r in records}
    assert values[("@", "TXT")] == "v=spf1 include:spf.qiye.aliyun.com -all"
    assert values[("_dmarc", "TXT")] == (
        "v=DMARC1; p=reject; sp=reject; rua=mailto:dmarc@pedderlaw.com.hk; adkim=s"
    )
    assert values[("_submissions._tcp", "SRV")] == "0 1 465 smtp.qiye.aliyun.com"
    assert values[("mta-sts", "CNAME")] == "mta-sts.pedderlaw-static.com.hk"
    assert all(r.inputs["line"] == "default" for r in records)
    assert not of_type(resources, "alicloud:directmail/domain:Domain")


def test_directmail_is_a_declared_transfer_with_its_own_region() -> None:
    resources = run_config(stack_config("alibaba-directmail"), "alibaba-directmail")
    [dm] = of_type(resources, "alicloud:directmail/domain:Domain")
    assert dm.inputs["domainName"] == "news.kowloonbazaar.hk"
    providers = {r.urn: r for r in of_type(resources, PROVIDER)}
    assert {p.inputs["region"] for p in providers.values()} == {"cn-hongkong", "ap-southeast-1"}
    # The DirectMail domain goes through the ap-southeast-1 provider; nothing else does.
    assert providers[dm.provider.rsplit("::", 1)[0]].inputs["region"] == "ap-southeast-1"
    others = [r for r in resources if r.custom and r.type != PROVIDER and r is not dm]
    assert {providers[r.provider.rsplit("::", 1)[0]].inputs["region"] for r in others} == {
        "cn-hongkong"
    }
    [component] = of_type(resources, "hkmail:index:DirectMailDomain")
    assert dm.parent == component.urn


def test_directmail_plan_states_that_mail_leaves_hong_kong() -> None:
    from program import plan_stack

    _, sets = plan_stack(stack_config("alibaba-directmail"))
    [statement] = [n for n in sets["kowloonbazaar.hk"].notes if n.startswith("CROSS-BORDER")]
    assert "leaves Hong Kong for Singapore (Alibaba DirectMail region ap-southeast-1" in statement
    assert "transfer safeguard: PCPD Recommended Model Contractual Clauses" in statement
    assert "legal basis" not in statement and "EX-2026-001" in statement
    assert "Part 6A" in statement and "DPP1(3)" in statement


def _directmail_config(**cross_border: Any) -> dict[str, Any]:
    config = copy.deepcopy(stack_config("alibaba-directmail"))
    sender = config["hkmail:domains"][0]["sending"][0]
    if cross_border.pop("_remove", False):
        del sender["crossBorder"]
    else:
        sender["crossBorder"].update(cross_border)
    return config


def test_directmail_without_declaration_is_refused_and_offers_tencent_ses() -> None:
    with pytest.raises(SpecErrors) as info:
        read_stack(_directmail_config(_remove=True))
    [error] = info.value.errors
    assert error.field == "hkmail:domains[0].sending[0].crossBorder"
    message = str(error)
    assert "no Hong Kong region" in message and "cn-hangzhou, ap-southeast-1" in message
    assert "service: tencent-ses" in message and "ap-hongkong" in message


@pytest.mark.parametrize(
    ("change", "field", "allowed"),
    [
        ({"destinationRegion": "cn-hongkong"}, "destinationRegion", "cn-hangzhou | ap-southeast-1"),
        ({"transferSafeguard": "pdpo-s33"}, "transferSafeguard", "pcpd-model-clauses-2022"),
        ({"dataSubjects": ["consent"]}, "dataSubjects[0]", "new-purpose-consent"),
        ({"destinationCountry": "Australia"}, "destinationCountry", "Singapore"),
        ({"exemption": ""}, "exemption", "policies/exemptions.yaml"),
        ({"colour": "red"}, "colour", "unknown key"),
    ],
)
def test_bad_declarations_name_the_field(change: dict[str, Any], field: str, allowed: str) -> None:
    with pytest.raises(SpecErrors) as info:
        read_stack(_directmail_config(**change))
    [error] = info.value.errors
    assert error.field == f"hkmail:domains[0].sending[0].crossBorder.{field}"
    assert allowed in str(error)


@pytest.mark.parametrize("region", ["cn-hangzhou", "ap-southeast-1", "us-east-1", "eu-central-1"])
def test_gba_standard_contract_is_refused_for_every_directmail_destination(region: str) -> None:
    config = _directmail_config(destinationRegion=region, transferSafeguard="gba-standard-contract")
    del config["hkmail:domains"][0]["sending"][0]["crossBorder"]["destinationCountry"]
    with pytest.raises(SpecErrors) as info:
        read_stack(config)
    [error] = info.value.errors
    assert error.field == "hkmail:domains[0].sending[0].crossBorder.transferSafeguard"
    message = str(error)
    # the reason: the contract's scope, and that the destination is outside it
    assert "nine Mainland cities of the Greater Bay Area" in message
    assert f"region {region} is" in message and "cannot cover" in message
    # and what would be accepted instead
    assert "pcpd-model-clauses-2022 | processor-contract" in message


@pytest.mark.parametrize("safeguard", ["pcpd-model-clauses-2022", "processor-contract"])
def test_the_processor_safeguards_are_accepted(safeguard: str) -> None:
    spec = read_stack(_directmail_config(transferSafeguard=safeguard))
    [sender] = spec.domains[0].senders
    assert isinstance(sender, DirectMailSender)
    assert sender.cross_border.transfer_safeguard == safeguard
    assert sender.cross_border.data_subjects == ("transferee-notice", "direct-marketing-consent")


def test_the_old_legal_basis_key_is_refused_with_what_to_use_instead() -> None:
    config = _directmail_config()
    cross_border = config["hkmail:domains"][0]["sending"][0]["crossBorder"]
    del cross_border["transferSafeguard"]
    cross_border["legalBasis"] = "pcpd-model-clauses-2022"
    with pytest.raises(SpecErrors) as info:
        read_stack(config)
    [error] = info.value.errors
    assert error.field == "hkmail:domains[0].sending[0].crossBorder.legalBasis"
    assert "transferSafeguard" in str(error) and "s.33 is not in force" in str(error)


@pytest.mark.parametrize("where", ["legalBasis", "transferSafeguard", "dataSubjects"])
def test_data_subject_consent_is_explained_not_accepted_as_a_safeguard(where: str) -> None:
    config = _directmail_config()
    cross_border = config["hkmail:domains"][0]["sending"][0]["crossBorder"]
    if where == "dataSubjects":
        cross_border["dataSubjects"] = ["data-subject-consent"]
        field = "dataSubjects[0]"
    else:
        cross_border.pop("transferSafeguard")
        cross_border[where] = "data-subject-consent"
        field = where
    with pytest.raises(SpecErrors) as info:
        read_stack(config)
    [error] = info.value.errors
    assert error.field == f"hkmail:domains[0].sending[0].crossBorder.{field}"
    message = str(error)
    assert "never replaces the processor safeguards of DPP2(3)/DPP4(2)" in message
    for instead in ("new-purpose-consent (DPP3, only", "direct-marketing-consent (Part 6A"):
        assert instead in message


def test_ap_southeast_2_is_declared_as_the_united_states() -> None:
    config = _directmail_config(destinationRegion="ap-southeast-2")
    with pytest.raises(SpecErrors) as info:  # the stack still says Singapore
        read_stack(config)
    [error] = info.value.errors
    assert error.field.endswith("crossBorder.destinationCountry")
    assert "United States (formerly Sydney)" in str(error)
    config = _directmail_config(
        destinationRegion="ap-southeast-2", destinationCountry="United States"
    )
    [sender] = read_stack(config).domains[0].senders
    assert isinstance(sender, DirectMailSender)
    statement = sender.cross_border.statement("Alibaba DirectMail", sender.domain)
    assert "leaves Hong Kong for United States" in statement and "Sydney" in statement
    assert "Australia" not in statement


def _records_from(resources: list[Registered], type_: str, profile: Any, zone: str) -> set[str]:
    out = set()
    for r in of_type(resources, type_):
        inputs = dict(r.inputs)
        if inputs.get("domain", inputs.get("domainName")) == zone:
            record: Record = profile.from_inputs(zone, inputs)
            out.add(record.to_text())
    return out


def test_same_spec_gives_the_same_records_on_alidns_and_dnspod() -> None:
    domains = stack_config("tencent-exmail")["hkmail:domains"]
    on_dnspod = run_config(
        {
            "tencentcloud:region": "ap-hongkong",
            "hkmail:dnsProvider": "dnspod",
            "hkmail:domains": domains,
        }
    )
    on_alidns = run_config(
        {
            "alicloud:region": "cn-hongkong",
            "hkmail:dnsProvider": "alidns",
            "hkmail:domains": domains,
        }
    )
    for zone in ("harbourtrading.com.hk", "harbourtrading.hk"):
        dnspod = _records_from(on_dnspod, DNSPOD.record_type_token, DNSPOD, zone)
        alidns = _records_from(on_alidns, ALIDNS.record_type_token, ALIDNS, zone)
        assert dnspod and dnspod == alidns
    # Where they differ is in spelling only: DNSPod's line, trailing dots and field names.
    dnspod_mx = {
        r.inputs["value"]
        for r in of_type(on_dnspod, DNSPOD.record_type_token)
        if r.inputs["recordType"] == "MX"
    }
    alidns_mx = {
        r.inputs["value"]
        for r in of_type(on_alidns, ALIDNS.record_type_token)
        if r.inputs["type"] == "MX"
    }
    assert dnspod_mx == {h + "." for h in alidns_mx}


def test_alidns_free_plan_ttl_floor_and_mx_range() -> None:
    config = copy.deepcopy(stack_config("alibaba-mail"))
    config["hkmail:domains"][0].update(
        {
            "ttl": 300,
            "mail": {"suite": "custom", "mx": [{"host": "mx.pedderlaw.com.hk", "priority": 51}]},
        }
    )
    with pytest.raises(SpecErrors) as info:
        read_stack(config)
    messages = sorted(str(e) for e in info.value.errors)
    assert any(
        m.startswith("hkmail:domains[0].mail.mx[0].priority: 51") and "1 to 50" in m
        for m in messages
    )
    # Free Alidns: 600 on every Alibaba page, so below it is refused.
    assert any(m.startswith("hkmail:domains[0].ttl: 300") and "600 to 86400" in m for m in messages)
