"""Every rule of policies/ with passing and failing resources, through the pack's gRPC server."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from tests.policy_fixtures import UNKNOWN, Diag, PackClient, Res, secret

HK_ALI = Res("pulumi:providers:alicloud", "hk-ali", {"region": "cn-hongkong", "version": "4.0.0"})
HK_TC = Res("pulumi:providers:tencentcloud", "hk-tc", {"region": "ap-hongkong"})
KEY = "acs:kms:cn-hongkong:1234567890:key/key-hk-1"


@pytest.fixture(scope="module")
def pack() -> Iterator[PackClient]:
    client = PackClient()
    client.configure()
    yield client
    client.close()


def ali(type_: str, name: str, props: dict[str, Any], **kw: Any) -> Res:
    return Res(type_, name, props, provider=HK_ALI, **kw)


def tc(type_: str, name: str, props: dict[str, Any], **kw: Any) -> Res:
    return Res(type_, name, props, provider=HK_TC, **kw)


def of(diags: list[Diag], policy: str) -> list[Diag]:
    return [d for d in diags if d.policy == policy]


def one(diags: list[Diag], policy: str, *needles: str) -> Diag:
    """Exactly one mandatory finding of `policy`, whose message contains every needle."""
    found = of(diags, policy)
    assert len(found) == 1, [d.message for d in diags]
    assert found[0].level == "mandatory"
    for needle in needles:
        assert needle in found[0].message, found[0].message
    return found[0]


# --- metadata ------------------------------------------------------------------------------


def test_analyzer_info_lists_every_rule_with_its_metadata(pack: PackClient) -> None:
    assert pack.info.name == "hk-mail-residency"
    rules = pack.rules
    residency = [n for n in rules if n.startswith("residency-")]
    # The 7 placement rules, the flow rules of issue 18, the mail-flow rules (residency-mail-*)
    # and the notify rule.
    placement = {
        "residency-provider-region",
        "residency-resource-region",
        "residency-cross-region-copy",
        "residency-embedded-region",
        "residency-no-hk-service",
        "residency-global-edge",
        "residency-service-default",
    }
    # reads elsewhere and hosts of unknown location are reported, never blocking (issue 18)
    advisory_flows = {"residency-read-elsewhere", "residency-unknown-recipient"}
    flow_rules = {"residency-data-sent", *advisory_flows}
    assert placement | flow_rules | {"residency-mail-notify"} <= set(residency)
    assert all(n in placement | flow_rules or n.startswith("residency-mail-") for n in residency), (
        residency
    )
    for name, rule in rules.items():
        assert rule.description and rule.remediation_steps and rule.display_name
        assert rule.severity in ("low", "medium", "high", "critical"), name
        assert any(t.startswith(("PDPO", "ISO27001", "RFC", "HKMA")) for t in rule.tags), name
        assert not any("s33" in t.replace(".", "") for t in rule.tags)
    # residency-mail-aggregate-reports is advisory by default (see its description)
    for name in placement | {"residency-mail-notify", "residency-data-sent"}:
        assert rules[name].enforcement_level == "mandatory"
    for name in advisory_flows:
        assert rules[name].enforcement_level == "advisory"
    for name in (
        "residency-provider-region",
        "residency-resource-region",
        "residency-cross-region-copy",
        "residency-embedded-region",
    ):
        assert "allowedRegions" in rules[name].config_schema["properties"]
    assert rules["encryption-at-rest-kms"].kind == "stack"


# --- residency-provider-region ------------------------------------------------------------------


def test_explicit_hong_kong_providers_pass(pack: PackClient) -> None:
    assert pack.analyze(HK_ALI) == []
    assert pack.analyze(HK_TC) == []
    assert pack.analyze(Res("pulumi:providers:random", "default_4_16_0", {})) == []


def test_default_provider_is_a_violation_even_with_a_region(pack: PackClient) -> None:
    d = pack.analyze(Res("pulumi:providers:alicloud", "default_4_0_0", {"region": "cn-hongkong"}))
    one(d, "residency-provider-region", "default alicloud provider", "ALICLOUD_REGION")


def test_provider_without_region_falls_back_and_is_a_violation(pack: PackClient) -> None:
    tc = Res("pulumi:providers:tencentcloud", "tc", {"secretId": secret("x")})
    # the provider itself is judged through what is created with it (issue 18: reads only)
    assert of(pack.analyze(tc), "residency-provider-region") == []
    d = pack.analyze(Res("tencentcloud:Cos/bucket:Bucket", "b", {}, provider=tc))
    one(d, "residency-provider-region", "no explicit region", "ap-guangzhou")


def test_provider_in_another_region(pack: PackClient) -> None:
    sh = Res("pulumi:providers:alicloud", "sh", {"region": "cn-shanghai"})
    assert of(pack.analyze(sh), "residency-provider-region") == []
    d = pack.analyze(Res("alicloud:vpc/network:Network", "n", {}, provider=sh))
    one(d, "residency-provider-region", "region = 'cn-shanghai'", "outside Hong Kong")


def test_unreviewed_provider_package(pack: PackClient) -> None:
    d = pack.analyze(Res("pulumi:providers:aws", "aws", {"region": "ap-east-1"}))
    one(d, "residency-provider-region", "'aws' is not reviewed")


def test_resource_through_default_or_mainland_provider(pack: PackClient) -> None:
    default = Res("pulumi:providers:tencentcloud", "default_0_2_3", {})
    rec = Res("tencentcloud:Dnspod/record:Record", "mx", {"recordType": "MX"}, provider=default)
    d = pack.analyze(rec)
    found = of(d, "residency-provider-region")
    assert len(found) == 2  # default provider, and no region
    assert all("Dnspod/record:Record 'mx'" in f.message for f in found)
    gz = Res("pulumi:providers:tencentcloud", "gz", {"region": "ap-guangzhou"})
    d = pack.analyze(Res("tencentcloud:Cos/bucket:Bucket", "b", {}, provider=gz))
    one(d, "residency-provider-region", "its provider urn:pulumi:", "'ap-guangzhou'")


def test_resource_with_no_provider_reference_fails_closed(pack: PackClient) -> None:
    d = pack.analyze(Res("alicloud:dns/alidnsRecord:AlidnsRecord", "a", {"type": "A"}))
    one(d, "residency-provider-region", "names no provider")


def test_provider_inherited_through_a_component(pack: PackClient) -> None:
    # providers= on a component: the engine resolves it and sends the child's provider.
    comp = Res("hkmail:mail:Domain", "example.com")
    assert pack.analyze(comp) == []
    child = ali("alicloud:dns/alidnsRecord:AlidnsRecord", "spf", {"type": "A"}, parent=comp)
    assert of(pack.analyze(child), "residency-provider-region") == []
    sh = Res("pulumi:providers:alicloud", "sh", {"region": "cn-shanghai"})
    child.provider = sh
    one(pack.analyze(child), "residency-provider-region", "cn-shanghai")


def test_pipelined_requests_keep_each_resource_apart(pack: PackClient) -> None:
    # the gate pipelines Analyze calls; the pack serves them on several threads
    from toolchain.gate.pack import analyze_request

    zones = ["cn-hongkong-b", "cn-shanghai-a"] * 40
    res = [
        ali("alicloud:ecs/instance:Instance", f"vm{i}", {"availabilityZone": z})
        for i, z in enumerate(zones)
    ]
    futures = [
        pack.process.analyze_async(analyze_request(r.planned(), HK_ALI.planned())) for r in res
    ]
    for r, z, fut in zip(res, zones, futures, strict=True):
        msgs = [
            d.message
            for d in fut.result().diagnostics
            if d.policyName == "residency-resource-region"
        ]
        if z.startswith("cn-hongkong"):
            assert msgs == []
        else:
            assert len(msgs) == 1 and f"'{r.name}': availabilityZone = '{z}'" in msgs[0]


# --- residency-resource-region (generated map) --------------------------------------------------


def test_zone_of_hong_kong_passes_and_mainland_zone_fails(pack: PackClient) -> None:
    ok = ali("alicloud:ecs/instance:Instance", "mx", {"availabilityZone": "cn-hongkong-b"})
    assert of(pack.analyze(ok), "residency-resource-region") == []
    bad = ali("alicloud:ecs/instance:Instance", "mx", {"availabilityZone": "cn-hangzhou-h"})
    one(
        pack.analyze(bad),
        "residency-resource-region",
        "alicloud:ecs/instance:Instance 'mx'",
        "availabilityZone = 'cn-hangzhou-h'",
        "Allowed: cn-hongkong, ap-hongkong",
    )


def test_nested_zone_input(pack: PackClient) -> None:
    props = {"zoneMappings": [{"zoneId": "cn-hongkong-b"}, {"zoneId": "cn-shenzhen-c"}]}
    d = pack.analyze(ali("alicloud:alb/loadBalancer:LoadBalancer", "lb", props))
    one(d, "residency-resource-region", "zoneMappings[1].zoneId = 'cn-shenzhen-c'")


def test_tencent_zone_names_and_numeric_zone_ids(pack: PackClient) -> None:
    ok = tc("tencentcloud:Ckafka/instance:Instance", "k", {"zoneId": 300002, "zoneIds": [300003]})
    assert of(pack.analyze(ok), "residency-resource-region") == []
    bad = tc("tencentcloud:Ckafka/instance:Instance", "k", {"zoneId": 100003})
    one(pack.analyze(bad), "residency-resource-region", "zoneId = 100003", "numeric zone id")
    cbs = tc("tencentcloud:Cbs/storage:Storage", "d", {"availabilityZone": "ap-guangzhou-3"})
    one(pack.analyze(cbs), "residency-resource-region", "ap-guangzhou-3")
    cbs.props["availabilityZone"] = "ap-hongkong-2"
    assert of(pack.analyze(cbs), "residency-resource-region") == []


def test_unknown_region_value_fails_closed(pack: PackClient) -> None:
    # unknown before apply: it cannot be shown to be Hong Kong (issue 13, class 3)
    r = ali("alicloud:ecs/instance:Instance", "mx", {"availabilityZone": UNKNOWN})
    one(pack.analyze(r), "residency-resource-region", "not known before apply")


# --- residency-cross-region-copy ---------------------------------------------------------------


def test_snapshot_policy_copy_regions(pack: PackClient) -> None:
    props = {"targetCopyRegions": ["cn-hongkong", "cn-shanghai"], "enableCrossRegionCopy": True}
    d = pack.analyze(ali("alicloud:ecs/snapshotPolicy:SnapshotPolicy", "sp", props))
    one(d, "residency-cross-region-copy", "targetCopyRegions[1] = 'cn-shanghai'")
    props["targetCopyRegions"] = ["cn-hongkong"]
    d = pack.analyze(ali("alicloud:ecs/snapshotPolicy:SnapshotPolicy", "sp", props))
    assert of(d, "residency-cross-region-copy") == []


def test_oss_replication_destination_location(pack: PackClient) -> None:
    props = {
        "bucket": "mail-archive",
        "destination": {"bucket": "dr", "location": "oss-cn-hangzhou"},
    }
    res = ali("alicloud:oss/bucketReplication:BucketReplication", "rep", props)
    one(pack.analyze(res), "residency-cross-region-copy", "destination.location", "cn-hangzhou")
    props["destination"] = {"bucket": "dr", "location": "oss-cn-hongkong"}
    assert of(pack.analyze(res), "residency-cross-region-copy") == []


def test_cos_replica_rules(pack: PackClient) -> None:
    rule = {"id": "r1", "status": "Enabled", "destinationBucket": "qcs::cos:ap-guangzhou::dr-125"}
    bucket = tc("tencentcloud:Cos/bucket:Bucket", "archive-1250000000", {"replicaRules": [rule]})
    one(pack.analyze(bucket), "residency-cross-region-copy", "replicaRules[0].destinationBucket")
    rule["destinationBucket"] = "qcs::cos:ap-hongkong::dr-1250000000"
    assert of(pack.analyze(bucket), "residency-cross-region-copy") == []


# --- residency-embedded-region ------------------------------------------------------------------


def test_region_ids_embedded_in_values(pack: PackClient) -> None:
    prov = Res(
        "pulumi:providers:alicloud",
        "hk2",
        {"region": "cn-hongkong", "endpoints": [{"log": "xxx.cn-shanghai.log.aliyuncs.com"}]},
    )
    one(pack.analyze(prov), "residency-embedded-region", "endpoints[0].log", "cn-shanghai")
    origin = {"content": "cos.ap-shanghai.myqcloud.com", "note": "cos.ap-hongkong.myqcloud.com"}
    d = pack.analyze(tc("tencentcloud:Ses/template:Template", "t", origin))
    one(d, "residency-embedded-region", "content = 'cos.ap-shanghai.myqcloud.com'")
    clean = tc("tencentcloud:Ses/template:Template", "t", {"note": "ap-hongkong-2 oss-cn-hongkong"})
    assert of(pack.analyze(clean), "residency-embedded-region") == []


# --- residency-no-hk-service, residency-global-edge ----------------------------------------------


def test_directmail_has_no_hong_kong_region(pack: PackClient) -> None:
    dm = ali("alicloud:directmail/domain:Domain", "dm", {"domainName": "mail.example.com"})
    one(pack.analyze(dm), "residency-no-hk-service", "DirectMail")
    ses = tc("tencentcloud:Ses/domain:Domain", "ses", {"emailIdentity": "mail.example.com"})
    assert of(pack.analyze(ses), "residency-no-hk-service") == []


@pytest.mark.parametrize(
    "type_",
    ["alicloud:cdn/domainNew:DomainNew", "alicloud:ga/accelerator:Accelerator",
     "tencentcloud:Teo/zone:Zone", "tencentcloud:Cdn/domain:Domain"],
)  # fmt: skip
def test_global_edges(pack: PackClient, type_: str) -> None:
    res = Res(type_, "edge", {}, provider=HK_ALI if type_.startswith("ali") else HK_TC)
    one(pack.analyze(res), "residency-global-edge", f"{type_} 'edge'")


def test_regional_service_is_not_an_edge(pack: PackClient) -> None:
    lb = ali("alicloud:alb/loadBalancer:LoadBalancer", "lb", {})
    assert of(pack.analyze(lb), "residency-global-edge") == []


# --- encryption-at-rest-kms (stack) --------------------------------------------------------------


def test_disk_encryption(pack: PackClient) -> None:
    plain = ali("alicloud:ecs/ecsDisk:EcsDisk", "plain", {"size": 100}, protect=True)
    svc = ali("alicloud:ecs/ecsDisk:EcsDisk", "svc", {"encrypted": True}, protect=True)
    good = ali("alicloud:ecs/ecsDisk:EcsDisk", "good", {"encrypted": True, "kmsKeyId": KEY})
    far = ali(
        "alicloud:ecs/ecsDisk:EcsDisk", "far",
        {"encrypted": True, "kmsKeyId": "acs:kms:cn-hangzhou:1:key/k"},
    )  # fmt: skip
    d = of(pack.analyze_stack([plain, svc, good, far]), "encryption-at-rest-kms")
    by_urn = {x.urn: x for x in d}
    assert set(by_urn) == {plain.urn, svc.urn, far.urn}
    assert "encrypted = unset: encryption at rest is off" in by_urn[plain.urn].message
    assert "kmsKeyId = unset: no customer-managed KMS key" in by_urn[svc.urn].message
    assert "KMS key is in cn-hangzhou" in by_urn[far.urn].message
    assert all(x.level == "mandatory" for x in d)


def test_instance_data_disks_each_checked(pack: PackClient) -> None:
    disks = [{"encrypt": True, "kmsKeyId": "kms-1"}, {"encrypt": False}]
    cvm = tc("tencentcloud:Instance/instance:Instance", "mx", {"dataDisks": disks})
    d = of(pack.analyze_stack([cvm]), "encryption-at-rest-kms")
    assert len(d) == 1 and "dataDisks[1].encrypt = False" in d[0].message


def test_buckets_encrypted_inline_or_by_a_separate_resource(pack: PackClient) -> None:
    inline = ali(
        "alicloud:oss/bucket:Bucket", "inline",
        {"bucket": "a", "serverSideEncryptionRule": {"sseAlgorithm": "KMS", "kmsMasterKeyId": KEY}},
    )  # fmt: skip
    aes = ali(
        "alicloud:oss/bucket:Bucket", "aes",
        {"bucket": "b", "serverSideEncryptionRule": {"sseAlgorithm": "AES256"}},
    )  # fmt: skip
    linked = ali("alicloud:oss/bucket:Bucket", "linked", {"bucket": "c"})
    sse = ali(
        "alicloud:oss/bucketServerSideEncryption:BucketServerSideEncryption", "c-sse",
        {"bucket": "c", "sseAlgorithm": "KMS", "kmsMasterKeyId": KEY},
        property_dependencies={"bucket": [linked.urn]},
    )  # fmt: skip
    cos_ok = tc(
        "tencentcloud:Cos/bucket:Bucket", "cos-ok", {"encryptionAlgorithm": "KMS", "kmsId": "k-1"}
    )
    cos_bad = tc("tencentcloud:Cos/bucket:Bucket", "cos-bad", {"encryptionAlgorithm": "AES256"})
    d = of(
        pack.analyze_stack([inline, aes, linked, sse, cos_ok, cos_bad]), "encryption-at-rest-kms"
    )
    assert {x.urn for x in d} == {aes.urn, cos_bad.urn}, [x.message for x in d]
    assert any("serverSideEncryptionRule.sseAlgorithm = 'AES256'" in x.message for x in d)


def test_log_store_database_and_file_system(pack: PackClient) -> None:
    cmk = {"cmkKeyId": "k", "regionId": "cn-hongkong"}
    store = ali(
        "alicloud:log/store:Store",
        "mail-log",
        {"encryptConf": {"enable": True, "userCmkInfo": cmk}},
    )
    rds = ali("alicloud:rds/instance:Instance", "db", {"engine": "MySQL"})
    nas = ali("alicloud:nas/fileSystem:FileSystem", "fs", {"encryptType": 1})
    d = of(pack.analyze_stack([store, rds, nas]), "encryption-at-rest-kms")
    assert {x.urn for x in d} == {rds.urn, nas.urn}
    assert any("encryptType = 1" in x.message for x in d)


# --- exposure-bucket-public-access ---------------------------------------------------------------


def test_public_bucket_acls(pack: PackClient) -> None:
    oss = ali("alicloud:oss/bucket:Bucket", "pub", {"acl": "public-read"})
    one(pack.analyze(oss), "exposure-bucket-public-access", "acl = 'public-read'", "private")
    oss.props["acl"] = "private"
    assert of(pack.analyze(oss), "exposure-bucket-public-access") == []
    cos = tc("tencentcloud:Cos/bucket:Bucket", "pub", {"acl": "public-read-write"})
    one(pack.analyze(cos), "exposure-bucket-public-access", "public-read-write")
    body = "<AccessControlPolicy><Grantee><URI>http://cam.qcloud.com/groups/global/AllUsers"
    cos = tc("tencentcloud:Cos/bucket:Bucket", "pub", {"acl": "private", "aclBody": body})
    one(pack.analyze(cos), "exposure-bucket-public-access", "AllUsers")


def test_bucket_policy_allowing_anyone(pack: PackClient) -> None:
    stmt = '{"Statement":[{"Effect":"Allow","Principal":["*"],"Action":["oss:GetObject"]}]}'
    pol = ali("alicloud:oss/bucketPolicy:BucketPolicy", "p", {"bucket": "a", "policy": stmt})
    one(pack.analyze(pol), "exposure-bucket-public-access", "to anyone")
    named = stmt.replace('["*"]', '["1234567890"]')
    pol.props["policy"] = named
    assert of(pack.analyze(pol), "exposure-bucket-public-access") == []


# --- durability-protect-data -------------------------------------------------------------------


def test_data_bearing_resources_must_be_protected(pack: PackClient) -> None:
    key = ali("alicloud:kms/key:Key", "dkim", {"description": "k"})
    one(pack.analyze(key), "durability-protect-data", "not protected", "protect=True")
    key.protect = True
    assert of(pack.analyze(key), "durability-protect-data") == []
    record = ali("alicloud:dns/alidnsRecord:AlidnsRecord", "mx", {"type": "MX"})
    assert of(pack.analyze(record), "durability-protect-data") == []


# --- secrets-no-plaintext ---------------------------------------------------------------------

PEM = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n"


def test_plain_password_fails_and_secret_passes(pack: PackClient) -> None:
    inst = ali("alicloud:ecs/instance:Instance", "mx", {"password": "Hunter2-hunter2"})
    d = one(pack.analyze(inst), "secrets-no-plaintext", "password = [redacted, 15 chars]")
    assert "Hunter2" not in d.message
    inst.props["password"] = secret("Hunter2-hunter2")
    inst.props["kmsEncryptedPassword"] = "AQICAHh...ciphertext"
    inst.props["passwordInherit"] = False
    inst.props["httpTokens"] = "required"  # IMDSv2 mode, not a token
    assert of(pack.analyze(inst), "secrets-no-plaintext") == []


def test_private_key_in_plain_input_or_user_data(pack: PackClient) -> None:
    cert = ali("alicloud:cas/certificate:Certificate", "c", {"cert": "x", "key": PEM})
    one(pack.analyze(cert), "secrets-no-plaintext", "a PEM private key in a plain input")
    cert.props["key"] = secret(PEM)
    assert of(pack.analyze(cert), "secrets-no-plaintext") == []
    # user data is served by the metadata service: a key there fails even when secret
    ud = base64.b64encode(f"#cloud-config\nwrite_files:\n- content: |\n {PEM}".encode()).decode()
    inst = ali("alicloud:ecs/instance:Instance", "mx", {"userData": secret(ud)})
    one(pack.analyze(inst), "secrets-no-plaintext", "userData = [secret]", "metadata service")


def test_bare_dkim_private_key_in_user_data(pack: PackClient) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    der = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    body = base64.b64encode(der).decode()
    inst = tc("tencentcloud:Instance/instance:Instance", "mx", {"userDataRaw": f"echo {body} > k"})
    one(pack.analyze(inst), "secrets-no-plaintext", "base64 private key material")
    pub = base64.b64encode(
        key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    ).decode()
    inst.props["userDataRaw"] = f"#!/bin/sh\necho 'p={pub}'"
    assert of(pack.analyze(inst), "secrets-no-plaintext") == []


# --- mail authentication -------------------------------------------------------------------------


def _rsa_p(bits: int) -> str:
    pub = rsa.generate_private_key(public_exponent=65537, key_size=bits).public_key()
    der = pub.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode()


def dnspod(sub: str, value: str) -> Res:
    props = {"domain": "example.com", "subDomain": sub, "recordType": "TXT", "value": value}
    return tc("tencentcloud:Dnspod/record:Record", sub, props)


def alidns(rr: str, value: str) -> Res:
    props = {"domainName": "example.hk", "rr": rr, "type": "TXT", "value": value}
    return ali("alicloud:dns/alidnsRecord:AlidnsRecord", rr, props)


def test_dkim_key_size_is_measured(pack: PackClient) -> None:
    weak = dnspod("s1._domainkey", f"v=DKIM1; k=rsa; p={_rsa_p(1024)}")
    one(pack.analyze(weak), "mailauth-dkim-key-strength", "RSA key is 1024 bits", "2048")
    p = _rsa_p(2048)
    strong = alidns("s2._domainkey", f"v=DKIM1; k=rsa; p={p}")
    assert of(pack.analyze(strong), "mailauth-dkim-key-strength") == []
    # a 2048-bit key record split into 255-byte strings, as published
    text = f"v=DKIM1; k=rsa; p={p}"
    split = " ".join(f'"{text[i : i + 255]}"' for i in range(0, len(text), 255))
    assert of(pack.analyze(dnspod("s3._domainkey", split)), "mailauth-dkim-key-strength") == []
    ed = base64.b64encode(
        ed25519.Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    ).decode()
    assert (
        of(
            pack.analyze(dnspod("e1._domainkey", f"v=DKIM1; k=ed25519; p={ed}")),
            "mailauth-dkim-key-strength",
        )
        == []
    )
    garbage = dnspod("s4._domainkey", "v=DKIM1; k=rsa; p=AAAA")
    one(pack.analyze(garbage), "mailauth-dkim-key-strength", "not a DER RSA public key")


def test_spf_must_end_hard_or_soft(pack: PackClient) -> None:
    for ok in ("v=spf1 include:spf.mail.qq.com -all", "v=spf1 mx ~all"):
        assert of(pack.analyze(dnspod("@", ok)), "mailauth-spf-strict") == []
    one(
        pack.analyze(alidns("@", "v=spf1 include:spf.qiye.aliyun.com ?all")),
        "mailauth-spf-strict",
        "'?all'",
    )
    one(pack.analyze(dnspod("@", "v=spf1 +all")), "mailauth-spf-strict", "'+all'")
    one(
        pack.analyze(dnspod("@", "v=spf1 redirect=_spf.example.net")),
        "mailauth-spf-strict",
        "redirect=",
    )
    legacy = dnspod("@", "v=spf1 mx ?all")
    legacy.props["recordType"] = "SPF"  # the deprecated SPF RR type carries the same policy
    one(pack.analyze(legacy), "mailauth-spf-strict", "'?all'")
    # not SPF: other TXT records are left alone
    assert (
        of(pack.analyze(dnspod("@", "google-site-verification=abc")), "mailauth-spf-strict") == []
    )


def test_dmarc_enforced(pack: PackClient) -> None:
    ok = dnspod("_dmarc", "v=DMARC1; p=quarantine; rua=mailto:d@example.com")
    assert of(pack.analyze(ok), "mailauth-dmarc-enforced") == []
    none = dnspod("_dmarc", "v=DMARC1; p=none")
    one(pack.analyze(none), "mailauth-dmarc-enforced", "DMARC for example.com", "no ramp date")
    weak_sub = alidns("_dmarc", "v=DMARC1; p=reject; sp=none")
    one(pack.analyze(weak_sub), "mailauth-dmarc-enforced", "example.hk", "sp=none")
    # a dated ramp declared on the record itself (DNSPod / Alidns remark)
    soon = (date.today() + timedelta(days=100)).isoformat()
    ramp = dnspod("_dmarc", "v=DMARC1; p=none")
    ramp.props["remark"] = f"hk-mail dmarc-ramp-until={soon}"
    assert of(pack.analyze(ramp), "mailauth-dmarc-enforced") == []
    ramp.props["remark"] = "dmarc-ramp-until=2020-01-31"
    one(pack.analyze(ramp), "mailauth-dmarc-enforced", "ramp for example.com ended on 2020-01-31")
    missing = dnspod("_dmarc.lists", "v=DMARC1; rua=mailto:d@example.com")
    one(pack.analyze(missing), "mailauth-dmarc-enforced", "lists.example.com", "p=(missing)")
