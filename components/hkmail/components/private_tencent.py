"""The private mail server on Tencent Cloud in Hong Kong (ap-hongkong).

Every child is parented to the component and so uses the provider passed in through ``opts``
(``providers=``/``provider=``); nothing can fall back to a default provider. Data-bearing resources
(KMS key, disks, archive bucket, log set and topic, secrets) are protected and retained on delete.

Known limits of tencentcloud-iac-pulumi 0.2.3: the CVM resource has no system-disk encryption
input (the system disk is encrypted only when the image is), so mailboxes live on the separate
CMK-encrypted data disk; COS has no object-lock (WORM) resource and CLS topics no CMK setting.
"""

from __future__ import annotations

import dataclasses
import json

import pulumi
from tencentcloud_iac_pulumi import audit, cam, cbs, cls, cos, instance, kms, security, ssm, vpc
from tencentcloud_iac_pulumi import subnet as tc_subnet
from tencentcloud_iac_pulumi.security import (
    GroupRuleSetEgressArgs,
    GroupRuleSetIngressArgs,
)

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

REGION = SECRET_REGION["tencentcloud"]
DEFAULT_INSTANCE_TYPE = "S5.MEDIUM4"
DEFAULT_DATA_DEVICE = "/dev/vdb"


class TencentMailServer(pulumi.ComponentResource):
    """VPC, security group, CMK, encrypted disks, CVM with the mail server, COS archive, CLS
    audit log, SSM secrets and the CAM role that may read only those secrets."""

    public_ip: pulumi.Output[str]
    ptr_record: pulumi.Output[str]
    user_data_sha256: str

    def __init__(
        self, name: str, args: PrivateMailServerArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        validate(args, "tencentcloud")  # before anything is registered
        super().__init__("hkmail:private:TencentMailServer", name, None, opts)
        server = args.server
        if server.data_device is None:
            server = dataclasses.replace(server, data_device=DEFAULT_DATA_DEVICE)
        n = args.name
        child = pulumi.ResourceOptions(parent=self)
        # Data-bearing: never deleted by Pulumi, and a `pulumi destroy` leaves them in place.
        keep = pulumi.ResourceOptions(parent=self, protect=True, retain_on_delete=True)

        key = kms.Key(
            f"{name}-cmk",
            alias=f"{n}-mail",
            description="hk-mail: disks, archive and secrets of the Hong Kong mail server",
            key_usage="ENCRYPT_DECRYPT",
            key_rotation_enabled=True,
            is_enabled=True,
            pending_delete_window_in_days=30,
            opts=keep,
        )

        network = vpc.Instance(f"{name}-vpc", name=f"{n}-vpc", cidr_block=args.vpc_cidr, opts=child)
        subnet = tc_subnet.Instance(
            f"{name}-subnet",
            name=f"{n}-subnet",
            vpc_id=network.id,
            cidr_block=args.subnet_cidr,
            availability_zone=args.zone,
            opts=child,
        )

        group = security.Group(
            f"{name}-sg", name=f"{n}-mail", description="hk-mail server", opts=child
        )
        rules = firewall_rules(server.admin_cidr, server.relay.port)

        def ingress(r: Rule) -> GroupRuleSetIngressArgs:
            return GroupRuleSetIngressArgs(
                action="ACCEPT",
                protocol=r.protocol.upper(),
                port=str(r.port),
                cidr_block=r.cidr,
                description=r.description,
            )

        def egress(r: Rule) -> GroupRuleSetEgressArgs:
            return GroupRuleSetEgressArgs(
                action="ACCEPT",
                protocol=r.protocol.upper(),
                port=str(r.port),
                cidr_block=r.cidr,
                description=r.description,
            )

        # Tencent evaluates rules in order: the explicit DROP ALL closes everything not listed.
        security.GroupRuleSet(
            f"{name}-sg-rules",
            security_group_id=group.id,
            ingresses=[
                *(ingress(r) for r in rules if r.direction == "ingress"),
                GroupRuleSetIngressArgs(
                    action="DROP",
                    protocol="ALL",
                    port="ALL",
                    cidr_block="0.0.0.0/0",
                    description="everything else",
                ),
            ],
            egresses=[
                *(egress(r) for r in rules if r.direction == "egress"),
                GroupRuleSetEgressArgs(
                    action="DROP",
                    protocol="ALL",
                    port="ALL",
                    cidr_block="0.0.0.0/0",
                    description="everything else",
                ),
            ],
            opts=child,
        )

        # Secrets: names from the server config, values only ever as Pulumi secrets.
        refs = server.secrets
        payloads: dict[str, pulumi.Output[str]] = {
            refs.dkim_private_key: pulumi.Output.secret(args.dkim_private_key),
            refs.mailbox_hashes: secret_json(args.mailbox_password_hashes),
            refs.relay_credentials: secret_json(
                {"username": args.relay_username, "password": args.relay_password}
            ),
        }
        secrets = []
        for secret_name, payload in payloads.items():
            secret = ssm.Secret(
                f"{name}-{secret_name}",
                secret_name=secret_name,
                description="hk-mail server secret, read at boot by the instance role",
                kms_key_id=key.id,
                is_enabled=True,
                recovery_window_in_days=30,
                opts=keep,
            )
            ssm.SecretVersion(
                f"{name}-{secret_name}-{SSM_VERSION_ID}",
                secret_name=secret.secret_name,
                version_id=SSM_VERSION_ID,
                secret_string=payload,
                opts=pulumi.ResourceOptions(
                    parent=self,
                    protect=True,
                    retain_on_delete=True,
                    additional_secret_outputs=["secret_string"],
                ),
            )
            secrets.append(secret)

        # The instance role may read these three secrets and decrypt with this key, nothing else.
        uin = args.account_id
        role = cam.Role(
            f"{name}-role",
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
            opts=child,
        )
        secret_resources = [
            f"qcs::ssm:{REGION}:uin/{uin}:secret/creatorUin/{uin}/{s}" for s in refs.names()
        ]
        policy = cam.Policy(
            f"{name}-read-secrets",
            name=f"{n}-mail-read-secrets",
            description="hk-mail: read the mail server's secrets only",
            document=key.id.apply(
                lambda key_id: json.dumps(
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
                                "action": ["kms:Decrypt"],
                                "resource": [f"qcs::kms:{REGION}:uin/{uin}:key/{key_id}"],
                            },
                        ],
                    }
                )
            ),
            opts=child,
        )
        cam.RolePolicyAttachment(
            f"{name}-role-policy", role_id=role.id, policy_id=policy.id, opts=child
        )

        # Mailboxes live on this disk: CMK-encrypted, protected, retained.
        data_disk = cbs.Storage(
            f"{name}-data",
            storage_name=f"{n}-mail-data",
            storage_type="CLOUD_PREMIUM",
            storage_size=args.data_disk_gb,
            availability_zone=args.zone,
            encrypt=True,
            kms_key_id=key.id,
            force_delete=False,
            opts=keep,
        )

        ud = user_data(server)
        self.user_data_sha256 = user_data_hash(ud)
        cvm = instance.Instance(
            f"{name}-cvm",
            instance_name=f"{n}-mail",
            hostname=server.hostname.split(".")[0],
            availability_zone=args.zone,
            image_id=args.image_id,
            instance_type=args.instance_type or DEFAULT_INSTANCE_TYPE,
            vpc_id=network.id,
            subnet_id=subnet.id,
            orderly_security_groups=[group.id],
            system_disk_type="CLOUD_PREMIUM",
            system_disk_size=args.system_disk_gb,
            allocate_public_ip=True,
            internet_max_bandwidth_out=20,
            cam_role_name=role.name,
            user_data_raw=ud,
            disable_api_termination=True,
            opts=pulumi.ResourceOptions(parent=self, depends_on=secrets),
        )
        cbs.StorageAttachment(
            f"{name}-data-attach", storage_id=data_disk.id, instance_id=cvm.id, opts=child
        )

        # Daily snapshots kept in Hong Kong: a CBS snapshot policy has no cross-region copy.
        snapshots = cbs.SnapshotPolicy(
            f"{name}-snapshots",
            snapshot_policy_name=f"{n}-mail-daily",
            repeat_weekdays=[0, 1, 2, 3, 4, 5, 6],
            repeat_hours=[2],
            retention_days=args.snapshot_retention_days,
            opts=child,
        )
        cbs.SnapshotPolicyAttachment(
            f"{name}-snapshots-data",
            snapshot_policy_id=snapshots.id,
            storage_id=data_disk.id,
            opts=child,
        )

        # Private archive: CMK-encrypted, versioned, no replication rules.
        bucket = cos.Bucket(
            f"{name}-archive",
            bucket=f"{args.archive_bucket}-{args.app_id}",
            acl="private",
            encryption_algorithm="KMS",
            kms_id=key.id,
            versioning_enable=True,
            force_clean=False,
            opts=keep,
        )

        # Audit: CloudAudit events of the account into a CLS topic in Hong Kong.
        logset = cls.Logset(f"{name}-logset", logset_name=f"{n}-mail-audit", opts=keep)
        topic = cls.Topic(
            f"{name}-audit",
            logset_id=logset.id,
            topic_name=f"{n}-mail-audit",
            period=args.log_retention_days,
            storage_type="hot",
            auto_split=True,
            opts=keep,
        )
        audit.Track(
            f"{name}-track",
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
            opts=child,
        )

        self.public_ip = cvm.public_ip
        self.ptr_record = cvm.public_ip.apply(lambda ip: ptr_record(ip, server.hostname))
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
                "secretNames": list(refs.names()),
            }
        )
