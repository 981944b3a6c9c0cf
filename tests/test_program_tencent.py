"""The Pulumi program on the Tencent example stacks, under Pulumi's mocks."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pulumi
import pytest

from hkmail.records.mtasts import policy_for
from program import run
from tests.conftest import stack_config
from tests.support import REPO, Registered, Run, of_type, run_program

RECORD = "tencentcloud:Dnspod/record:Record"
PROVIDER = "pulumi:providers:tencentcloud"


def run_stack(name: str, into: Run | None = None, **overrides: Any) -> list[Registered]:
    config = {**stack_config(name), **overrides}
    return run_program(lambda: run(config), stack=name, run=into).resources


def records_of(resources: list[Registered], domain: str) -> dict[tuple[str, str], list[Any]]:
    out: dict[tuple[str, str], list[Any]] = {}
    for r in of_type(resources, RECORD):
        if r.inputs["domain"] == domain:
            value = (
                (int(r.inputs["mx"]), r.inputs["value"]) if "mx" in r.inputs else r.inputs["value"]
            )
            out.setdefault((r.inputs["subDomain"], r.inputs["recordType"]), []).append(value)
    return out


def test_exmail_stack_resources_regions_and_records() -> None:
    resources = run_stack("tencent-exmail")
    [provider] = of_type(resources, PROVIDER)
    assert provider.inputs["region"] == "ap-hongkong"
    provider_ref = f"{provider.urn}::{provider.name}-id"
    custom = [r for r in resources if r.custom and r.type != PROVIDER]
    assert custom, "the stack registers cloud resources"
    # Every cloud resource goes through the one Hong Kong provider, inherited via components.
    assert {r.provider for r in custom} == {provider_ref}
    assert {r.type for r in custom} == {RECORD, "tencentcloud:Dnspod/domainInstance:DomainInstance"}
    assert {r.type for r in resources if not r.custom} == {
        "hkmail:index:MailDomain",
        "hkmail:index:DnspodZone",
    }
    # Zones are protected: deleting one would take the domain's mail routing with it.
    zones = of_type(resources, "tencentcloud:Dnspod/domainInstance:DomainInstance")
    assert {z.inputs["domain"] for z in zones} == {"harbourtrading.com.hk", "harbourtrading.hk"}
    assert all(z.protect for z in zones)

    recs = records_of(resources, "harbourtrading.com.hk")
    assert sorted(recs[("@", "MX")]) == [(5, "mxbiz1.qq.com."), (10, "mxbiz2.qq.com.")]
    assert recs[("@", "TXT")] == ["v=spf1 include:spf.mail.qq.com -all"]
    assert recs[("_dmarc", "TXT")] == [
        "v=DMARC1; p=quarantine; sp=reject; rua=mailto:dmarc-reports@harbourtrading.com.hk"
    ]
    policy = policy_for("enforce", ["mxbiz1.qq.com", "mxbiz2.qq.com"], 604800)
    assert recs[("_mta-sts", "TXT")] == [f"v=STSv1; id={policy.policy_id}"]
    assert recs[("_submissions._tcp", "SRV")] == ["0 1 465 smtp.exmail.qq.com."]
    assert recs[("exmail._domainkey", "TXT")][0].startswith("v=DKIM1; k=rsa; p=MIIB")
    assert all(r.inputs["recordLine"] == "默认" for r in of_type(resources, RECORD))
    assert all(int(r.inputs["ttl"]) == 600 for r in of_type(resources, RECORD))
    # Records hang under their zone component, which hangs under the domain component.
    zone_urns = {r.urn for r in resources if r.type == "hkmail:index:DnspodZone"}
    assert {r.parent for r in of_type(resources, RECORD)} <= zone_urns

    parked = records_of(resources, "harbourtrading.hk")
    assert parked == {
        ("@", "TXT"): ["v=spf1 -all"],
        ("_dmarc", "TXT"): ["v=DMARC1; p=reject; sp=reject; adkim=s; aspf=s"],
    }


def test_ses_stack_creates_the_identity_in_hong_kong_and_publishes_its_dkim_key() -> None:
    resources = run_stack("tencent-ses")
    [provider] = of_type(resources, PROVIDER)
    assert provider.inputs["region"] == "ap-hongkong"
    [identity] = of_type(resources, "tencentcloud:Ses/domain:Domain")
    assert identity.inputs["emailIdentity"] == "notify.lantauretail.hk"
    assert identity.provider.startswith(provider.urn)
    recs = records_of(resources, "lantauretail.hk")
    assert recs[("notify", "TXT")] == ["v=spf1 include:qcloudmail.com -all"]
    # The DKIM record's value is the one SES returned (the mocks return this key).
    assert recs[("qcloud._domainkey.notify", "TXT")] == ["v=DKIM1; k=rsa; p=QUJD"]
    assert recs[("@", "TXT")] == ["v=spf1 ip4:203.0.113.25 -all"]
    assert recs[("hk2026._domainkey", "TXT")] == [
        "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
    ]
    assert all(int(r.inputs["ttl"]) == 300 for r in of_type(resources, RECORD))
    # p=none is a dated ramp: the end date rides on the record for reviewers and the policy pack.
    [dmarc] = [r for r in of_type(resources, RECORD) if r.inputs["subDomain"] == "_dmarc"]
    assert dmarc.inputs["remark"] == "dmarc-ramp-until=2027-03-31"


def test_a_malformed_dkim_value_from_the_cloud_is_not_published() -> None:
    # In a fresh interpreter: a failed Pulumi run leaves tasks behind in the runtime's globals.
    code = (
        "from program import run\n"
        "from tests.conftest import stack_config\n"
        "from tests.support import run_in_process\n"
        "run_in_process(lambda: run(stack_config('tencent-ses')), ses_dkim='v=DKIM1; p=\u4f8b')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert done.returncode != 0
    assert "RecordError" in done.stderr and "must be ASCII" in done.stderr


@pytest.mark.parametrize(
    ("key", "value", "field"),
    [
        ("tencentcloud:region", "ap-guangzhou", "tencentcloud:region"),
        ("hkmail:dnsProvider", "route53", "hkmail:dnsProvider"),
    ],
)
def test_bad_config_registers_nothing(key: str, value: str, field: str) -> None:
    seen = Run()
    assert run_stack("tencent-exmail", seen)  # the same harness sees a valid stack's resources
    seen = Run()
    with pytest.raises(pulumi.RunError, match=field) as info:
        run_stack("tencent-exmail", seen, **{key: value})
    assert "allowed:" in str(info.value)
    assert seen.resources == []
