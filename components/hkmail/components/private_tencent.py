"""The private mail server on Tencent Cloud in Hong Kong (ap-hongkong).

Every child is parented to the component and so uses the provider passed in through ``opts``
(``providers=``/``provider=``); nothing can fall back to a default provider. Data-bearing resources
(KMS key, disks, archive bucket, log set and topic, secrets) are protected and retained on delete.

The constructor is a sequence of named parts (keys, network, secrets, compute, storage, audit),
each a function of the build context (``hkmail.components.server_parts.Build``).

Known limits of tencentcloud-iac-pulumi 0.2.3: the CVM resource has no system-disk encryption
input (the system disk is encrypted only when the image is), so mailboxes live on the separate
CMK-encrypted data disk; COS has no object-lock (WORM) resource and CLS topics no CMK setting.
"""

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, TypedDict

import pulumi
from tencentcloud_iac_pulumi import audit, cam, cbs, cls, cos, instance, kms, security, ssm, vpc
from tencentcloud_iac_pulumi import key as tc_key
from tencentcloud_iac_pulumi import subnet as tc_subnet
from tencentcloud_iac_pulumi.security import GroupRuleSetEgressArgs, GroupRuleSetIngressArgs

from hkmail.components.args import MailServerArgs
from hkmail.components.inputs import server_args
from hkmail.components.server_parts import Build, cls_logset, cls_server_topic
from hkmail.components.tokens import renamed, token
from hkmail.facts import HK_REGION
from hkmail.mailserver import user_data, user_data_hash
from hkmail.mailserver.backup import BACKUP_PREFIX
from hkmail.mailserver.deploy import Rule, firewall_rules, ptr_record, validate
from hkmail.mailserver.fetch_secrets import SSM_VERSION_ID
from hkmail.mailserver.journal import DRILL_PREFIX, JOURNAL_PREFIX, SPOOL_STATUS_PREFIX
from hkmail.mailserver.logship_files import LOG_FIELDS

REGION = HK_REGION["tencentcloud"]
DEFAULT_INSTANCE_TYPE = "S5.MEDIUM4"
DEFAULT_DATA_DEVICE = "/dev/vdb"
TYPE = token("TencentMailServer")
OLD_TYPE = "hkmail:private:TencentMailServer"


class TencentMailServer(pulumi.ComponentResource):
    """VPC, security group, CMK, encrypted disks, CVM with the mail server, COS archive, CLS
    audit log, SSM secrets and the CAM role that may read only those secrets."""

    public_ip: pulumi.Output[str]
    ptr_record: pulumi.Output[str]
    user_data_sha256: str

    def __init__(
        self, name: str, args: MailServerArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        deployment = server_args(args, "tencentcloud")
        validate(deployment, "tencentcloud")  # both before anything is registered
        super().__init__(TYPE, name, None, renamed(opts, OLD_TYPE))
        b = Build.of(self, name, deployment, DEFAULT_DATA_DEVICE)
        key = _keys(b)
        net = _network(b)
        topic, server_topic = _audit(b)
        secrets = _secrets(b, key, server_topic)
        compute = _compute(b, key, net, secrets)
        bucket = _storage(b, key)

        self.user_data_sha256 = compute.user_data_sha256
        self.public_ip = compute.cvm.public_ip
        self.ptr_record = self.public_ip.apply(lambda ip: ptr_record(ip, b.server.hostname))
        self.kms_key_id = key.id
        self.archive_bucket = bucket.bucket
        self.audit_topic_id = topic.id
        self.register_outputs(
            {
                "publicIp": self.public_ip,
                "ptrRecord": self.ptr_record,
                "userDataSha256": self.user_data_sha256,
                "kmsKeyId": key.id,
                "archiveBucket": bucket.bucket,
                "auditTopicId": topic.id,
                "secretNames": list(b.server.secrets.names()),
            }
        )


# --------------------------------------------------------------------------------------------
# Keys: the customer-managed key of disks, archive and secrets
# --------------------------------------------------------------------------------------------


def _keys(b: Build) -> kms.Key:
    return kms.Key(
        f"{b.name}-cmk",
        alias=f"{b.prefix}-mail",
        description="hk-mail: disks, archive and secrets of the Hong Kong mail server",
        key_usage="ENCRYPT_DECRYPT",
        key_rotation_enabled=True,
        is_enabled=True,
        pending_delete_window_in_days=30,
        opts=b.keep,
    )


# --------------------------------------------------------------------------------------------
# Network: VPC, subnet in the chosen Hong Kong zone, security group closed by a final DROP ALL
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Network:
    vpc: vpc.Instance
    subnet: tc_subnet.Instance
    group: security.Group


def _network(b: Build) -> Network:
    n, child = b.prefix, b.child
    network = vpc.Instance(f"{b.name}-vpc", name=f"{n}-vpc", cidr_block=b.args.vpc_cidr, opts=child)
    subnet = tc_subnet.Instance(
        f"{b.name}-subnet",
        name=f"{n}-subnet",
        vpc_id=network.id,
        cidr_block=b.args.subnet_cidr,
        availability_zone=b.args.zone,
        opts=child,
    )
    group = security.Group(
        f"{b.name}-sg", name=f"{n}-mail", description="hk-mail server", opts=child
    )
    rules = firewall_rules(b.server.admin_cidr, b.server.relay.port)
    # Tencent evaluates rules in order: the explicit DROP ALL closes everything not listed.
    security.GroupRuleSet(
        f"{b.name}-sg-rules",
        security_group_id=group.id,
        ingresses=[
            *(GroupRuleSetIngressArgs(**_accept(r)) for r in rules if r.direction == "ingress"),
            GroupRuleSetIngressArgs(**_DROP_ALL),
        ],
        egresses=[
            *(GroupRuleSetEgressArgs(**_accept(r)) for r in rules if r.direction == "egress"),
            GroupRuleSetEgressArgs(**_DROP_ALL),
        ],
        opts=child,
    )
    return Network(network, subnet, group)


class _RuleInputs(TypedDict):
    action: str
    protocol: str
    port: str
    cidr_block: str
    description: str


_DROP_ALL: Final[_RuleInputs] = {
    "action": "DROP",
    "protocol": "ALL",
    "port": "ALL",
    "cidr_block": "0.0.0.0/0",
    "description": "everything else",
}


def _accept(r: Rule) -> _RuleInputs:
    return {
        "action": "ACCEPT",
        "protocol": r.protocol.upper(),
        "port": str(r.port),
        "cidr_block": r.cidr,
        "description": r.description,
    }


# --------------------------------------------------------------------------------------------
# Secrets: SSM secrets under the CMK, and the CAM role that may read only those
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Secrets:
    secrets: Sequence[ssm.Secret]
    role: cam.Role


def _secrets(b: Build, key: kms.Key, server_log: cls.Topic) -> Secrets:
    secrets = []
    for secret_name, payload in b.secret_payloads().items():
        secret = ssm.Secret(
            f"{b.name}-{secret_name}",
            secret_name=secret_name,
            description="hk-mail server secret, read at boot by the instance role",
            kms_key_id=key.id,
            is_enabled=True,
            recovery_window_in_days=30,
            opts=b.keep,
        )
        ssm.SecretVersion(
            f"{b.name}-{secret_name}-{SSM_VERSION_ID}",
            secret_name=secret.secret_name,
            version_id=SSM_VERSION_ID,
            secret_string=payload,
            opts=b.keep_secret("secret_string"),
        )
        secrets.append(secret)
    return Secrets(secrets, _instance_role(b, key, server_log))


def _instance_role(b: Build, key: kms.Key, server_log: cls.Topic) -> cam.Role:
    """The instance role may read these secrets, use this key, write (never delete) the journal
    in the archive bucket, keep the backup under backup/, and upload to the server-log topic."""
    refs, uin = b.server.secrets, b.args.account_id
    role = cam.Role(
        f"{b.name}-role",
        name=refs.role_name,
        description="hk-mail server instance role",
        console_login=False,
        document=json.dumps(
            {
                "version": "2.0",
                "statement": [
                    {
                        "action": ["name/sts:AssumeRole"],
                        "effect": "allow",
                        "principal": {"service": ["cvm.qcloud.com"]},
                    }
                ],
            }
        ),
        opts=b.child,
    )
    secret_resources = [
        f"qcs::ssm:{REGION}:uin/{uin}:secret/creatorUin/{uin}/{s}" for s in refs.names()
    ]
    policy = cam.Policy(
        f"{b.name}-read-secrets",
        name=f"{b.prefix}-mail-read-secrets",
        description="hk-mail: read the mail server's secrets only",
        document=pulumi.Output.all(key.id, server_log.id).apply(
            lambda ids: json.dumps(
                {
                    "version": "2.0",
                    "statement": [
                        {
                            "effect": "allow",
                            "action": ["ssm:GetSecretValue"],
                            "resource": secret_resources,
                        },
                        {
                            "effect": "allow",
                            # GenerateDataKey: writing to the CMK-encrypted archive.
                            "action": ["kms:Decrypt", "kms:GenerateDataKey"],
                            "resource": [f"qcs::kms:{REGION}:uin/{uin}:key/{ids[0]}"],
                        },
                        {
                            # hkmail-logship: upload to the server-log topic only (CLS's
                            # *Authorizable Resource Types*: qcs::cls:$region:$account:topic/$id).
                            "effect": "allow",
                            "action": ["cls:UploadLog"],
                            "resource": [f"qcs::cls:{REGION}:uin/{uin}:topic/{ids[1]}"],
                        },
                        {
                            # ...whose id it looks up by name (DescribeTopics lists topics'
                            # names and settings, no log content). Whether CAM scopes
                            # DescribeTopics by topic is not published in the pages we read.
                            "effect": "allow",
                            "action": ["cls:DescribeTopics"],
                            "resource": ["*"],
                        },
                        {
                            # The journal: write and read back its own objects; no delete.
                            "effect": "allow",
                            "action": [
                                "name/cos:PutObject",
                                "name/cos:HeadObject",
                                "name/cos:GetObject",
                            ],
                            "resource": [
                                f"qcs::cos:{REGION}:uid/{b.args.app_id}:"
                                f"{b.server.archive_bucket}/{JOURNAL_PREFIX}*"
                            ],
                        },
                        {
                            # The journal's spool status (a new object each time): put only.
                            "effect": "allow",
                            "action": ["name/cos:PutObject"],
                            "resource": [
                                f"qcs::cos:{REGION}:uid/{b.args.app_id}:"
                                f"{b.server.archive_bucket}/{SPOOL_STATUS_PREFIX}*"
                            ],
                        },
                        {
                            # The nightly restic backup (hkmail-backup) keeps its repository
                            # under backup/: it lists, reads, writes and prunes only there.
                            "effect": "allow",
                            "action": [
                                "name/cos:GetBucket",
                                "name/cos:PutObject",
                                "name/cos:HeadObject",
                                "name/cos:GetObject",
                                "name/cos:DeleteObject",
                            ],
                            "resource": [
                                f"qcs::cos:{REGION}:uid/{b.args.app_id}:"
                                f"{b.server.archive_bucket}/{BACKUP_PREFIX}*"
                            ],
                        },
                    ],
                }
            )
        ),
        opts=b.child,
    )
    cam.RolePolicyAttachment(
        f"{b.name}-role-policy", role_id=role.id, policy_id=policy.id, opts=b.child
    )
    return role


# --------------------------------------------------------------------------------------------
# Compute: the CVM booted by cloud-init, its CMK-encrypted data disk, daily snapshots
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Compute:
    cvm: instance.Instance
    data_disk: cbs.Storage
    user_data_sha256: str


def _compute(b: Build, key: kms.Key, net: Network, secrets: Secrets) -> Compute:
    args, child = b.args, b.child
    # Mailboxes live on this disk: CMK-encrypted, protected, retained.
    data_disk = cbs.Storage(
        f"{b.name}-data",
        storage_name=f"{b.prefix}-mail-data",
        storage_type="CLOUD_PREMIUM",
        storage_size=args.data_disk_gb,
        availability_zone=args.zone,
        encrypt=True,
        kms_key_id=key.id,
        force_delete=False,
        opts=b.keep,
    )
    ud = user_data(b.server)
    # SSH by key only: the administrators' key pair (cloud-init turns password logins off).
    key_ids: list[pulumi.Input[str]] | None = None
    if args.ssh_public_key:
        pair = tc_key.Pair(
            f"{b.name}-ssh",
            # Tencent key names: letters, digits and '_', at most 25 characters.
            key_name=(b.prefix.replace("-", "_") + "_admin")[:25],
            public_key=args.ssh_public_key.strip(),
            opts=child,
        )
        key_ids = [pair.id]
    cvm = instance.Instance(
        f"{b.name}-cvm",
        instance_name=f"{b.prefix}-mail",
        hostname=b.server.hostname.split(".")[0],
        availability_zone=args.zone,
        image_id=args.image_id,
        instance_type=args.instance_type or DEFAULT_INSTANCE_TYPE,
        vpc_id=net.vpc.id,
        subnet_id=net.subnet.id,
        orderly_security_groups=[net.group.id],
        system_disk_type="CLOUD_PREMIUM",
        system_disk_size=args.system_disk_gb,
        allocate_public_ip=True,
        internet_max_bandwidth_out=20,
        cam_role_name=secrets.role.name,
        key_ids=key_ids,
        user_data_raw=ud,
        disable_api_termination=True,
        opts=pulumi.ResourceOptions(parent=b.component, depends_on=list(secrets.secrets)),
    )
    cbs.StorageAttachment(
        f"{b.name}-data-attach", storage_id=data_disk.id, instance_id=cvm.id, opts=child
    )
    # Daily snapshots kept in Hong Kong: a CBS snapshot policy has no cross-region copy.
    snapshots = cbs.SnapshotPolicy(
        f"{b.name}-snapshots",
        snapshot_policy_name=f"{b.prefix}-mail-daily",
        repeat_weekdays=[0, 1, 2, 3, 4, 5, 6],
        repeat_hours=[2],
        retention_days=args.snapshot_retention_days,
        opts=child,
    )
    cbs.SnapshotPolicyAttachment(
        f"{b.name}-snapshots-data",
        snapshot_policy_id=snapshots.id,
        storage_id=data_disk.id,
        opts=child,
    )
    return Compute(cvm, data_disk, user_data_hash(ud))


# --------------------------------------------------------------------------------------------
# Storage: the private archive bucket (CMK-encrypted, versioned, no replication rules)
# --------------------------------------------------------------------------------------------


# Deleting a journal object, one or many at a time (COS API authorization policy action names).
JOURNAL_DELETES: Final = ("name/cos:DeleteObject", "name/cos:DeleteMultipleObjects")


def _storage(b: Build, key: kms.Key) -> cos.Bucket:
    bucket = cos.Bucket(
        f"{b.name}-archive",
        bucket=f"{b.args.archive_bucket}-{b.args.app_id}",
        acl="private",
        encryption_algorithm="KMS",
        kms_id=key.id,
        versioning_enable=True,
        force_clean=False,
        opts=b.keep,
    )
    # COS has no object lock in this provider: a bucket policy denies deleting the journal to
    # everyone (the instance role and a stolen key included); backup/ stays prunable by restic.
    cos.BucketPolicy(
        f"{b.name}-archive-no-delete",
        bucket=bucket.bucket,
        policy=json.dumps(journal_delete_denial(b.args.app_id, str(b.server.archive_bucket))),
        opts=b.keep,
    )
    return bucket


def journal_delete_denial(app_id: str, bucket: str) -> dict[str, object]:
    """The archive bucket's policy (lower-case keys, as COS's policy examples write them)."""
    return {
        "version": "2.0",
        "statement": [
            {
                "principal": {"qcs": ["qcs::cam::anyone:anyone"]},
                "effect": "deny",
                "action": list(JOURNAL_DELETES),
                # The journal, the spool's status and the restore drills' records.
                "resource": [
                    f"qcs::cos:{REGION}:uid/{app_id}:{bucket}/{prefix}*"
                    for prefix in (JOURNAL_PREFIX, SPOOL_STATUS_PREFIX, DRILL_PREFIX)
                ],
            }
        ],
    }


# --------------------------------------------------------------------------------------------
# Audit: CloudAudit events of the account into a CLS topic in Hong Kong
# --------------------------------------------------------------------------------------------


def _audit(b: Build) -> tuple[cls.Topic, cls.Topic]:
    """The audit topic and, in the same logset, the server-log topic hkmail-logship writes to."""
    n = b.prefix
    logset = cls.Logset(f"{b.name}-logset", logset_name=cls_logset(n), opts=b.keep)
    server = cls.Topic(
        f"{b.name}-server-log",
        logset_id=logset.id,
        topic_name=cls_server_topic(n),
        describes="hk-mail: the mail server's alarm-bearing logs (hkmail-logship)",
        period=b.args.log_retention_days,
        storage_type="hot",
        auto_split=True,
        opts=b.keep,
    )
    # Searchable by field (severity: alarm). The tokenizer is CLS's default (not set here).
    cls.Index(
        f"{b.name}-server-log-index",
        topic_id=server.id,
        status=True,
        rule=cls.IndexRuleArgs(
            key_value=cls.IndexRuleKeyValueArgs(
                case_sensitive=False,
                key_values=[
                    cls.IndexRuleKeyValueKeyValueArgs(
                        key=field,
                        value=cls.IndexRuleKeyValueKeyValueValueArgs(type="text", sql_flag=True),
                    )
                    for field in LOG_FIELDS
                ],
            )
        ),
        opts=b.child,
    )
    topic = cls.Topic(
        f"{b.name}-audit",
        logset_id=logset.id,
        topic_name=f"{n}-mail-audit",
        period=b.args.log_retention_days,
        storage_type="hot",
        auto_split=True,
        opts=b.keep,
    )
    audit.Track(
        f"{b.name}-track",
        name=f"{n}-mail-audit",
        action_type="*",
        event_names=["*"],
        resource_type="*",
        status=1,
        track_for_all_members=0,
        storage={
            "storage_type": "cls",
            "storage_region": REGION,
            "storage_name": topic.id,
            "storage_prefix": f"{n}-mail",
        },
        opts=b.child,
    )
    return topic, server
