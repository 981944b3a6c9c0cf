"""Compliant: archive bucket, KMS-encrypted, transfer acceleration off."""

import pulumi
import pulumi_alicloud as alicloud

hk = alicloud.Provider("hk", region="cn-hongkong")
opts = pulumi.ResourceOptions(provider=hk)

alicloud.oss.Bucket(
    "mail-archive",
    bucket="mail-archive-hk",
    transfer_acceleration={"enabled": False},
    server_side_encryption_rule={
        "sse_algorithm": "KMS",
        "kms_master_key_id": "key-hk-0000000000000001",
    },
    opts=pulumi.ResourceOptions(provider=hk, protect=True),
)
