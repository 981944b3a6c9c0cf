"""COS replication to a destination whose region is not a real region id."""

import pulumi
import tencentcloud_iac_pulumi as tencentcloud

hk = tencentcloud.Provider("hk", region="ap-hongkong")
opts = pulumi.ResourceOptions(provider=hk)

tencentcloud.cos.Bucket(
    "mail-archive",
    bucket="mail-archive-1250000000",
    acl="private",
    versioning_enable=True,
    encryption_algorithm="KMS",
    kms_id="kms-hk000001",
    replica_role="qcs::cam::uin/100000000001:uin/100000000001",
    replica_rules=[
        {
            "id": "all",
            "status": "Enabled",
            "destination_bucket": "qcs::cos:hongkong::mail-dr-1250000000",
        }
    ],
    opts=pulumi.ResourceOptions(provider=hk, protect=True),
)
