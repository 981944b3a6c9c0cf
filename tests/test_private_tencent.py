"""TencentMailServer under Pulumi's mocks: placement, encryption, protection, the firewall, the
role's reach, and that no secret is ever sent to the engine unmarked.

The harness records every RegisterResource request as the engine would receive it (the raw
protobuf struct, where a Pulumi secret is wrapped in the secret signature) so the plaintext scan
sees exactly what would reach the state, including the component's registered outputs.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pulumi
import pytest

from hkmail.errors import SpecErrors
from tests.support import (
    BACKUP_PASSWORD,
    DKIM_PEM,
    HASHES,
    NEEDLES,
    RELAY_PASSWORD,
    SERVER_PREFIX,
    SSH_KEY,
    Run,
    children_of,
    plaintext_hits,
    private_args,
    run_program,
    secret_count,
    unwrap_secret,
)
from tests.support import MOCK_PUBLIC_IP as PUBLIC_IP

# ------------------------------------------------------------------------------------------------
# Tencent
# ------------------------------------------------------------------------------------------------


def tencent_run(preview: bool = False, run: Run | None = None, **changes: Any) -> Run:
    import tencentcloud_iac_pulumi as tencentcloud

    from hkmail.components.private_tencent import TencentMailServer

    def program() -> None:
        provider = tencentcloud.Provider("tc-hk", region="ap-hongkong")
        server = TencentMailServer(
            "mx",
            private_args("tencentcloud", **changes),
            pulumi.ResourceOptions(providers=[provider]),
        )
        pulumi.export("ptr", server.ptr_record)

    return run_program(program, preview=preview, run=run)


@pytest.fixture(scope="module", params=[False, True], ids=["up", "preview"])
def tc(request: pytest.FixtureRequest) -> Run:
    return tencent_run(preview=request.param)


DATA_BEARING_TC = {
    "tencentcloud:Kms/key:Key",
    "tencentcloud:Cbs/storage:Storage",
    "tencentcloud:Cos/bucket:Bucket",
    "tencentcloud:Cls/logset:Logset",
    "tencentcloud:Cls/topic:Topic",
    "tencentcloud:Ssm/secret:Secret",
    "tencentcloud:Ssm/secretVersion:SecretVersion",
}


def test_tc_component_type_and_children_use_the_given_provider(tc: Run) -> None:
    comp, provider, children = children_of(
        tc, "hkmail:index:TencentMailServer", "pulumi:providers:tencentcloud"
    )
    assert provider.inputs["region"] == "ap-hongkong"
    assert len(children) >= 20
    for r in children:
        assert r.parent == comp.urn, r.name
        # The explicit Hong Kong provider, never a default one.
        assert r.provider == f"{provider.urn}::{provider.name}-id", (r.type, r.provider)


def test_tc_everything_is_in_hong_kong(tc: Run) -> None:
    assert (
        tc.one("tencentcloud:Subnet/instance:Instance").inputs["availabilityZone"]
        == "ap-hongkong-2"
    )
    assert (
        tc.one("tencentcloud:Instance/instance:Instance").inputs["availabilityZone"]
        == "ap-hongkong-2"
    )
    assert tc.one("tencentcloud:Cbs/storage:Storage").inputs["availabilityZone"] == "ap-hongkong-2"
    track = tc.one("tencentcloud:Audit/track:Track").inputs["storage"]
    assert track["storageType"] == "cls" and track["storageRegion"] == "ap-hongkong"
    assert "replicaRules" not in tc.one("tencentcloud:Cos/bucket:Bucket").inputs


def test_tc_disks_bucket_and_secrets_use_the_customer_key(tc: Run) -> None:
    key_id = "mx-cmk-id"
    disk = tc.one("tencentcloud:Cbs/storage:Storage").inputs
    assert disk["encrypt"] is True and disk["kmsKeyId"] == key_id
    bucket = tc.one("tencentcloud:Cos/bucket:Bucket").inputs
    assert bucket["encryptionAlgorithm"] == "KMS" and bucket["kmsId"] == key_id
    assert bucket["versioningEnable"] is True and bucket["acl"] == "private"
    assert bucket["bucket"] == "hkmail-archive-1250000000"
    for secret in tc.of("tencentcloud:Ssm/secret:Secret"):
        assert secret.inputs["kmsKeyId"] == key_id
    assert tc.one("tencentcloud:Kms/key:Key").inputs["keyRotationEnabled"] is True


def test_tc_bucket_policy_denies_deleting_the_journal_to_everyone(tc: Run) -> None:
    """No object lock on COS here: a bucket policy denies every principal (the instance role, a
    stolen key) deleting journal objects; restic's backup/ prefix is left to the role."""
    policy = tc.one("tencentcloud:Cos/bucketPolicy:BucketPolicy")
    assert (policy.protect, policy.retain_on_delete) == (True, True)
    assert policy.inputs["bucket"] == "hkmail-archive-1250000000"
    assert json.loads(policy.inputs["policy"]) == {
        "version": "2.0",
        "statement": [
            {
                "principal": {"qcs": ["qcs::cam::anyone:anyone"]},
                "effect": "deny",
                "action": ["name/cos:DeleteObject", "name/cos:DeleteMultipleObjects"],
                "resource": [
                    f"qcs::cos:ap-hongkong:uid/1250000000:hkmail-archive-1250000000/{prefix}*"
                    for prefix in ("journal/", "status/journal-spool/", "drills/")
                ],
            }
        ],
    }


def test_tc_data_bearing_resources_are_protected_and_retained(tc: Run) -> None:
    seen = set()
    for r in tc.resources:
        if r.type in DATA_BEARING_TC:
            assert (r.protect, r.retain_on_delete) == (True, True), r.name
            seen.add(r.type)
    assert seen == DATA_BEARING_TC
    # ... and the rest is not: a replaceable instance must stay replaceable.
    assert not tc.one("tencentcloud:Instance/instance:Instance").protect


def test_tc_snapshots_stay_in_region(tc: Run) -> None:
    policy = tc.one("tencentcloud:Cbs/snapshotPolicy:SnapshotPolicy").inputs
    assert policy["retentionDays"] == 30
    assert not any("region" in k.lower() or "copy" in k.lower() for k in policy)
    attach = tc.one("tencentcloud:Cbs/snapshotPolicyAttachment:SnapshotPolicyAttachment").inputs
    assert attach["storageId"] == "mx-data-id"


def test_tc_security_group_opens_only_the_mail_ports(tc: Run) -> None:
    rules = tc.one("tencentcloud:Security/groupRuleSet:GroupRuleSet").inputs
    ingress = [(r["action"], r["protocol"], r["port"], r["cidrBlock"]) for r in rules["ingresses"]]
    assert ingress == [
        ("ACCEPT", "TCP", "25", "0.0.0.0/0"),
        ("ACCEPT", "TCP", "465", "0.0.0.0/0"),
        ("ACCEPT", "TCP", "587", "0.0.0.0/0"),
        ("ACCEPT", "TCP", "993", "0.0.0.0/0"),
        ("ACCEPT", "TCP", "443", "0.0.0.0/0"),
        ("ACCEPT", "TCP", "80", "0.0.0.0/0"),
        ("ACCEPT", "TCP", "22", "203.0.113.0/24"),
        ("DROP", "ALL", "ALL", "0.0.0.0/0"),
    ]
    egress = [(r["action"], r["protocol"], r["port"]) for r in rules["egresses"]]
    assert egress == [
        ("ACCEPT", "TCP", "465"),
        ("ACCEPT", "TCP", "443"),
        ("ACCEPT", "TCP", "80"),
        ("ACCEPT", "UDP", "53"),
        ("ACCEPT", "TCP", "53"),
        ("ACCEPT", "UDP", "123"),
        ("DROP", "ALL", "ALL"),
    ]
    assert not any(r[1] == "TCP" and r[2] == "25" for r in egress)


def test_tc_instance_role_reads_only_its_secrets(tc: Run) -> None:
    role = tc.one("tencentcloud:Cam/role:Role").inputs
    assert role["name"] == f"{SERVER_PREFIX}-mail"
    assert json.loads(role["document"])["statement"][0]["principal"] == {
        "service": ["cvm.qcloud.com"]
    }
    doc = json.loads(tc.one("tencentcloud:Cam/policy:Policy").inputs["document"])
    statements = {tuple(s["action"]): s["resource"] for s in doc["statement"]}
    assert statements == {
        ("ssm:GetSecretValue",): [
            f"qcs::ssm:ap-hongkong:uin/100012345678:secret/creatorUin/100012345678/{n}"
            for n in (
                f"{SERVER_PREFIX}-dkim",
                f"{SERVER_PREFIX}-mailboxes",
                f"{SERVER_PREFIX}-relay",
                f"{SERVER_PREFIX}-backup",
            )
        ],
        ("kms:Decrypt", "kms:GenerateDataKey"): [
            "qcs::kms:ap-hongkong:uin/100012345678:key/mx-cmk-id"
        ],
        # hkmail-logship: uploads to the server-log topic only, found by its name.
        ("cls:UploadLog",): ["qcs::cls:ap-hongkong:uin/100012345678:topic/mx-server-log-id"],
        ("cls:DescribeTopics",): ["*"],
        # The journal: written and read back, never deleted or listed.
        ("name/cos:PutObject", "name/cos:HeadObject", "name/cos:GetObject"): [
            "qcs::cos:ap-hongkong:uid/1250000000:hkmail-archive-1250000000/journal/*"
        ],
        # The spool status the uploader publishes: a new object each time, put only.
        ("name/cos:PutObject",): [
            "qcs::cos:ap-hongkong:uid/1250000000:hkmail-archive-1250000000/status/journal-spool/*"
        ],
        # The restic backup: its own prefix only, where it also lists and prunes.
        (
            "name/cos:GetBucket",
            "name/cos:PutObject",
            "name/cos:HeadObject",
            "name/cos:GetObject",
            "name/cos:DeleteObject",
        ): ["qcs::cos:ap-hongkong:uid/1250000000:hkmail-archive-1250000000/backup/*"],
    }
    assert (
        tc.one("tencentcloud:Instance/instance:Instance").inputs["camRoleName"]
        == f"{SERVER_PREFIX}-mail"
    )


def test_tc_server_log_topic_and_the_shipper_finds_it_by_name(tc: Run) -> None:
    """hkmail-logship's CLS topic: in the stack's logset, Hong Kong (the provider's region), the
    audit topic's retention, protected and retained; the user data names logset and topic (the
    id exists only after apply)."""
    topics = {t.inputs["topicName"]: t for t in tc.of("tencentcloud:Cls/topic:Topic")}
    server, audit = topics[f"{SERVER_PREFIX}-mail-server"], topics[f"{SERVER_PREFIX}-mail-audit"]
    assert server.inputs["logsetId"] == audit.inputs["logsetId"]
    assert server.inputs["period"] == audit.inputs["period"]
    assert server.inputs["storageType"] == "hot"
    index = tc.one("tencentcloud:Cls/index:Index").inputs
    assert index["topicId"] == "mx-server-log-id" and index["status"] is True
    fields = {kv["key"] for kv in index["rule"]["keyValue"]["keyValues"]}
    assert fields == {"source", "host", "severity", "message"}
    text = tc.one("tencentcloud:Instance/instance:Instance").inputs["userDataRaw"]
    assert '"kind": "cls"' in text and f'"topic": "{SERVER_PREFIX}-mail-server"' in text, text
    assert f'"logset": "{SERVER_PREFIX}-mail-audit"' in text


def test_tc_secrets_are_stored_and_never_plain(tc: Run) -> None:
    versions = tc.of("tencentcloud:Ssm/secretVersion:SecretVersion")
    assert sorted(v.inputs["versionId"] for v in versions) == ["v1"] * 4
    for v in versions:
        assert secret_count(v.raw.get("secretString")) == 1, v.name
    hits = [h for r in tc.resources for h in plaintext_hits(r.raw, NEEDLES, r.name)]
    hits += [h for o in tc.outputs for h in plaintext_hits(o, NEEDLES, "outputs")]
    assert hits == []


def test_tc_secret_payloads_are_what_the_boot_script_reads(tc: Run) -> None:
    # Unwrapped in memory only: the stored values are the formats hkmail-fetch-secrets parses.
    values = {
        v.name: unwrap_secret(v.inputs["secretString"])
        for v in tc.of("tencentcloud:Ssm/secretVersion:SecretVersion")
    }
    assert values == {
        f"mx-{SERVER_PREFIX}-dkim-v1": DKIM_PEM,
        f"mx-{SERVER_PREFIX}-mailboxes-v1": json.dumps(HASHES, sort_keys=True),
        f"mx-{SERVER_PREFIX}-relay-v1": json.dumps(
            {"password": RELAY_PASSWORD, "username": "noreply@example.com"}, sort_keys=True
        ),
        f"mx-{SERVER_PREFIX}-backup-v1": BACKUP_PASSWORD,
    }


def test_tc_instance_boots_the_mail_server(tc: Run) -> None:
    cvm = tc.one("tencentcloud:Instance/instance:Instance").inputs
    ud = cvm["userDataRaw"]
    assert ud.startswith("#cloud-config\n")
    assert f"{SERVER_PREFIX}-dkim" in ud and "/dev/vdb" in ud
    # The backup's password is fetched at boot by name; its value is never in the user-data.
    assert f"{SERVER_PREFIX}-backup" in ud and BACKUP_PASSWORD not in ud
    assert cvm["allocatePublicIp"] is True and cvm["disableApiTermination"] is True


def test_tc_outputs_ptr_and_user_data_hash(tc: Run) -> None:
    comp_outputs = next(o for o in tc.outputs if "ptrRecord" in o)
    assert len(comp_outputs["userDataSha256"]) == 64
    assert comp_outputs["ptrRecord"] == "10.113.0.203.in-addr.arpa. PTR mail.example.com."
    assert comp_outputs["publicIp"] == PUBLIC_IP


def test_tc_bad_args_register_nothing() -> None:
    run = Run([], [])
    with pytest.raises(SpecErrors) as err:
        tencent_run(run=run, zone="ap-guangzhou-3", colour="blue")
    text = str(err.value)
    assert "hkmail:index:TencentMailServer mail.example.com has 2 errors" in text
    assert "args.zone" in text and "ap-hongkong-2 | ap-hongkong-3" in text
    assert "args.colour" in text and "unknown key" in text
    assert run.resources == []
    with pytest.raises(SpecErrors) as err:
        tencent_run(run=run, retention_days=365)
    # checked with the other inputs, under the component's own input path
    assert "args.retentionDays: 365 is not valid" in str(err.value)
    assert "no COS object-lock" in str(err.value) and "(alicloud only)" in str(err.value)
    assert [r.type for r in run.resources if not r.type.startswith("pulumi:providers:")] == []


def test_tc_missing_secrets_are_named_before_anything_is_registered() -> None:
    run = Run([], [])
    args = private_args("tencentcloud")
    del args["relay_password"], args["dkim_private_key"]
    from hkmail.components.private_tencent import TencentMailServer

    with pytest.raises(SpecErrors) as err:
        run_program(lambda: TencentMailServer("mx", args), run=run)  # type: ignore[arg-type]
    assert [e.field for e in err.value.errors] == ["args.dkimPrivateKey", "args.relayPassword"]
    assert run.resources == []


def test_args_are_checked_together_with_field_names() -> None:
    from hkmail.components.inputs import server_args
    from hkmail.mailserver.deploy import validate

    args = dataclasses.replace(
        server_args(private_args("tencentcloud"), "tencentcloud"),
        account_id="me",
        app_id="",
        archive_bucket="Bad_Bucket",
        mailbox_password_hashes={"alice": "x", "carol": "y"},
        data_disk_gb=5,
        log_retention_days=4000,
    )
    with pytest.raises(SpecErrors) as err:
        validate(args, "tencentcloud")
    fields = [e.field for e in err.value.errors]
    assert fields == [
        "privateServer.accountId",
        "privateServer.mailboxPasswordHashes",  # bob has no hash
        "privateServer.mailboxPasswordHashes",  # carol is no user
        "privateServer.archiveBucket",
        "privateServer.appId",
        "privateServer.dataDiskGb",
        "privateServer.logRetentionDays",
    ]
    assert "['bob']" in str(err.value) and "['carol']" in str(err.value)


def test_tc_ssh_by_the_admins_key_pair_only() -> None:
    run = tencent_run(ssh_public_key=SSH_KEY)
    pair = run.one("tencentcloud:Key/pair:Pair").inputs
    assert (
        pair["publicKey"] == SSH_KEY
        and pair["keyName"] == (SERVER_PREFIX.replace("-", "_") + "_admin")[:25]
    )
    cvm = run.one("tencentcloud:Instance/instance:Instance").inputs
    assert cvm["keyIds"] == [pair_id(run)]
    assert "password" not in cvm
    assert "ssh_pwauth: false" in cvm["userDataRaw"]


def pair_id(run: Run) -> str:
    return run.one("tencentcloud:Key/pair:Pair").name + "-id"


def test_tc_without_a_key_there_is_no_key_pair(tc: Run) -> None:
    assert tc.of("tencentcloud:Key/pair:Pair") == []


def test_a_malformed_ssh_key_is_refused_before_any_resource() -> None:
    run = Run([], [])
    # the component's own input path, checked with its other inputs (no deploy.py location)
    with pytest.raises(SpecErrors, match=r"args\.sshPublicKey: 'ssh-dss .*DSA \(ssh-dss\)"):
        tencent_run(run=run, ssh_public_key="ssh-dss AAAA root@x")
    assert [r.type for r in run.resources if not r.type.startswith("pulumi:providers:")] == []


def test_tc_sending_limits_reach_the_servers_policy_service() -> None:
    run = tencent_run(sending_limits={"recipients_per_hour": 80, "messages_per_hour": 25})
    user_data = run.one("tencentcloud:Instance/instance:Instance").inputs["userDataRaw"]
    assert "hkmail-ratelimit /var/spool/postfix/hkmail-limit/policy.sock example.com 80 25" in (
        user_data
    )


def test_tc_without_sending_limits_the_server_defaults_apply(tc: Run) -> None:
    user_data = tc.one("tencentcloud:Instance/instance:Instance").inputs["userDataRaw"]
    assert "policy.sock example.com 500 200" in user_data


@pytest.mark.parametrize(
    ("limits", "field"),
    [
        ({"recipients_per_hour": 0}, "recipientsPerHour"),
        ({"messages_per_hour": "lots"}, "messagesPerHour"),
        ({"recipients_per_day": 5}, "recipientsPerDay"),
    ],
)
def test_bad_sending_limits_are_refused_before_any_resource(
    limits: dict[str, Any], field: str
) -> None:
    run = Run([], [])
    with pytest.raises(SpecErrors, match=rf"args\.sendingLimits\.{field}"):
        tencent_run(run=run, sending_limits=limits)
    assert [r.type for r in run.resources if not r.type.startswith("pulumi:providers:")] == []
