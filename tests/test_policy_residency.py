"""Issue 13 residency behaviour of the pack, rule by rule, through its gRPC server: implied
placement (hosts, region groups, numeric ids, fail closed), encoded payloads, service defaults,
global edges and DirectMail reached indirectly, and the false positives that must stay away
(sources of copies into Hong Kong, free text, the built-in pulumi provider). Whole programs are in
tests/corpus (test_residency_corpus.py)."""

from __future__ import annotations

import base64
import gzip
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.policy_fixtures import UNKNOWN, Diag, PackClient, Res, secret

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "policies"))

from hkmail_policy import endpoints, regions
from hkmail_policy.coverage import is_source, placement_paths, service_defaults
from hkmail_policy.placement import is_free_text
from hkmail_policy.values import texts

HK_ALI = Res("pulumi:providers:alicloud", "hk-ali", {"region": "cn-hongkong", "version": "4.0.0"})
HK_TC = Res("pulumi:providers:tencentcloud", "hk-tc", {"region": "ap-hongkong"})
ECS = "alicloud:ecs/instance:Instance"
CVM = "tencentcloud:Instance/instance:Instance"


@pytest.fixture(scope="module")
def pack() -> Iterator[PackClient]:
    client = PackClient()
    client.configure()
    yield client
    client.close()


def ali(type_: str, props: dict[str, Any], name: str = "r") -> Res:
    return Res(type_, name, props, provider=HK_ALI)


def tc(type_: str, props: dict[str, Any], name: str = "r") -> Res:
    return Res(type_, name, props, provider=HK_TC)


ADVISORY = ("residency-read-elsewhere", "residency-unknown-recipient")


def residency(diags: list[Diag]) -> dict[str, list[str]]:
    """Mandatory residency findings by rule (advisory ones are checked for their level only)."""
    out: dict[str, list[str]] = {}
    for d in diags:
        if d.policy in ADVISORY:
            assert d.level == "advisory", d  # reported, never blocking (issue 18)
            continue
        if d.policy.startswith("residency-"):
            assert d.level == "mandatory", d
            out.setdefault(d.policy, []).append(d.message)
    return out


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def gz64(text: str) -> str:
    return base64.b64encode(gzip.compress(text.encode())).decode()


# --- building blocks ------------------------------------------------------------------------------


def test_texts_peels_base64_and_gzip_layers() -> None:
    plain = "#!/bin/sh\npostconf -e relayhost=[smtpdm.aliyun.com]:465\n"
    assert texts(plain) == (("", plain),)
    assert texts(b64(plain))[-1] == ("base64", plain)
    assert texts(gz64(plain))[-1] == ("gzip+base64", plain)
    assert texts(b64(b64(plain)))[-1] == ("base64+base64", plain)
    # ids and names that happen to be base64-alphabet are not turned into text
    assert texts("vsw-hk0000000000000001") == (("", "vsw-hk0000000000000001"),)


@pytest.mark.parametrize(
    ("text", "service", "kind", "region"),
    [
        ("relayhost = [smtpdm.aliyun.com]:465", "Alibaba DirectMail SMTP", "no-hk-service",
         "cn-hangzhou"),
        ("smtpdm-ap-southeast-1.aliyun.com", "Alibaba DirectMail SMTP", "no-hk-service",
         "ap-southeast-1"),
        ("https://dm.aliyuncs.com/?Action=SingleSendMail", "Alibaba DirectMail API",
         "no-hk-service", "cn-hangzhou"),
        ("[gz-smtp.qcloudmail.com]:465", "Tencent SES SMTP", "regional", "ap-guangzhou"),
        ("sg-smtp.qcloudmail.com", "Tencent SES SMTP", "regional", "ap-singapore"),
        ("smtp.qcloudmail.com", "Tencent SES SMTP", "regional", "ap-hongkong"),
        ("ossutil -e oss.aliyuncs.com", "OSS (legacy endpoint)", "regional", "cn-hangzhou"),
        ("b.oss-accelerate.aliyuncs.com", "OSS transfer acceleration", "global-edge", None),
        ("cos.accelerate.myqcloud.com", "COS global acceleration", "global-edge", None),
        ("service-x-1259649581.gz.apigw.tencentcs.com", "Tencent API Gateway", "regional",
         "ap-guangzhou"),
        ("service-x-1259649581.zz.apigw.tencentcs.com", "Tencent API Gateway", "regional", None),
        ("mail:directmail:ops@example.hk", "Alibaba DirectMail (MNS mail endpoint)",
         "no-hk-service", "cn-hangzhou"),
    ],
)  # fmt: skip
def test_host_table(text: str, service: str, kind: str, region: str | None) -> None:
    found = list(endpoints.mentions(text))
    assert len(found) == 1, found
    assert (found[0].service, found[0].kind, found[0].region) == (service, kind, region)


def test_region_hosts_of_hong_kong_are_not_in_the_way() -> None:
    for text in ("oss-cn-hongkong-internal.aliyuncs.com", "cos.ap-hongkong.myqcloud.com",
                 "mail.example.hk", "mxbiz1.qq.com"):  # fmt: skip
        assert [m for m in endpoints.mentions(text) if m.region != "ap-hongkong"] == [], text


def test_source_paths_and_free_text() -> None:
    assert is_source("sourceRegionId") and is_source("srcInfo.region")
    assert not is_source("destinationRegionId")
    # dropped records delivered elsewhere are a destination, even under a source object
    assert not is_source("sourceResource.esParam.dropCls.dropClsRegion")
    assert "sourceRegionId" not in placement_paths("alicloud:ecs/imageCopy:ImageCopy")
    assert is_free_text("tags.migrated-from") and is_free_text("description")
    assert is_free_text("vpcName") and not is_free_text("originHostName")
    assert not is_free_text("userData")


def test_service_defaults_table_has_the_documented_mainland_defaults() -> None:
    table = service_defaults()
    assert table["tencentcloud:Waf/logPostClsFlow:LogPostClsFlow"]["clsRegion"]["default"] == (
        "ap-shanghai"
    )
    assert table["tencentcloud:Cwp/licenseOrder:LicenseOrder"]["regionId"]["default"] == 1
    assert table["alicloud:dcdn/domain:Domain"]["certRegion"]["when"] == {"certType": "cas"}


def test_numeric_region_ids() -> None:
    assert regions.numeric_region_allowed(5, regions.DEFAULT_ALLOWED)
    assert not regions.numeric_region_allowed(1, regions.DEFAULT_ALLOWED)
    assert not regions.numeric_region_allowed(77, regions.DEFAULT_ALLOWED)


# --- class 1: placement implied -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("relay", "rule", "needle"),
    [
        ("[gz-smtp.qcloudmail.com]:465", "residency-embedded-region", "ap-guangzhou"),
        ("[sg-smtp.qcloudmail.com]:465", "residency-embedded-region", "ap-singapore"),
        ("[smtpdm.aliyun.com]:465", "residency-no-hk-service", "DirectMail"),
        ("[smtpdm-us-east-1.aliyun.com]:465", "residency-no-hk-service", "DirectMail"),
    ],
)
def test_relay_host_in_user_data(pack: PackClient, relay: str, rule: str, needle: str) -> None:
    user_data = f"#!/bin/sh\npostconf -e 'relayhost = {relay}'\n"
    found = residency(pack.analyze(ali(ECS, {"userData": user_data})))
    assert list(found) == [rule], found
    assert needle in found[rule][0] and "userData" in found[rule][0]


def test_hong_kong_relay_passes(pack: PackClient) -> None:
    user_data = "#!/bin/sh\npostconf -e 'relayhost = [smtp.qcloudmail.com]:465'\n"
    assert residency(pack.analyze(tc(CVM, {"userDataRaw": user_data}))) == {}


@pytest.mark.parametrize(
    ("value", "needle"),
    [
        ("China", "region group"),
        ("Asia-Pacific", "region group"),
        ("hongkong", "not recognisably a Hong Kong region"),
        ("cn-shanghai", "not an allowed region"),
    ],
)
def test_region_input_fails_closed(pack: PackClient, value: str, needle: str) -> None:
    bwp = ali("alicloud:cen/bandwidthPackage:BandwidthPackage", {"geographicRegionAId": value})
    found = residency(pack.analyze(bwp))
    assert list(found) == ["residency-resource-region"], found
    assert needle in found["residency-resource-region"][0]


def test_numeric_region_id_input(pack: PackClient) -> None:
    order = "tencentcloud:Cwp/licenseOrder:LicenseOrder"
    found = residency(pack.analyze(tc(order, {"regionId": 1})))
    assert "numeric region id 1 (ap-guangzhou)" in found["residency-resource-region"][0]
    assert residency(pack.analyze(tc(order, {"regionId": 5}))) == {}


def test_recognisable_hong_kong_values_pass_at_region_inputs(pack: PackClient) -> None:
    rules = [{"id": "a", "status": "Enabled", "destinationBucket": "qcs::cos:ap-hongkong::dr-125"}]
    bucket = tc("tencentcloud:Cos/bucket:Bucket", {"replicaRules": rules})
    assert "residency-cross-region-copy" not in residency(pack.analyze(bucket))
    rules[0]["destinationBucket"] = "qcs::cos:hongkong::dr-125"  # not a real region
    found = residency(pack.analyze(tc("tencentcloud:Cos/bucket:Bucket", {"replicaRules": rules})))
    assert "fails closed" in found["residency-cross-region-copy"][0]


def test_unknown_values_at_region_inputs_fail_closed(pack: PackClient) -> None:
    # class 3 in the pack: what is unknown before apply cannot be shown to be Hong Kong
    bwp = ali("alicloud:cen/bandwidthPackage:BandwidthPackage", {"geographicRegionAId": UNKNOWN})
    found = residency(pack.analyze(bwp))
    assert "not known before apply" in found["residency-resource-region"][0]
    # ... but only at a region-bearing input: an unknown id elsewhere is not placement
    vsw = ali("alicloud:vpc/switch:Switch", {"vpcId": UNKNOWN, "zoneId": "cn-hongkong-b"})
    assert residency(pack.analyze(vsw)) == {}


# --- class 2: encoded payloads ------------------------------------------------------------------


@pytest.mark.parametrize("encode", [b64, gz64, lambda t: b64(b64(t))])
def test_encoded_user_data_is_read(pack: PackClient, encode: Any) -> None:
    script = "#!/bin/sh\ncoscli sync /var/mail cos://b-125/ -e cos.ap-shanghai.myqcloud.com\n"
    found = residency(pack.analyze(tc(CVM, {"userData": encode(script)})))
    assert list(found) == ["residency-embedded-region"], found
    assert "ap-shanghai" in found["residency-embedded-region"][0]
    assert "-decoded content" in found["residency-embedded-region"][0]


def test_encoded_directmail_and_acceleration_hosts(pack: PackClient) -> None:
    found = residency(pack.analyze(ali(ECS, {"userData": gz64("relayhost=[smtpdm.aliyun.com]")})))
    # a service without a Hong Kong region, and (issue 25) a flow of all outgoing mail out
    assert sorted(found) == ["residency-mail-relay", "residency-no-hk-service"], found
    command = b64("ossutil cp -r /a oss://b/ -e oss-accelerate.aliyuncs.com")
    found = residency(
        pack.analyze(ali("alicloud:ecs/command:Command", {"commandContent": command}))
    )
    assert list(found) == ["residency-global-edge"], found


def test_encoded_hong_kong_only_payload_passes(pack: PackClient) -> None:
    script = "ossutil -e oss-cn-hongkong-internal.aliyuncs.com; relay [smtp.qcloudmail.com]:465"
    assert residency(pack.analyze(ali(ECS, {"userData": gz64(script)}))) == {}


# --- class 5: service defaults --------------------------------------------------------------------


def test_omitted_region_input_is_judged_on_the_service_default(pack: PackClient) -> None:
    flow = "tencentcloud:Waf/logPostClsFlow:LogPostClsFlow"
    found = residency(pack.analyze(tc(flow, {"logType": 1})))
    assert list(found) == ["residency-service-default"], found
    msg = found["residency-service-default"][0]
    assert "clsRegion is not set" in msg and "'ap-shanghai'" in msg and "default value" in msg
    assert residency(pack.analyze(tc(flow, {"clsRegion": "ap-hongkong"}))) == {}
    found = residency(pack.analyze(tc(flow, {"clsRegion": "ap-shanghai"})))
    assert list(found) == ["residency-resource-region"], found


def test_conditional_default_applies_only_under_its_condition(pack: PackClient) -> None:
    dcdn = "alicloud:dcdn/domain:Domain"  # global edge anyway; only the default rule is looked at
    with_cas = residency(pack.analyze(ali(dcdn, {"domainName": "w.example.hk", "certType": "cas"})))
    assert "cn-hangzhou" in with_cas["residency-service-default"][0]
    free = residency(pack.analyze(ali(dcdn, {"domainName": "w.example.hk", "certType": "free"})))
    assert "residency-service-default" not in free


def test_nested_default_in_a_present_object(pack: PackClient) -> None:
    cdn = "alicloud:cdn/domainNew:DomainNew"
    found = residency(pack.analyze(ali(cdn, {"certificateConfig": {"certType": "cas"}})))
    assert "certificateConfig.certRegion is not set" in found["residency-service-default"][0]
    assert "residency-service-default" not in residency(pack.analyze(ali(cdn, {"scope": "x"})))


# --- class 6: global edge, DirectMail reached indirectly ----------------------------------------


@pytest.mark.parametrize(
    ("res", "needle"),
    [
        (ali("alicloud:oss/bucket:Bucket", {"transferAcceleration": {"enabled": True}}),
         "transfer acceleration"),
        (ali("alicloud:oss/bucketTransferAcceleration:BucketTransferAcceleration",
             {"bucket": "b", "enabled": True}), "transfer acceleration"),
        (tc("tencentcloud:Cos/bucket:Bucket", {"accelerationEnable": True}), "global acceleration"),
        (tc("tencentcloud:Eip/instance:Instance", {"type": "AnycastEIP"}), "Anycast EIP"),
        (ali("alicloud:eipanycast/anycastEipAddress:AnycastEipAddress",
             {"serviceLocation": "international"}), "global edge"),
    ],
)  # fmt: skip
def test_global_edge_features(pack: PackClient, res: Res, needle: str) -> None:
    found = residency(pack.analyze(res))
    assert "residency-global-edge" in found, found
    assert needle in found["residency-global-edge"][0]


def test_edge_features_switched_off_pass(pack: PackClient) -> None:
    bucket = ali("alicloud:oss/bucket:Bucket", {"transferAcceleration": {"enabled": False}})
    assert "residency-global-edge" not in residency(pack.analyze(bucket))
    eip = tc("tencentcloud:Eip/instance:Instance", {"type": "EIP"})
    assert residency(pack.analyze(eip)) == {}


def test_notification_through_directmail(pack: PackClient) -> None:
    sub = "alicloud:mns/topicSubscription:TopicSubscription"
    found = residency(pack.analyze(ali(sub, {"endpoint": "mail:directmail:ops@example.hk"})))
    assert list(found) == ["residency-no-hk-service"], found
    assert residency(pack.analyze(ali(sub, {"endpoint": "https://hooks.example.hk/mns"}))) == {}


# --- false positives -----------------------------------------------------------------------------


def test_source_of_a_copy_into_hong_kong_is_not_placement(pack: PackClient) -> None:
    image = ali("alicloud:ecs/imageCopy:ImageCopy", {"sourceRegionId": "cn-shanghai"})
    assert residency(pack.analyze(image)) == {}
    dts = tc(
        "tencentcloud:Dts/migrateService:MigrateService",
        {"srcRegion": "ap-guangzhou", "dstRegion": "ap-hongkong"},
    )
    assert residency(pack.analyze(dts)) == {}
    dts.props["dstRegion"] = "ap-singapore"  # the destination is still judged
    found = residency(pack.analyze(dts))
    assert "ap-singapore" in found["residency-cross-region-copy"][0]


def test_free_text_is_not_placement(pack: PackClient) -> None:
    vpc = ali(
        "alicloud:vpc/network:Network",
        {
            "vpcName": "mail-was-cn-shanghai",
            "description": "replaces the cn-shanghai VPC",
            "tags": {"migrated-from": "oss-cn-hangzhou.aliyuncs.com"},
        },
    )
    assert residency(pack.analyze(vpc)) == {}


def test_trail_region_scope_is_not_placement(pack: PackClient) -> None:
    trail = ali(
        "alicloud:actiontrail/trail:Trail",
        {"trailRegion": "All", "slsProjectArn": "acs:log:cn-hongkong:1:project/audit"},
    )
    assert residency(pack.analyze(trail)) == {}


def test_builtin_pulumi_provider_is_regionless(pack: PackClient) -> None:
    assert residency(pack.analyze(Res("pulumi:providers:pulumi", "default", {}))) == {}


def test_hosts_that_receive_data_are_located_or_reported(pack: PackClient) -> None:
    fc = "alicloud:fc/v3Function:V3Function"

    def found(env: dict[str, str]) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for d in pack.analyze(ali(fc, {"handler": "i.h", "environmentVariables": env})):
            if d.policy.startswith("residency-"):
                out.setdefault(f"{d.policy}/{d.level}", []).append(d.message)
        return out

    vendor = found({"ALERT_WEBHOOK": "https://hooks.example-vendor.io/x"})
    assert list(vendor) == ["residency-unknown-recipient/advisory"], vendor
    assert "hooks.example-vendor.io" in vendor["residency-unknown-recipient/advisory"][0]
    ding = found({"ALERT_WEBHOOK": "https://oapi.dingtalk.com/robot/send?access_token=x"})
    assert list(ding) == ["residency-data-sent/mandatory"], ding
    assert "not published" in ding["residency-data-sent/mandatory"][0]
    # read-only hosts and a Hong Kong endpoint: nothing to report
    quiet = {
        "PIP_INDEX_URL": "https://mirrors.aliyun.com/pypi/simple/",
        "API_BASE_URL": "https://cn-hongkong.dashscope.aliyuncs.com/api/v1",
    }
    assert found(quiet) == {}
    beijing = found({"API_BASE_URL": "https://dashscope.aliyuncs.com/api/v1"})
    assert list(beijing) == ["residency-embedded-region/mandatory"], beijing
    assert "cn-beijing" in beijing["residency-embedded-region/mandatory"][0]


def test_unknown_hosts_in_every_environment_and_script_are_reported(pack: PackClient) -> None:
    """Issue 18 class 3: an environment variable of any name (the schema's environment inputs:
    maps and key/value lists) and a sending command in user data are destinations; a variable
    named for a read, a download and a located host are not reported."""

    def advisory(res: Res) -> list[str]:
        diags = pack.analyze(res)
        assert residency(diags) == {}, diags  # nothing mandatory in these
        return [d.message for d in diags if d.policy == "residency-unknown-recipient"]

    eci = "alicloud:eci/containerGroup:ContainerGroup"

    def container(env: list[dict[str, str]]) -> Res:
        return ali(eci, {"containers": [{"name": "app", "image": "app:1", "environmentVars": env}]})

    # a key/value list: the variable's name is its sibling `key`, and the name need not say
    # "webhook": any URL in the environment is where the code may send
    msgs = advisory(container([{"key": "ARCHIVE", "value": "https://ingest.partner.example/v1"}]))
    assert len(msgs) == 1 and "ingest.partner.example" in msgs[0], msgs
    assert "environment variable ARCHIVE" in msgs[0], msgs
    assert advisory(container([{"key": "MIRROR", "value": "https://pkgs.partner.example/"}])) == []
    hk = "https://oss-cn-hongkong.aliyuncs.com"
    assert advisory(container([{"key": "ARCHIVE", "value": hk}])) == []
    scf = tc("tencentcloud:Scf/function:Function", {"environment": {"OUT": "https://x.example/i"}})
    assert ["x.example" in m for m in advisory(scf)] == [True]
    # user data (base64): a POST to an unknown host is reported, a download from one is not
    vm = "alicloud:ecs/instance:Instance"
    post = "#!/bin/sh\ncurl -X POST -d @/var/log/mail.log https://logs.partner.example/in\n"
    msgs = advisory(ali(vm, {"instanceType": "ecs.g7.large", "userData": b64(post)}))
    assert len(msgs) == 1 and "logs.partner.example" in msgs[0], msgs
    assert "base64-decoded" in msgs[0], msgs
    get = "#!/bin/sh\ncurl -fsSL https://logs.partner.example/agent.sh -o /opt/agent.sh\n"
    assert advisory(ali(vm, {"instanceType": "ecs.g7.large", "userData": b64(get)})) == []


# A read word must be a whole word of the name (REPORT_URL is no "repo", CAPTURE_HOOK no "apt",
# RESOURCE_CALLBACK no "source"), and a sending word wins over any read word.
@pytest.mark.parametrize(
    ("var", "reported"),
    [
        ("REPORT_URL", True),
        ("REPORT_WEBHOOK", True),
        ("CAPTURE_HOOK", True),
        ("RESOURCE_CALLBACK", True),
        ("SOURCE_WEBHOOK", True),
        ("REPO_PUSH_URL", True),
        ("mirrorUploadEndpoint", True),
        ("NOTIFICATION_SOURCE", True),
        ("PIP_INDEX_URL", False),
        ("NPM_CONFIG_REGISTRY", False),
        ("imageRepo", False),
        ("DOWNLOAD_URL", False),
    ],
)
def test_environment_names_exempt_only_whole_read_words(
    pack: PackClient, var: str, reported: bool
) -> None:
    fc = "alicloud:fc/v3Function:V3Function"
    env = {var: "https://sink.partner.example/in"}
    diags = pack.analyze(ali(fc, {"handler": "i.h", "environmentVariables": env}))
    msgs = [d.message for d in diags if d.policy == "residency-unknown-recipient"]
    assert all(d.level == "advisory" for d in diags if d.policy.startswith("residency-")), diags
    assert len(msgs) == (1 if reported else 0), (var, diags)
    if reported:
        assert f"environment variable {var}" in msgs[0] and "sink.partner.example" in msgs[0], msgs


@pytest.mark.parametrize(
    ("script", "reported"),
    [
        ("tar cz /var/vmail | curl -T - https://drop.partner.example/u", True),
        ("cd /tmp && timeout 60 env A=1 curl -d @m.tgz https://drop.partner.example/u", True),
        ("tar cz /var/vmail | ssh -i /root/k u@drop.partner.example 'cat > m.tgz'", True),
        ("timeout 60 curl -fsSL https://drop.partner.example/a.sh -o /opt/a.sh", False),
    ],
)
def test_sending_parts_of_script_lines_are_reported(
    pack: PackClient, script: str, reported: bool
) -> None:
    """A sending command anywhere in a pipeline or chain, after wrappers (commands.py)."""
    res = ali(ECS, {"instanceType": "ecs.g7.large", "userData": b64(f"#!/bin/sh\n{script}\n")})
    diags = pack.analyze(res)
    assert residency(diags) == {}, diags
    msgs = [d.message for d in diags if d.policy == "residency-unknown-recipient"]
    assert len(msgs) == (1 if reported else 0), (script, diags)
    assert all("drop.partner.example" in m for m in msgs), msgs


# --- environments given as one JSON string (issue 18: SAE `envs`) ---------------------------------

SAE = "alicloud:sae/application:Application"


def sae(envs: Any) -> Res:
    return ali(SAE, {"appName": "a", "packageType": "Image", "replicas": 1, "envs": envs})


def by_rule(diags: list[Diag]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for d in diags:
        if d.policy.startswith("residency-"):
            out.setdefault(f"{d.policy}/{d.level}", []).append(d.message)
    return out


def test_json_environment_is_judged_variable_by_variable(pack: PackClient) -> None:
    """The SAE `envs` string is decoded (field_roles.json form `json`) and each variable judged as
    a map environment's is, the finding naming the variable; a value kept in a ConfigMap
    (`valueFrom`) and a variable named for a read are not reported."""
    envs = [
        {"name": "OPENAI_BASE_URL", "value": "https://dashscope.aliyuncs.com/compatible-mode/v1"},
        {"name": "ALERTS", "value": "https://oapi.dingtalk.com/robot/send?access_token=x"},
        {"name": "RESULTS", "value": "https://ingest.partner.example/v1"},
        {"name": "PIP_INDEX_URL", "value": "https://pkgs.partner.example/simple/"},
        {"name": "FROM_MAP", "valueFrom": {"configMapRef": {"configMapId": 7, "key": "k"}}},
    ]
    found = by_rule(pack.analyze(sae(json.dumps(envs))))
    assert sorted(found) == [
        "residency-data-sent/mandatory",
        "residency-embedded-region/mandatory",
        "residency-unknown-recipient/advisory",
    ], found
    [beijing] = found["residency-embedded-region/mandatory"]
    assert "envs[OPENAI_BASE_URL] = " in beijing and "cn-beijing" in beijing, beijing
    [ding] = found["residency-data-sent/mandatory"]
    assert "envs[ALERTS]" in ding and "oapi.dingtalk.com" in ding, ding
    [unknown] = found["residency-unknown-recipient/advisory"]
    assert "environment variable RESULTS" in unknown and "ingest.partner.example" in unknown
    assert "pkgs.partner.example" not in unknown, unknown
    # the compliant twin: Hong Kong endpoint, the unknown host only in a read-named variable
    quiet = [
        {"name": "OPENAI_BASE_URL", "value": "https://cn-hongkong.dashscope.aliyuncs.com/v1"},
        {"name": "PIP_INDEX_URL", "value": "https://pkgs.partner.example/simple/"},
    ]
    assert by_rule(pack.analyze(sae(json.dumps(quiet)))) == {}


@pytest.mark.parametrize(
    ("envs", "why"),
    [
        ('[{"name": "OUT", "value": "https://x.partner.example/"', "not valid JSON"),
        ('{"OUT": "https://x.partner.example/"}', "the JSON is an object, not an array"),
        ('[{"key": "OUT", "value": "https://x.partner.example/"}]', 'string "name"'),
        ('[{"name": "OUT", "value": {"url": "https://x.partner.example/"}}]', "not a string"),
        ('[{"name": "OUT"}]', 'has no "value"'),
    ],
)
def test_json_environment_not_of_the_documented_shape_fails_closed(
    pack: PackClient, envs: str, why: str
) -> None:
    """Not guessed at and not passed: reported (advisory) naming the input and the shape."""
    found = by_rule(pack.analyze(sae(envs)))
    assert list(found) == ["residency-unknown-recipient/advisory"], found
    [msg] = found["residency-unknown-recipient/advisory"]
    assert "envs is not of its documented shape" in msg and why in msg, msg
    assert 'a JSON array of objects {"name": <string>, "value": <string>}' in msg, msg


BEIJING_MODEL = "https://dashscope.aliyuncs.com/v1"


@pytest.mark.parametrize(
    ("envs", "where", "why"),
    [
        # a key SAE does not document: its value is read as text, and the key is reported
        ([{"name": "A", "value": "ok", "url": BEIJING_MODEL}], "envs", "keys outside"),
        # a valueFrom not of the documented {configMapRef: {configMapId, key}}
        (
            [{"name": "A", "valueFrom": {"configMapRef": {"configMapId": 7, "key": "k"},
                                         "url": BEIJING_MODEL}}],
            "envs", '"valueFrom" is not exactly {configMapRef: {...}}',
        ),
        # a host where a name belongs: no problem of shape, still read
        ([{"name": BEIJING_MODEL, "value": "x"}], "envs", None),
        # the documented valueFrom with a host in it: read too
        ([{"name": "A", "valueFrom": {"configMapRef": {"configMapId": 7, "key": BEIJING_MODEL}}}],
         "envs", None),
        # beside a variable that is read as one
        ([{"name": "B", "value": "https://cn-hongkong.dashscope.aliyuncs.com/v1"},
          {"name": "A", "value": "ok", "note": BEIJING_MODEL}], "envs", "keys outside"),
    ],
)  # fmt: skip
def test_json_environment_hosts_outside_the_values_are_read(
    pack: PackClient, envs: list[dict[str, Any]], where: str, why: str | None
) -> None:
    """Decoding drops nothing: a host in a name, an undocumented key or a valueFrom is judged as
    the whole string was before it was decoded (here: Beijing, blocked), and what is not of the
    documented shape is reported (advisory) naming the input and the shape."""
    found = by_rule(pack.analyze(sae(json.dumps(envs))))
    [blocked] = found.pop("residency-embedded-region/mandatory", [""])
    assert f"'r': {where} = " in blocked and "dashscope.aliyuncs.com (cn-beijing)" in blocked, (
        found,
        blocked,
    )
    if why is None:
        assert found == {}, found
        return
    assert list(found) == ["residency-unknown-recipient/advisory"], found
    [msg] = found["residency-unknown-recipient/advisory"]
    assert "envs is not of its documented shape" in msg and why in msg, msg
    assert '"valueFrom": {"configMapRef": {"configMapId": <number>, "key": <string>}}' in msg, msg


def test_json_environment_hosts_are_still_read_when_malformed(pack: PackClient) -> None:
    """A malformed string still has its text read as a whole: a Beijing host in it blocks."""
    found = by_rule(pack.analyze(sae('{"BASE": "https://dashscope.aliyuncs.com/v1"}')))
    assert sorted(found) == [
        "residency-embedded-region/mandatory",
        "residency-unknown-recipient/advisory",
    ], found


def test_secret_json_environment_is_judged_without_showing_it(pack: PackClient) -> None:
    """A secret envs string is judged variable by variable, but its values, variable names and
    keys stay out of every message: a variable is named by its index (envs[#1])."""
    envs = json.dumps(
        [
            {"name": "HR_PAYROLL_FEED", "value": "https://dashscope.aliyuncs.com/v1?key=s3cr3t"},
            {"name": "ACME_RESULTS_SINK", "value": "https://ingest.partner.example/v1"},
            {"name": "ACME_ODD_ONE", "value": "x", "zedExtraKey": "1"},
        ]
    )
    diags = pack.analyze(sae(secret(envs)))
    found = by_rule(diags)
    assert sorted(found) == [
        "residency-embedded-region/mandatory",
        "residency-unknown-recipient/advisory",
    ], found
    [beijing] = found["residency-embedded-region/mandatory"]
    assert "envs[#0] = [secret]" in beijing, beijing
    advisories = found["residency-unknown-recipient/advisory"]
    assert any("(environment variable #1)" in m for m in advisories), advisories
    assert any("element 2 has keys outside name, value, valueFrom" in m for m in advisories)
    for d in diags:
        for hidden in ("s3cr3t", "HR_PAYROLL_FEED", "ACME_RESULTS_SINK", "ACME_ODD_ONE",
                       "zedExtraKey"):  # fmt: skip
            assert hidden not in d.message, (hidden, d.message)
