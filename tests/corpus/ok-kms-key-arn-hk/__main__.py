"""Compliant: HK KMS key by ARN; tags mention the old region."""

import pulumi
import pulumi_alicloud as alicloud

hk = alicloud.Provider("hk", region="cn-hongkong")
opts = pulumi.ResourceOptions(provider=hk)

alicloud.oss.Bucket(
    "mail-archive",
    bucket="mail-archive-hk",
    server_side_encryption_rule={
        "sse_algorithm": "KMS",
        "kms_master_key_id": "acs:kms:cn-hongkong:1234567890123456:key/key-hk-0000000000000001",
    },
    tags={"migrated-from": "oss-cn-shanghai", "owner": "mail-team"},
    opts=pulumi.ResourceOptions(provider=hk, protect=True),
)
