"""An HK bucket encrypted with a KMS key in Shanghai (region implied by the key's ARN)."""

import pulumi
import pulumi_alicloud as alicloud

hk = alicloud.Provider("hk", region="cn-hongkong")
opts = pulumi.ResourceOptions(provider=hk)

alicloud.oss.Bucket(
    "mail-archive",
    bucket="mail-archive-hk",
    server_side_encryption_rule={
        "sse_algorithm": "KMS",
        "kms_master_key_id": "acs:kms:cn-shanghai:1234567890123456:key/key-sh-0000000000000001",
    },
    opts=pulumi.ResourceOptions(provider=hk, protect=True),
)
