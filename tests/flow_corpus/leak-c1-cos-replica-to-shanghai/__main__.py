"""Leak: COS cross-region replication from Hong Kong to Shanghai."""

import pulumi
import tencentcloud_iac_pulumi as tencentcloud

hk = tencentcloud.Provider("hk", region="ap-hongkong")
opts = pulumi.ResourceOptions(provider=hk)

tencentcloud.cos.Bucket(
    "archive-1250000000",
    bucket="archive-1250000000",
    encryption_algorithm="KMS",
    kms_id="kms-hk000001",
    versioning_enable=True,
    replica_role="qcs::cam::uin/100000000001:uin/100000000001",
    replica_rules=[
        {
            "id": "all",
            "status": "Enabled",
            "destination_bucket": "qcs::cos:ap-shanghai::archive-sh-1250000000",
        }
    ],
    opts=pulumi.ResourceOptions(provider=hk, protect=True),
)
