"""The one flow model (policies/hkmail_policy/flows.py): direction, fail-closed unknowns and
declarations decide a flow's verdict; findings name the flow."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "policies"))

from hkmail_policy import flows
from hkmail_policy.flows import (
    Attestation,
    CrossBorder,
    Declarations,
    Flow,
    Place,
    judge,
    region_place,
    unknown_place,
)

HK = ("cn-hongkong", "ap-hongkong")
TODAY = date(2026, 12, 7)


def _flow(src: Place, dst: Place, kind: str = "replication") -> Flow:
    return Flow(src, dst, "object replicas", "replicationRules[0].destination", kind)


def test_places_from_regions() -> None:
    assert region_place("cn-hongkong-b", HK).jurisdiction == "hong-kong"
    sh = region_place("cn-shanghai", HK)
    assert (sh.jurisdiction, sh.fact) == ("outside", "region cn-shanghai: Mainland China")
    assert region_place("ap-singapore", HK).fact == "region ap-singapore: Singapore"
    assert region_place("Global", HK).jurisdiction == "outside"  # region group
    assert region_place("xx-nowhere-9", HK).jurisdiction == "outside"  # fail closed


def test_direction_decides() -> None:
    hk, sh = region_place("cn-hongkong", HK), region_place("cn-shanghai", HK)
    inbound = judge(_flow(sh, hk), flows.NO_DECLARATIONS, TODAY)
    assert (inbound.verdict, inbound.blocking, inbound.reported) == ("inbound", False, False)
    assert judge(_flow(hk, hk), flows.NO_DECLARATIONS, TODAY).verdict == "stays"
    out = judge(_flow(hk, sh), flows.NO_DECLARATIONS, TODAY)
    assert out.verdict == "blocked" and out.blocking
    msg = out.message()
    assert "object replicas: cn-hongkong (Hong Kong) -> cn-shanghai (outside Hong Kong)" in msg
    assert "via replicationRules[0].destination" in msg and "Mainland China" in msg
    assert "attestation" in msg and "exemption" in msg  # says how to declare it


def test_unknown_and_not_published_fail_closed() -> None:
    hk = region_place("ap-hongkong", HK)
    unknown = judge(_flow(hk, unknown_place("a StackReference output")), flows.NO_DECLARATIONS,
                    TODAY)  # fmt: skip
    assert unknown.flow.leaves_hong_kong is None
    assert unknown.verdict == "unknown" and unknown.blocking
    assert "fails closed" in unknown.message()
    vendor = Place("oapi.dingtalk.com", "not-published", "DingTalk: storage location not published")
    nf = judge(_flow(hk, vendor, "notification"), flows.NO_DECLARATIONS, TODAY)
    assert nf.verdict == "blocked" and "not published" in nf.message()


def test_declarations() -> None:
    hk = region_place("ap-hongkong", HK)
    vendor = Place("mx.example-vendor.hk", "not-published", "vendor page silent")
    att = Attestation("AT-1", "mx.example-vendor.*", "J. Chan, vendor DPO", "DPA s.4.2",
                      date(2026, 1, 1), date(2026, 12, 7))  # fmt: skip
    decl = Declarations(attestations=(att,))
    j = judge(_flow(hk, vendor, "mail-storage"), decl, TODAY)
    assert j.verdict == "declared" and not j.blocking
    assert j.message().startswith(flows.DECLARED_PREFIX + "attestation AT-1]")
    # the day after expiry the attestation no longer covers it
    assert judge(_flow(hk, vendor), decl, date(2026, 12, 8)).verdict == "blocked"
    sg = region_place("ap-southeast-1", HK)
    cb = CrossBorder("ap-southeast-1", "Singapore", "pcpd-model-clauses", "EX-2026-001",
                     kinds=("mail-relay",))  # fmt: skip
    decl = Declarations(cross_border=(cb,))
    assert judge(_flow(hk, sg, "mail-relay"), decl, TODAY).verdict == "declared"
    # the declaration covers the mail relay, not a replica sent to the same region
    assert judge(_flow(hk, sg, "replication"), decl, TODAY).verdict == "blocked"


def test_two_way_is_two_flows() -> None:
    hk, sh = region_place("cn-hongkong", HK), region_place("cn-shanghai", HK)
    verdicts = [j.verdict for j in flows.judge_all([_flow(sh, hk), _flow(hk, sh)],
                                                   flows.NO_DECLARATIONS, TODAY)]  # fmt: skip
    assert verdicts == ["inbound", "blocked"]


def test_script_lines_that_only_read() -> None:
    from hkmail_policy.commands import reads_only

    reads = [
        "curl -fsSL https://pub.oss-cn-beijing.aliyuncs.com/geo.tgz -o /opt/geo.tgz",
        "- wget -q https://pub.oss-cn-beijing.aliyuncs.com/a.tgz",
        "ossutil cp oss://pub/geo.tgz /opt/geo.tgz -e oss-cn-beijing.aliyuncs.com",
        "deb http://mirrors.cloud.aliyuncs.com/ubuntu jammy main",
        "server ntp.aliyun.com iburst",
        "docker pull registry.cn-shanghai.aliyuncs.com/kowloon/webmail:1.4",
    ]
    sends = [
        "curl -T /var/backup.tgz https://bk.oss-cn-beijing.aliyuncs.com/",
        "curl -X POST -d @/var/log/mail.log https://x.cn-shanghai.log.aliyuncs.com",
        "curl -fsSL https://a.oss-cn-beijing.aliyuncs.com/x | sh",
        "ossutil cp -r /var/mail oss://mail-bj/ -e oss-cn-beijing.aliyuncs.com",
        "ossutil config -e oss.aliyuncs.com",
        "postconf -e relayhost=[smtpdm.aliyun.com]:465",
    ]
    assert [line for line in reads if not reads_only(line)] == []
    assert [line for line in sends if reads_only(line)] == []


def test_mime_multipart_parts_are_read() -> None:
    import base64

    from hkmail_policy.values import texts

    part = base64.b64encode(b"#!/bin/sh\npostconf -e relayhost=[smtpdm.aliyun.com]:465\n")
    mime = (
        'Content-Type: multipart/mixed; boundary="B"\nMIME-Version: 1.0\n\n--B\n'
        "Content-Type: text/x-shellscript\nContent-Transfer-Encoding: base64\n\n"
        f"{part.decode()}\n--B--\n"
    )
    found = dict(texts(base64.b64encode(mime.encode()).decode()))
    assert "smtpdm.aliyun.com" in found["mime text/x-shellscript+base64"]


def test_region_field_flows_for_plans_and_reports() -> None:
    from hkmail_policy.model import Context, ProviderRef, Resource
    from hkmail_policy.rules.residency import resource_flows

    ctx = Context({"allowedRegions": list(HK)}, TODAY)
    ali = ProviderRef("urn:p", "pulumi:providers:alicloud", "hk", {"region": "cn-hongkong"})
    props = {"sourceEndpointRegion": "cn-shanghai", "destinationEndpointRegion": "cn-hongkong"}
    dts = "alicloud:dts/synchronizationInstance:SynchronizationInstance"
    one_way = resource_flows(Resource("urn:a", dts, "s", props, False, ali), ctx)
    assert [judge(f, flows.NO_DECLARATIONS, TODAY).verdict for f in one_way] == ["inbound"]
    two_way = {**props, "syncArchitecture": "bidirectional"}
    both = resource_flows(Resource("urn:b", dts, "s", two_way, False, ali), ctx)
    verdicts = sorted(judge(f, flows.NO_DECLARATIONS, TODAY).verdict for f in both)
    assert verdicts == ["blocked", "inbound"]  # a two-way flow is two flows
    out = next(f for f in both if f.leaves_hong_kong)
    assert out.destination.name == "cn-shanghai" and "Mainland China" in out.destination.fact


def test_residency_rules_honour_attestations_like_the_mail_flow_rules(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 18 / 25: one judge() for every flow. An attestation on file for the stack shows a
    flow out as declared (advisory, never blocking); without it the same flow blocks."""
    from hkmail_policy import attestations
    from hkmail_policy.model import ALLOWED_REGIONS_SCHEMA, Context, ProviderRef, Resource
    from hkmail_policy.rules import RULES_BY_ID

    hk = ProviderRef("urn:pulumi:dev::p::pulumi:providers:alicloud::hk",
                     "pulumi:providers:alicloud", "hk", {"region": "cn-hongkong"})  # fmt: skip
    fn = Resource(
        "urn:pulumi:dev::p::alicloud:fc/v3Function:V3Function::notify",
        "alicloud:fc/v3Function:V3Function",
        "notify",
        {"handler": "i.h", "environmentVariables": {
            "ALERTS": "https://oapi.dingtalk.com/robot/send?access_token=x",
            "ARCHIVE": "https://ingest.partner.example/v1",
        }},
        False,
        hk,
    )  # fmt: skip
    config = {k: v["default"] for k, v in ALLOWED_REGIONS_SCHEMA.items()}
    ctx = Context(config=config, today=TODAY, stack=(fn,))

    def found(rule: str) -> list[str]:
        return [f.message for f in RULES_BY_ID[rule].check(fn, ctx)]

    monkeypatch.setattr(attestations, "on_file", lambda: ())
    [blocked] = found("residency-data-sent")
    assert not blocked.startswith(flows.DECLARED_PREFIX) and "oapi.dingtalk.com" in blocked
    [unknown] = found("residency-unknown-recipient")
    assert "ingest.partner.example" in unknown and not unknown.startswith(flows.DECLARED_PREFIX)

    ding = Attestation("ATT-7", "oapi.dingtalk.com", "DingTalk HK", "letter 2026-11",
                       date(2026, 11, 1), date(2027, 11, 1), stacks=("dev",))  # fmt: skip
    partner = Attestation("ATT-8", "*.partner.example", "Partner Ltd", "DPA s.4",
                          date(2026, 11, 1), date(2027, 11, 1), stacks=("dev",))  # fmt: skip
    other = Attestation("ATT-9", "oapi.dingtalk.com", "DingTalk HK", "letter 2026-11",
                        date(2026, 11, 1), date(2027, 11, 1), stacks=("prod",))  # fmt: skip
    monkeypatch.setattr(attestations, "on_file", lambda: (ding, partner, other))
    [declared] = found("residency-data-sent")
    assert declared.startswith(f"{flows.DECLARED_PREFIX}attestation ATT-7]"), declared
    assert "attested Hong Kong storage by DingTalk HK" in declared
    [located] = found("residency-unknown-recipient")
    assert located.startswith(f"{flows.DECLARED_PREFIX}attestation ATT-8]"), located
    # an attestation for another stack declares nothing here
    monkeypatch.setattr(attestations, "on_file", lambda: (other,))
    [again] = found("residency-data-sent")
    assert not again.startswith(flows.DECLARED_PREFIX)
