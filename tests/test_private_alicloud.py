"""AlicloudMailServer under Pulumi's mocks (harness and fixtures: test_private_tencent)."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pytest
import yaml

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


def alicloud_run(preview: bool = False, run: Run | None = None, **changes: Any) -> Run:
    import pulumi_alicloud as alicloud

    from hkmail.components.private_alicloud import AlicloudMailServer

    def program() -> None:
        provider = alicloud.Provider("ali-hk", region="cn-hongkong")
        AlicloudMailServer(
            "mx", private_args("alicloud", **changes), pulumi.ResourceOptions(providers=[provider])
        )

    return run_program(program, preview=preview, run=run)


@pytest.fixture(scope="module", params=[False, True], ids=["up", "preview"])
def ali(request: pytest.FixtureRequest) -> Run:
    return alicloud_run(preview=request.param, retention_days=2555)


DATA_BEARING_ALI = {
    "alicloud:kms/key:Key",
    "alicloud:ecs/ecsDisk:EcsDisk",
    "alicloud:oss/bucket:Bucket",
    "alicloud:oss/bucketWorm:BucketWorm",
    "alicloud:log/project:Project",
    "alicloud:log/store:Store",
    "alicloud:kms/secret:Secret",
}


def test_ali_component_type_and_children_use_the_given_provider(ali: Run) -> None:
    comp, provider, children = children_of(
        ali, "hkmail:index:AlicloudMailServer", "pulumi:providers:alicloud"
    )
    assert provider.inputs["region"] == "cn-hongkong"
    assert len(children) >= 25
    for r in children:
        assert r.parent == comp.urn, r.name
        assert r.provider == f"{provider.urn}::{provider.name}-id", (r.type, r.provider)


def test_ali_everything_is_in_hong_kong(ali: Run) -> None:
    assert ali.one("alicloud:vpc/switch:Switch").inputs["zoneId"] == "cn-hongkong-b"
    assert ali.one("alicloud:ecs/instance:Instance").inputs["availabilityZone"] == "cn-hongkong-b"
    assert ali.one("alicloud:ecs/ecsDisk:EcsDisk").inputs["zoneId"] == "cn-hongkong-b"
    trail = ali.one("alicloud:actiontrail/trail:Trail").inputs
    assert trail["slsProjectArn"].startswith("acs:log:cn-hongkong:100012345678:project/")
    # Snapshots are never copied out of the region.
    policy = ali.one("alicloud:ecs/autoSnapshotPolicy:AutoSnapshotPolicy").inputs
    assert policy["enableCrossRegionCopy"] is False and "targetCopyRegions" not in policy
    # No replication of the archive anywhere.
    assert not ali.of("alicloud:oss/bucketReplication:BucketReplication")


def test_ali_disks_bucket_logs_and_secrets_are_encrypted(ali: Run) -> None:
    key_id = "mx-cmk-id"
    vm = ali.one("alicloud:ecs/instance:Instance").inputs
    assert vm["systemDiskEncrypted"] is True and vm["systemDiskKmsKeyId"] == key_id
    disk = ali.one("alicloud:ecs/ecsDisk:EcsDisk").inputs
    assert disk["encrypted"] is True and disk["kmsKeyId"] == key_id
    assert disk["deleteWithInstance"] is False
    # The archive and, under WORM, the backup's own bucket: both encrypted, versioned, private.
    buckets = {r.inputs["bucket"]: r.inputs for r in ali.of("alicloud:oss/bucket:Bucket")}
    assert sorted(buckets) == ["hkmail-archive", "hkmail-archive-backup"]
    for bucket in buckets.values():
        want = {"sseAlgorithm": "KMS", "kmsMasterKeyId": key_id}
        assert bucket["serverSideEncryptionRule"] == want
        assert bucket["versioning"] == {"status": "Enabled"}
    blocks = ali.of("alicloud:oss/bucketPublicAccessBlock:BucketPublicAccessBlock")
    assert sorted(r.inputs["bucket"] for r in blocks if r.inputs["blockPublicAccess"]) == sorted(
        buckets
    )
    stores = ali.of("alicloud:log/store:Store")
    assert sorted(s.inputs["logstoreName"] for s in stores) == ["actiontrail", "server"]
    for store in stores:
        assert store.inputs["encryptConf"]["enable"] is True, store.name
        assert store.inputs["encryptConf"]["userCmkInfo"]["cmkKeyId"] == key_id, store.name
    for secret in ali.of("alicloud:kms/secret:Secret"):
        assert secret.inputs["encryptionKeyId"] == key_id
    key = ali.one("alicloud:kms/key:Key").inputs
    assert key["automaticRotation"] == "Enabled" and key["deletionProtection"] == "Enabled"


def test_ali_worm_retention(ali: Run) -> None:
    worm = ali.one("alicloud:oss/bucketWorm:BucketWorm").inputs
    assert worm == {
        "bucket": "hkmail-archive",
        "retentionPeriodInDays": 2555,
        "status": "InProgress",
    }
    locked = alicloud_run(retention_days=365, retention_locked=True)
    assert locked.one("alicloud:oss/bucketWorm:BucketWorm").inputs["status"] == "Locked"
    assert not alicloud_run().of("alicloud:oss/bucketWorm:BucketWorm")


def test_ali_backup_lives_outside_the_worm_bucket_and_the_role_only_there(ali: Run) -> None:
    """OSS's WORM is bucket-wide and refuses restic's deletes: under it the backup has its own
    bucket (Hong Kong, protected), the role may delete only there, never in the archive."""
    [backup] = [r for r in ali.of("alicloud:oss/bucket:Bucket") if r.name == "mx-backup"]
    assert (backup.protect, backup.retain_on_delete) == (True, True)
    ud = ali.one("alicloud:ecs/instance:Instance").inputs["userData"]
    conf = _written(ud, "/etc/hkmail/backup.json")
    assert json.loads(conf)["bucket"] == "hkmail-archive-backup"
    doc = json.loads(ali.one("alicloud:ram/policy:Policy").inputs["policyDocument"])
    deletes = [s["Resource"] for s in doc["Statement"] if "oss:DeleteObject" in s["Action"]]
    assert deletes == [["acs:oss:*:100012345678:hkmail-archive-backup/backup/*"]]
    # Without WORM the archive takes deletes under backup/ and the backup stays there.
    plain = alicloud_run()
    assert [r.name for r in plain.of("alicloud:oss/bucket:Bucket")] == ["mx-archive"]
    conf = _written(plain.one("alicloud:ecs/instance:Instance").inputs["userData"], "backup.json")
    assert json.loads(conf)["bucket"] == "hkmail-archive"


def _written(user_data: str, suffix: str) -> str:
    doc = yaml.safe_load(user_data)
    return next(f["content"] for f in doc["write_files"] if f["path"].endswith(suffix))


def test_ali_data_bearing_resources_are_protected_and_retained(ali: Run) -> None:
    seen = set()
    for r in ali.resources:
        if r.type in DATA_BEARING_ALI:
            assert (r.protect, r.retain_on_delete) == (True, True), r.name
            seen.add(r.type)
    assert seen == DATA_BEARING_ALI
    assert not ali.one("alicloud:ecs/instance:Instance").protect


def test_ali_security_group_opens_only_the_mail_ports(ali: Run) -> None:
    rules = sorted(
        (
            r.inputs["type"],
            r.inputs["policy"],
            r.inputs["ipProtocol"],
            r.inputs["portRange"],
            r.inputs["cidrIp"],
            r.inputs["priority"],
        )
        for r in ali.of("alicloud:ecs/securityGroupRule:SecurityGroupRule")
    )
    assert rules == sorted(
        [
            ("ingress", "accept", "tcp", "25/25", "0.0.0.0/0", 1),
            ("ingress", "accept", "tcp", "465/465", "0.0.0.0/0", 1),
            ("ingress", "accept", "tcp", "587/587", "0.0.0.0/0", 1),
            ("ingress", "accept", "tcp", "993/993", "0.0.0.0/0", 1),
            ("ingress", "accept", "tcp", "443/443", "0.0.0.0/0", 1),
            ("ingress", "accept", "tcp", "80/80", "0.0.0.0/0", 1),
            ("ingress", "accept", "tcp", "22/22", "203.0.113.0/24", 1),
            ("ingress", "drop", "all", "-1/-1", "0.0.0.0/0", 100),
            ("egress", "accept", "tcp", "465/465", "0.0.0.0/0", 1),
            ("egress", "accept", "tcp", "443/443", "0.0.0.0/0", 1),
            ("egress", "accept", "tcp", "80/80", "0.0.0.0/0", 1),
            ("egress", "accept", "udp", "53/53", "0.0.0.0/0", 1),
            ("egress", "accept", "tcp", "53/53", "0.0.0.0/0", 1),
            ("egress", "accept", "udp", "123/123", "0.0.0.0/0", 1),
            ("egress", "drop", "all", "-1/-1", "0.0.0.0/0", 100),
        ]
    )


def test_ali_instance_role_reads_only_its_secrets(ali: Run) -> None:
    role = ali.one("alicloud:ram/role:Role").inputs
    trust = json.loads(role["assumeRolePolicyDocument"])
    assert trust["Statement"][0]["Principal"] == {"Service": ["ecs.aliyuncs.com"]}
    doc = json.loads(ali.one("alicloud:ram/policy:Policy").inputs["policyDocument"])
    statements = {tuple(s["Action"]): s["Resource"] for s in doc["Statement"]}
    assert statements == {
        ("kms:GetSecretValue",): [
            f"acs:kms:cn-hongkong:100012345678:secret/{n}"
            for n in (
                f"{SERVER_PREFIX}-dkim",
                f"{SERVER_PREFIX}-mailboxes",
                f"{SERVER_PREFIX}-relay",
                f"{SERVER_PREFIX}-backup",
            )
        ],
        ("kms:Decrypt", "kms:GenerateDataKey"): ["acs:kms:cn-hongkong:100012345678:key/mx-cmk-id"],
        # The journal: written and read back, never deleted or listed.
        ("oss:PutObject", "oss:GetObject"): ["acs:oss:*:100012345678:hkmail-archive/journal/*"],
        # The spool status the uploader publishes: a new object each time, put only.
        ("oss:PutObject",): ["acs:oss:*:100012345678:hkmail-archive/status/journal-spool/*"],
        # The restic backup: its own bucket (the archive is under WORM), its own prefix only,
        # where it also prunes.
        ("oss:PutObject", "oss:GetObject", "oss:DeleteObject"): [
            "acs:oss:*:100012345678:hkmail-archive-backup/backup/*"
        ],
        ("oss:ListObjects",): ["acs:oss:*:100012345678:hkmail-archive-backup"],
        # hkmail-logship: writes to the server logstore only.
        ("log:Post*",): [
            "acs:log:cn-hongkong:100012345678:project/"
            f"{SERVER_PREFIX}-mail-audit-100012345678/logstore/server"
        ],
    }
    [listing] = [s for s in doc["Statement"] if s["Action"] == ["oss:ListObjects"]]
    assert listing["Condition"] == {"StringLike": {"oss:Prefix": ["backup/*"]}}
    assert ali.one("alicloud:ecs/instance:Instance").inputs["roleName"] == f"{SERVER_PREFIX}-mail"


def test_ali_secrets_are_stored_and_never_plain(ali: Run) -> None:
    stored = {r.inputs["secretName"]: r for r in ali.of("alicloud:kms/secret:Secret")}
    names = ("backup", "dkim", "mailboxes", "relay")
    assert sorted(stored) == [f"{SERVER_PREFIX}-{n}" for n in names]
    for r in stored.values():
        assert secret_count(r.raw.get("secretData")) == 1, r.name
        # Losing the instance must not lose the key to the backup: the store keeps it.
        assert (r.protect, r.retain_on_delete) == (True, True), r.name
    backup = stored[f"{SERVER_PREFIX}-backup"].inputs["secretData"]
    assert unwrap_secret(backup) == BACKUP_PASSWORD
    assert unwrap_secret(stored[f"{SERVER_PREFIX}-dkim"].inputs["secretData"]) == DKIM_PEM
    assert unwrap_secret(stored[f"{SERVER_PREFIX}-mailboxes"].inputs["secretData"]) == json.dumps(
        HASHES, sort_keys=True
    )
    hits = [h for r in ali.resources for h in plaintext_hits(r.raw, NEEDLES, r.name)]
    hits += [h for o in ali.outputs for h in plaintext_hits(o, NEEDLES, "outputs")]
    assert hits == []
    ud = ali.one("alicloud:ecs/instance:Instance").inputs["userData"]
    assert RELAY_PASSWORD not in ud and BACKUP_PASSWORD not in ud
    # The instance fetches the backup password at boot, by name, into the file restic reads.
    assert f"{SERVER_PREFIX}-backup" in ud and "/etc/hkmail/backup-password" in ud


def test_ali_outputs_ptr_and_user_data_hash(ali: Run) -> None:
    out = next(o for o in ali.outputs if "ptrRecord" in o)
    assert out["ptrRecord"] == "10.113.0.203.in-addr.arpa. PTR mail.example.com."
    assert out["publicIp"] == PUBLIC_IP and len(out["userDataSha256"]) == 64
    ud = ali.one("alicloud:ecs/instance:Instance").inputs["userData"]
    assert '"region": "cn-hongkong"' in ud and '"cloud": "alicloud"' in ud


def test_ali_bad_args_register_nothing() -> None:
    run = Run([], [])
    with pytest.raises(SpecErrors) as err:
        alicloud_run(run=run, zone="cn-shenzhen-a", vpc_cidr="8.8.0.0/16")
    text = str(err.value)
    assert "args.zone" in text and "cn-hongkong-b" in text
    assert [r.type for r in run.resources if not r.type.startswith("pulumi:providers:")] == []
    with pytest.raises(SpecErrors) as err:
        alicloud_run(run=run, vpc_cidr="8.8.0.0/16")
    assert "privateServer.subnetCidr" in str(err.value)
    assert [r.type for r in run.resources if not r.type.startswith("pulumi:providers:")] == []


def test_ali_component_refuses_a_tencent_zone() -> None:
    with pytest.raises(SpecErrors) as err:
        alicloud_run(zone="ap-hongkong-2")
    [error] = err.value.errors
    assert error.field == "args.zone"
    assert error.allowed == "cn-hongkong-b | cn-hongkong-c | cn-hongkong-d"


def test_ali_metadata_needs_a_token_and_ssh_needs_the_key_pair() -> None:
    run = alicloud_run(ssh_public_key=SSH_KEY)
    ecs = run.one("alicloud:ecs/instance:Instance").inputs
    assert (ecs["httpTokens"], ecs["httpEndpoint"]) == ("required", "enabled")
    pair = run.one("alicloud:ecs/ecsKeyPair:EcsKeyPair").inputs
    assert pair["publicKey"] == SSH_KEY
    assert ecs["keyName"] == pair["keyPairName"] == f"{SERVER_PREFIX}-admin"
    assert "password" not in ecs
    assert "ssh_pwauth: false" in ecs["userData"]


def test_ali_metadata_tokens_are_required_without_a_key_too(ali: Run) -> None:
    assert ali.one("alicloud:ecs/instance:Instance").inputs["httpTokens"] == "required"
    assert ali.of("alicloud:ecs/ecsKeyPair:EcsKeyPair") == []


def test_ali_server_log_store_role_write_and_alarm(ali: Run) -> None:
    """hkmail-logship's logstore in the stack's Hong Kong project, written by the instance role
    (only that logstore), and an alert on any alarm line in 5 minutes."""
    import json as _json

    (server,) = [
        s for s in ali.of("alicloud:log/store:Store") if s.inputs["logstoreName"] == "server"
    ]
    project = ali.one("alicloud:log/project:Project").inputs["projectName"]
    assert server.inputs["projectName"] == project
    (audit,) = [
        s for s in ali.of("alicloud:log/store:Store") if s.inputs["logstoreName"] == "actiontrail"
    ]
    assert server.inputs["retentionPeriod"] == audit.inputs["retentionPeriod"]
    index = ali.one("alicloud:log/storeIndex:StoreIndex").inputs
    assert index["logstore"] == "server"
    assert {f["name"] for f in index["fieldSearches"]} >= {"severity", "message", "source"}
    alert = ali.one("alicloud:log/alert:Alert").inputs
    (query,) = alert["queryLists"]
    assert query["store"] == "server" and query["region"] == "cn-hongkong"
    assert query["start"] == "-300s" and query["query"].startswith("severity: alarm |")
    assert alert["severityConfigurations"][0]["evalCondition"]["condition"] == "alarms > 0"
    policy = _json.loads(
        next(
            r.inputs["policyDocument"]
            for r in ali.of("alicloud:ram/policy:Policy")
            if "Statement" in r.inputs["policyDocument"]
        )
    )
    log_grants = [s for s in policy["Statement"] if any(a.startswith("log:") for a in s["Action"])]
    assert log_grants == [
        {
            "Effect": "Allow",
            "Action": ["log:Post*"],
            "Resource": [
                f"acs:log:cn-hongkong:{project.rsplit('-', 1)[1]}:project/{project}/logstore/server"
            ],
        }
    ]
    # The server ships there: its user data carries the shipper's settings naming them.
    ud = ali.one("alicloud:ecs/instance:Instance").inputs["userData"]
    assert "/etc/hkmail/logship.json" in ud
    assert f'"project": "{project}"' in ud and '"logstore": "server"' in ud
