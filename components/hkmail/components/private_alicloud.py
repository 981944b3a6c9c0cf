"""The private mail server on Alibaba Cloud in Hong Kong (cn-hongkong).

Every child is parented to the component and so uses the provider passed in through ``opts``;
nothing can fall back to a default provider. Data-bearing resources (KMS key, data disk, archive
bucket and its WORM policy, log project and store, secrets) are protected and retained on delete.

The constructor is a sequence of named parts (keys, network, secrets, compute, storage, audit),
each a function of the build context below.
"""

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
from pulumi_alicloud import actiontrail, ecs, kms, log, oss, ram, vpc
from pulumi_alicloud.log import (
    AlertGroupConfigurationArgs,
    AlertPolicyConfigurationArgs,
    AlertQueryListArgs,
    AlertScheduleArgs,
    AlertSeverityConfigurationArgs,
    StoreEncryptConfArgs,
    StoreEncryptConfUserCmkInfoArgs,
    StoreIndexFieldSearchArgs,
)
from pulumi_alicloud.oss import BucketServerSideEncryptionRuleArgs, BucketVersioningArgs

from hkmail.components.args import MailServerArgs
from hkmail.components.inputs import server_args
from hkmail.components.server_parts import SERVER_LOGSTORE, Build, sls_project
from hkmail.components.tokens import renamed, token
from hkmail.facts import HK_REGION
from hkmail.mailserver import user_data, user_data_hash
from hkmail.mailserver.backup import BACKUP_PREFIX
from hkmail.mailserver.deploy import Rule, firewall_rules, ptr_record, validate
from hkmail.mailserver.fetch_secrets import SSM_VERSION_ID
from hkmail.mailserver.journal import JOURNAL_PREFIX, SPOOL_STATUS_PREFIX
from hkmail.mailserver.logship_files import ALARM_QUERY, LOG_FIELDS

REGION = HK_REGION["alicloud"]
DEFAULT_INSTANCE_TYPE = "ecs.g7.large"
DEFAULT_DATA_DEVICE = "/dev/vdb"
TYPE = token("AlicloudMailServer")
OLD_TYPE = "hkmail:private:AlicloudMailServer"


class AlicloudMailServer(pulumi.ComponentResource):
    """VPC, security group, CMK, encrypted disks, ECS with the mail server, OSS archive (WORM
    optional), ActionTrail to SLS, KMS secrets and the RAM role that may read only those."""

    public_ip: pulumi.Output[str]
    ptr_record: pulumi.Output[str]
    user_data_sha256: str

    def __init__(
        self, name: str, args: MailServerArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        deployment = server_args(args, "alicloud")
        validate(deployment, "alicloud")  # both before anything is registered
        super().__init__(TYPE, name, None, renamed(opts, OLD_TYPE))
        b = Build.of(self, name, deployment, DEFAULT_DATA_DEVICE)
        key = _keys(b)
        net = _network(b)
        secrets = _secrets(b, key)
        compute = _compute(b, key, net, secrets)
        bucket = _storage(b, key)
        audit = _audit(b, key)

        self.user_data_sha256 = compute.user_data_sha256
        self.public_ip = compute.instance.public_ip
        self.ptr_record = self.public_ip.apply(lambda ip: ptr_record(ip, b.server.hostname))
        self.kms_key_id = key.id
        self.archive_bucket = bucket.bucket
        self.audit_log_store = audit.store.logstore_name
        self.register_outputs(
            {
                "publicIp": self.public_ip,
                "ptrRecord": self.ptr_record,
                "userDataSha256": self.user_data_sha256,
                "kmsKeyId": key.id,
                "archiveBucket": bucket.bucket,
                "auditLogProject": audit.project.project_name,
                "secretNames": list(b.server.secrets.names()),
            }
        )


# --------------------------------------------------------------------------------------------
# Keys: the customer-managed key of disks, archive, log store and secrets
# --------------------------------------------------------------------------------------------


def _keys(b: Build) -> kms.Key:
    return kms.Key(
        f"{b.name}-cmk",
        description="hk-mail: disks, archive and secrets of the Hong Kong mail server",
        key_usage="ENCRYPT/DECRYPT",
        key_spec="Aliyun_AES_256",
        automatic_rotation="Enabled",
        rotation_interval="365d",
        pending_window_in_days=30,
        deletion_protection="Enabled",
        opts=b.keep,
    )


# --------------------------------------------------------------------------------------------
# Network: VPC, vSwitch in the chosen Hong Kong zone, security group with an explicit deny-all
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Network:
    vpc: vpc.Network
    switch: pulumi.CustomResource  # vpc.Switch: mypy cannot see it in the SDK's typed exports
    group: ecs.SecurityGroup


def _network(b: Build) -> Network:
    n, child = b.prefix, b.child
    network = vpc.Network(
        f"{b.name}-vpc", vpc_name=f"{n}-vpc", cidr_block=b.args.vpc_cidr, opts=child
    )
    switch = vpc.Switch(
        f"{b.name}-vswitch",
        vswitch_name=f"{n}-vswitch",
        vpc_id=network.id,
        cidr_block=b.args.subnet_cidr,
        zone_id=b.args.zone,
        opts=child,
    )
    group = ecs.SecurityGroup(
        f"{b.name}-sg",
        security_group_name=f"{n}-mail",
        description="hk-mail server",
        vpc_id=network.id,
        opts=child,
    )
    for r in firewall_rules(b.server.admin_cidr, b.server.relay.port):
        _sg_rule(b, group, f"{r.direction}-{r.protocol}-{r.port}", r)
    # Alibaba allows all egress unless told otherwise: a lowest-priority drop closes the rest.
    for direction in ("ingress", "egress"):
        ecs.SecurityGroupRule(
            f"{b.name}-sg-{direction}-drop-all",
            security_group_id=group.id,
            type=direction,
            ip_protocol="all",
            port_range="-1/-1",
            cidr_ip="0.0.0.0/0",
            policy="drop",
            priority=100,
            nic_type="intranet",
            description="everything else",
            opts=child,
        )
    return Network(network, switch, group)


def _sg_rule(b: Build, group: ecs.SecurityGroup, label: str, r: Rule) -> ecs.SecurityGroupRule:
    return ecs.SecurityGroupRule(
        f"{b.name}-sg-{label}",
        security_group_id=group.id,
        type=r.direction,
        ip_protocol=r.protocol,
        port_range=f"{r.port}/{r.port}",
        cidr_ip=r.cidr,
        policy="accept",
        priority=1,
        nic_type="intranet",  # the only value for VPC security groups
        description=r.description,
        opts=b.child,
    )


# --------------------------------------------------------------------------------------------
# Secrets: KMS Secrets Manager entries under the CMK, and the role that may read only those
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Secrets:
    secrets: Sequence[kms.Secret]
    role: ram.Role


def _secrets(b: Build, key: kms.Key) -> Secrets:
    secrets = [
        kms.Secret(
            f"{b.name}-{secret_name}",
            secret_name=secret_name,
            secret_data=payload,
            secret_data_type="text",
            version_id=SSM_VERSION_ID,
            encryption_key_id=key.id,
            description="hk-mail server secret, read at boot by the instance role",
            force_delete_without_recovery=False,
            recovery_window_in_days=30,
            opts=b.keep_secret("secret_data"),
        )
        for secret_name, payload in b.secret_payloads().items()
    ]
    return Secrets(secrets, _instance_role(b, key))


def _instance_role(b: Build, key: kms.Key) -> ram.Role:
    """The instance role may read these three secrets, use this key, and write (never delete)
    the journal in the archive bucket; nothing else."""
    refs, account = b.server.secrets, b.args.account_id
    backup_bucket = b.server.backup_bucket or b.server.archive_bucket
    role = ram.Role(
        f"{b.name}-role",
        role_name=refs.role_name,
        description="hk-mail server instance role",
        assume_role_policy_document=json.dumps(
            {
                "Version": "1",
                "Statement": [
                    {
                        "Action": "sts:AssumeRole",
                        "Effect": "Allow",
                        "Principal": {"Service": ["ecs.aliyuncs.com"]},
                    }
                ],
            }
        ),
        opts=b.child,
    )
    secret_arns = [f"acs:kms:{REGION}:{account}:secret/{s}" for s in refs.names()]
    policy = ram.Policy(
        f"{b.name}-read-secrets",
        policy_name=f"{b.prefix}-mail-read-secrets",
        description="hk-mail: read the mail server's secrets only",
        policy_document=key.id.apply(
            lambda key_id: json.dumps(
                {
                    "Version": "1",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": ["kms:GetSecretValue"],
                            "Resource": secret_arns,
                        },
                        {
                            "Effect": "Allow",
                            # GenerateDataKey: writing to the CMK-encrypted archive.
                            "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                            "Resource": [f"acs:kms:{REGION}:{account}:key/{key_id}"],
                        },
                        {
                            # The journal: write and read back its own objects; no delete,
                            # no list (hkmail-journal-upload needs neither).
                            "Effect": "Allow",
                            "Action": ["oss:PutObject", "oss:GetObject"],
                            "Resource": [
                                f"acs:oss:*:{account}:{b.server.archive_bucket}/{JOURNAL_PREFIX}*"
                            ],
                        },
                        {
                            # The journal's spool status (a new object each time): put only.
                            "Effect": "Allow",
                            "Action": ["oss:PutObject"],
                            "Resource": [
                                f"acs:oss:*:{account}:{b.server.archive_bucket}/"
                                f"{SPOOL_STATUS_PREFIX}*"
                            ],
                        },
                        {
                            # The nightly restic backup (hkmail-backup) keeps its repository
                            # under backup/: it reads, writes and prunes only there.
                            "Effect": "Allow",
                            "Action": ["oss:PutObject", "oss:GetObject", "oss:DeleteObject"],
                            "Resource": [f"acs:oss:*:{account}:{backup_bucket}/{BACKUP_PREFIX}*"],
                        },
                        {
                            # hkmail-logship: write (PutLogs) to the server logstore only
                            # (Alibaba Cloud, SLS *RAM policies*, "Upload data to a specified
                            # Logstore": log:Post* on the logstore's ARN).
                            "Effect": "Allow",
                            "Action": ["log:Post*"],
                            "Resource": [
                                f"acs:log:{REGION}:{account}:project/"
                                f"{sls_project(b.prefix, account)}/logstore/{SERVER_LOGSTORE}"
                            ],
                        },
                        {
                            "Effect": "Allow",
                            "Action": ["oss:ListObjects"],
                            "Resource": [f"acs:oss:*:{account}:{backup_bucket}"],
                            "Condition": {"StringLike": {"oss:Prefix": [f"{BACKUP_PREFIX}*"]}},
                        },
                    ],
                }
            )
        ),
        opts=b.child,
    )
    ram.RolePolicyAttachment(
        f"{b.name}-role-policy",
        role_name=role.role_name,
        policy_name=policy.policy_name,
        policy_type="Custom",
        opts=b.child,
    )
    return role


# --------------------------------------------------------------------------------------------
# Compute: the ECS instance booted by cloud-init, its encrypted data disk, daily snapshots
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Compute:
    instance: ecs.Instance
    data_disk: ecs.EcsDisk
    user_data_sha256: str


def _compute(b: Build, key: kms.Key, net: Network, secrets: Secrets) -> Compute:
    args, child = b.args, b.child
    # Daily snapshots kept in Hong Kong: cross-region copy explicitly off.
    snapshots = ecs.AutoSnapshotPolicy(
        f"{b.name}-snapshots",
        auto_snapshot_policy_name=f"{b.prefix}-mail-daily",
        repeat_weekdays=["1", "2", "3", "4", "5", "6", "7"],
        time_points=["2"],
        retention_days=args.snapshot_retention_days,
        enable_cross_region_copy=False,
        opts=child,
    )
    ud = user_data(b.server)
    # SSH by key only: the administrators' key pair (cloud-init turns password logins off).
    key_name: pulumi.Input[str] | None = None
    if args.ssh_public_key:
        pair = ecs.EcsKeyPair(
            f"{b.name}-ssh",
            key_pair_name=f"{b.prefix}-admin",
            public_key=args.ssh_public_key.strip(),
            opts=child,
        )
        key_name = pair.key_pair_name
    instance = ecs.Instance(
        f"{b.name}-ecs",
        instance_name=f"{b.prefix}-mail",
        host_name=b.server.hostname.split(".")[0],
        availability_zone=args.zone,
        image_id=args.image_id,
        instance_type=args.instance_type or DEFAULT_INSTANCE_TYPE,
        vswitch_id=net.switch.id,
        security_groups=[net.group.id],
        system_disk_category="cloud_essd",
        system_disk_size=args.system_disk_gb,
        system_disk_encrypted=True,
        system_disk_kms_key_id=key.id,
        system_disk_auto_snapshot_policy_id=snapshots.id,
        internet_max_bandwidth_out=20,
        role_name=secrets.role.role_name,
        # Metadata only in hardened mode (a session token first, as hkmail-fetch-secrets does):
        # a request forged through a server-side proxy cannot read the role's keys.
        http_endpoint="enabled",
        http_tokens="required",
        key_name=key_name,
        user_data=ud,
        opts=pulumi.ResourceOptions(parent=b.component, depends_on=list(secrets.secrets)),
    )
    # Mailboxes live on this disk: CMK-encrypted, protected, retained.
    data_disk = ecs.EcsDisk(
        f"{b.name}-data",
        disk_name=f"{b.prefix}-mail-data",
        zone_id=args.zone,
        category="cloud_essd",
        size=args.data_disk_gb,
        encrypted=True,
        kms_key_id=key.id,
        delete_auto_snapshot=False,
        delete_with_instance=False,
        opts=b.keep,
    )
    ecs.DiskAttachment(
        f"{b.name}-data-attach", disk_id=data_disk.id, instance_id=instance.id, opts=child
    )
    ecs.EcsAutoSnapshotPolicyAttachment(
        f"{b.name}-snapshots-data",
        auto_snapshot_policy_id=snapshots.id,
        disk_id=data_disk.id,
        opts=child,
    )
    return Compute(instance, data_disk, user_data_hash(ud))


# --------------------------------------------------------------------------------------------
# Storage: the private archive bucket (CMK, versioned, no public access, no replication, WORM)
# --------------------------------------------------------------------------------------------


def _storage(b: Build, key: kms.Key) -> oss.Bucket:
    args = b.args
    bucket = _private_bucket(b, key, "archive", args.archive_bucket)
    if args.retention_days is not None:
        # InProgress can still be removed for 24 h; Locked is irreversible, by design.
        oss.BucketWorm(
            f"{b.name}-archive-worm",
            bucket=bucket.bucket,
            retention_period_in_days=args.retention_days,
            status="Locked" if args.retention_locked else "InProgress",
            opts=b.keep,
        )
    if b.server.backup_bucket:
        # The restic repository's own bucket: the archive's WORM policy would refuse the deletes
        # restic needs (lock files, prune). Same key, versioned, private; no retention policy.
        _private_bucket(b, key, "backup", b.server.backup_bucket)
    return bucket


def _private_bucket(b: Build, key: kms.Key, role: str, name: str) -> oss.Bucket:
    """A mail-data bucket: CMK-encrypted, versioned, never public, kept on destroy."""
    bucket = oss.Bucket(
        f"{b.name}-{role}",
        bucket=name,
        server_side_encryption_rule=BucketServerSideEncryptionRuleArgs(
            sse_algorithm="KMS", kms_master_key_id=key.id
        ),
        versioning=BucketVersioningArgs(status="Enabled"),
        force_destroy=False,
        opts=b.keep,
    )
    oss.BucketPublicAccessBlock(
        f"{b.name}-{role}-no-public",
        bucket=bucket.bucket,
        block_public_access=True,
        opts=b.child,
    )
    return bucket


# --------------------------------------------------------------------------------------------
# Audit: ActionTrail events of every region into an SLS store in Hong Kong
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Audit:
    project: log.Project
    store: log.Store


def _audit(b: Build, key: kms.Key) -> Audit:
    account = b.args.account_id
    project = log.Project(
        f"{b.name}-log",
        project_name=sls_project(b.prefix, account),
        description="hk-mail audit log (Hong Kong)",
        opts=b.keep,
    )
    store = log.Store(
        f"{b.name}-audit",
        project_name=project.project_name,
        logstore_name="actiontrail",
        retention_period=b.args.log_retention_days,
        # BYOK: the store is encrypted with the stack's Hong Kong CMK, which SLS uses through
        # its service role (AliyunLogDefaultRole must be authorised in the account).
        encrypt_conf=StoreEncryptConfArgs(
            enable=True,
            encrypt_type="default",
            user_cmk_info=StoreEncryptConfUserCmkInfoArgs(
                cmk_key_id=key.id,
                arn=f"acs:ram::{account}:role/aliyunlogdefaultrole",
                region_id=REGION,
            ),
        ),
        opts=b.keep,
    )
    _server_log(b, project, key)
    actiontrail.Trail(
        f"{b.name}-trail",
        trail_name=f"{b.prefix}-mail-audit",
        trail_region="All",
        event_rw="All",
        sls_project_arn=project.project_name.apply(
            lambda p: f"acs:log:{REGION}:{account}:project/{p}"
        ),
        status="Enable",
        opts=pulumi.ResourceOptions(parent=b.component, depends_on=[store]),
    )
    return Audit(project, store)


def _server_log(b: Build, project: log.Project, key: kms.Key) -> log.Store:
    """The server's own logs (hkmail-logship), encrypted like the audit store, and an alert when
    an alarm line (BLOCK, LIMIT, ALARM) arrives: any in 5 minutes, checked every minute."""
    account = b.args.account_id
    store = log.Store(
        f"{b.name}-server-log",
        project_name=project.project_name,
        logstore_name=SERVER_LOGSTORE,
        retention_period=b.args.log_retention_days,
        encrypt_conf=StoreEncryptConfArgs(
            enable=True,
            encrypt_type="default",
            user_cmk_info=StoreEncryptConfUserCmkInfoArgs(
                cmk_key_id=key.id,
                arn=f"acs:ram::{account}:role/aliyunlogdefaultrole",
                region_id=REGION,
            ),
        ),
        opts=b.keep,
    )
    # An alert queries an index: the shipper's fields, searchable and (severity) analysable.
    index = log.StoreIndex(
        f"{b.name}-server-log-index",
        project=project.project_name,
        logstore=store.logstore_name,
        field_searches=[
            StoreIndexFieldSearchArgs(name=name, type="text", enable_analytics=True)
            for name in LOG_FIELDS
        ],
        opts=b.child,
    )
    log.Alert(
        f"{b.name}-server-alarm",
        project_name=project.project_name,
        alert_name=f"{b.prefix}-mail-server-alarm",
        alert_displayname="hk-mail: server alarm (blocked client, sending limit, journal, backup)",
        alert_description=(
            "hkmail-authpolicy BLOCK, hkmail-ratelimit LIMIT or an ALARM line of the journal "
            "uploader or the backup arrived from the mail server"
        ),
        version="2.0",
        type="default",
        schedule=AlertScheduleArgs(type="FixedRate", interval="1m"),
        query_lists=[
            AlertQueryListArgs(
                store=store.logstore_name,
                store_type="log",
                project=project.project_name,
                region=REGION,
                start="-300s",
                end="now",
                query=f"{ALARM_QUERY} | select count(1) as alarms",
                power_sql_mode="auto",
            )
        ],
        group_configuration=AlertGroupConfigurationArgs(type="no_group"),
        severity_configurations=[
            AlertSeverityConfigurationArgs(
                severity=8, eval_condition={"condition": "alarms > 0", "count_condition": ""}
            )
        ],
        # The built-in alert policy; who is notified is the account's action policy, chosen in
        # the SLS console (the stack has no alert contact yet).
        policy_configuration=AlertPolicyConfigurationArgs(
            alert_policy_id="sls.builtin.dynamic", repeat_interval="1h"
        ),
        opts=pulumi.ResourceOptions(parent=b.component, depends_on=[index]),
    )
    return store
