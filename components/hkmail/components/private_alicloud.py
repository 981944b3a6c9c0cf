"""The private mail server on Alibaba Cloud in Hong Kong (cn-hongkong).

Every child is parented to the component and so uses the provider passed in through ``opts``;
nothing can fall back to a default provider. Data-bearing resources (KMS key, data disk, archive
bucket and its WORM policy, log project and store, secrets) are protected and retained on delete.
"""

from __future__ import annotations

import dataclasses
import json

import pulumi
from pulumi_alicloud import actiontrail, ecs, kms, log, oss, ram, vpc
from pulumi_alicloud.log import StoreEncryptConfArgs, StoreEncryptConfUserCmkInfoArgs
from pulumi_alicloud.oss import BucketServerSideEncryptionRuleArgs, BucketVersioningArgs

from hkmail.mailserver import user_data, user_data_hash
from hkmail.mailserver.deploy import (
    PrivateMailServerArgs,
    Rule,
    firewall_rules,
    ptr_record,
    secret_json,
    validate,
)
from hkmail.mailserver.fetch_secrets import SSM_VERSION_ID
from hkmail.mailserver.model import SECRET_REGION

REGION = SECRET_REGION["alicloud"]
DEFAULT_INSTANCE_TYPE = "ecs.g7.large"
DEFAULT_DATA_DEVICE = "/dev/vdb"


class AlicloudMailServer(pulumi.ComponentResource):
    """VPC, security group, CMK, encrypted disks, ECS with the mail server, OSS archive (WORM
    optional), ActionTrail to SLS, KMS secrets and the RAM role that may read only those."""

    public_ip: pulumi.Output[str]
    ptr_record: pulumi.Output[str]
    user_data_sha256: str

    def __init__(
        self, name: str, args: PrivateMailServerArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        validate(args, "alicloud")  # before anything is registered
        super().__init__("hkmail:private:AlicloudMailServer", name, None, opts)
        server = args.server
        if server.data_device is None:
            server = dataclasses.replace(server, data_device=DEFAULT_DATA_DEVICE)
        n = args.name
        account = args.account_id
        child = pulumi.ResourceOptions(parent=self)
        # Data-bearing: never deleted by Pulumi, and a `pulumi destroy` leaves them in place.
        keep = pulumi.ResourceOptions(parent=self, protect=True, retain_on_delete=True)

        key = kms.Key(
            f"{name}-cmk",
            description="hk-mail: disks, archive and secrets of the Hong Kong mail server",
            key_usage="ENCRYPT/DECRYPT",
            key_spec="Aliyun_AES_256",
            automatic_rotation="Enabled",
            rotation_interval="365d",
            pending_window_in_days=30,
            deletion_protection="Enabled",
            opts=keep,
        )

        network = vpc.Network(
            f"{name}-vpc", vpc_name=f"{n}-vpc", cidr_block=args.vpc_cidr, opts=child
        )
        switch = vpc.Switch(
            f"{name}-vswitch",
            vswitch_name=f"{n}-vswitch",
            vpc_id=network.id,
            cidr_block=args.subnet_cidr,
            zone_id=args.zone,
            opts=child,
        )

        group = ecs.SecurityGroup(
            f"{name}-sg",
            security_group_name=f"{n}-mail",
            description="hk-mail server",
            vpc_id=network.id,
            opts=child,
        )

        def sg_rule(label: str, r: Rule) -> ecs.SecurityGroupRule:
            return ecs.SecurityGroupRule(
                f"{name}-sg-{label}",
                security_group_id=group.id,
                type=r.direction,
                ip_protocol=r.protocol,
                port_range=f"{r.port}/{r.port}",
                cidr_ip=r.cidr,
                policy="accept",
                priority=1,
                nic_type="intranet",  # the only value for VPC security groups
                description=r.description,
                opts=child,
            )

        for r in firewall_rules(server.admin_cidr, server.relay.port):
            sg_rule(f"{r.direction}-{r.protocol}-{r.port}", r)
        # Alibaba allows all egress unless told otherwise: a lowest-priority drop closes the rest.
        for direction in ("ingress", "egress"):
            ecs.SecurityGroupRule(
                f"{name}-sg-{direction}-drop-all",
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

        # Secrets in KMS Secrets Manager, encrypted with the CMK; values only as Pulumi secrets.
        refs = server.secrets
        payloads: dict[str, pulumi.Output[str]] = {
            refs.dkim_private_key: pulumi.Output.secret(args.dkim_private_key),
            refs.mailbox_hashes: secret_json(args.mailbox_password_hashes),
            refs.relay_credentials: secret_json(
                {"username": args.relay_username, "password": args.relay_password}
            ),
        }
        secrets = [
            kms.Secret(
                f"{name}-{secret_name}",
                secret_name=secret_name,
                secret_data=payload,
                secret_data_type="text",
                version_id=SSM_VERSION_ID,
                encryption_key_id=key.id,
                description="hk-mail server secret, read at boot by the instance role",
                force_delete_without_recovery=False,
                recovery_window_in_days=30,
                opts=pulumi.ResourceOptions(
                    parent=self,
                    protect=True,
                    retain_on_delete=True,
                    additional_secret_outputs=["secret_data"],
                ),
            )
            for secret_name, payload in payloads.items()
        ]

        # The instance role may read these three secrets and decrypt with this key, nothing else.
        role = ram.Role(
            f"{name}-role",
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
            opts=child,
        )
        secret_arns = [f"acs:kms:{REGION}:{account}:secret/{s}" for s in refs.names()]
        policy = ram.Policy(
            f"{name}-read-secrets",
            policy_name=f"{n}-mail-read-secrets",
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
                                "Action": ["kms:Decrypt"],
                                "Resource": [f"acs:kms:{REGION}:{account}:key/{key_id}"],
                            },
                        ],
                    }
                )
            ),
            opts=child,
        )
        ram.RolePolicyAttachment(
            f"{name}-role-policy",
            role_name=role.role_name,
            policy_name=policy.policy_name,
            policy_type="Custom",
            opts=child,
        )

        # Daily snapshots kept in Hong Kong: cross-region copy explicitly off.
        snapshots = ecs.AutoSnapshotPolicy(
            f"{name}-snapshots",
            auto_snapshot_policy_name=f"{n}-mail-daily",
            repeat_weekdays=["1", "2", "3", "4", "5", "6", "7"],
            time_points=["2"],
            retention_days=args.snapshot_retention_days,
            enable_cross_region_copy=False,
            opts=child,
        )

        ud = user_data(server)
        self.user_data_sha256 = user_data_hash(ud)
        instance = ecs.Instance(
            f"{name}-ecs",
            instance_name=f"{n}-mail",
            host_name=server.hostname.split(".")[0],
            availability_zone=args.zone,
            image_id=args.image_id,
            instance_type=args.instance_type or DEFAULT_INSTANCE_TYPE,
            vswitch_id=switch.id,
            security_groups=[group.id],
            system_disk_category="cloud_essd",
            system_disk_size=args.system_disk_gb,
            system_disk_encrypted=True,
            system_disk_kms_key_id=key.id,
            system_disk_auto_snapshot_policy_id=snapshots.id,
            internet_max_bandwidth_out=20,
            role_name=role.role_name,
            user_data=ud,
            opts=pulumi.ResourceOptions(parent=self, depends_on=secrets),
        )

        # Mailboxes live on this disk: CMK-encrypted, protected, retained.
        data_disk = ecs.EcsDisk(
            f"{name}-data",
            disk_name=f"{n}-mail-data",
            zone_id=args.zone,
            category="cloud_essd",
            size=args.data_disk_gb,
            encrypted=True,
            kms_key_id=key.id,
            delete_auto_snapshot=False,
            delete_with_instance=False,
            opts=keep,
        )
        ecs.DiskAttachment(
            f"{name}-data-attach", disk_id=data_disk.id, instance_id=instance.id, opts=child
        )
        ecs.EcsAutoSnapshotPolicyAttachment(
            f"{name}-snapshots-data",
            auto_snapshot_policy_id=snapshots.id,
            disk_id=data_disk.id,
            opts=child,
        )

        # Private archive: CMK-encrypted, versioned, public access blocked, no replication.
        bucket = oss.Bucket(
            f"{name}-archive",
            bucket=args.archive_bucket,
            server_side_encryption_rule=BucketServerSideEncryptionRuleArgs(
                sse_algorithm="KMS", kms_master_key_id=key.id
            ),
            versioning=BucketVersioningArgs(status="Enabled"),
            force_destroy=False,
            opts=keep,
        )
        oss.BucketPublicAccessBlock(
            f"{name}-archive-no-public",
            bucket=bucket.bucket,
            block_public_access=True,
            opts=child,
        )
        if args.retention_days is not None:
            # InProgress can still be removed for 24 h; Locked is irreversible, by design.
            oss.BucketWorm(
                f"{name}-archive-worm",
                bucket=bucket.bucket,
                retention_period_in_days=args.retention_days,
                status="Locked" if args.retention_locked else "InProgress",
                opts=keep,
            )

        # Audit: ActionTrail events of every region into an SLS store in Hong Kong.
        project = log.Project(
            f"{name}-log",
            project_name=f"{n}-mail-audit-{account}",
            description="hk-mail audit log (Hong Kong)",
            opts=keep,
        )
        store = log.Store(
            f"{name}-audit",
            project_name=project.project_name,
            logstore_name="actiontrail",
            retention_period=args.log_retention_days,
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
            opts=keep,
        )
        actiontrail.Trail(
            f"{name}-trail",
            trail_name=f"{n}-mail-audit",
            trail_region="All",
            event_rw="All",
            sls_project_arn=project.project_name.apply(
                lambda p: f"acs:log:{REGION}:{account}:project/{p}"
            ),
            status="Enable",
            opts=pulumi.ResourceOptions(parent=self, depends_on=[store]),
        )

        self.public_ip = instance.public_ip
        self.ptr_record = instance.public_ip.apply(lambda ip: ptr_record(ip, server.hostname))
        self.kms_key_id = key.id
        self.archive_bucket = bucket.bucket
        self.audit_log_store = store.logstore_name
        self.register_outputs(
            {
                "publicIp": self.public_ip,
                "ptrRecord": self.ptr_record,
                "userDataSha256": self.user_data_sha256,
                "kmsKeyId": key.id,
                "archiveBucket": bucket.bucket,
                "auditLogProject": project.project_name,
                "secretNames": list(refs.names()),
            }
        )
