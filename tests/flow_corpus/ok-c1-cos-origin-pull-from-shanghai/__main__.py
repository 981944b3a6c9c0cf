"""Look-alike: COS origin-pull (mirror) into a Hong Kong bucket from a Shanghai bucket."""

import pulumi
import tencentcloud_iac_pulumi as tencentcloud

hk = tencentcloud.Provider("hk", region="ap-hongkong")
opts = pulumi.ResourceOptions(provider=hk)

tencentcloud.cos.Bucket(
    "static-1250000000",
    bucket="static-1250000000",
    encryption_algorithm="KMS",
    kms_id="kms-hk000001",
    origin_pull_rules=[
        {
            "priority": 1,
            "host": "legacy-static-1250000000.cos.ap-shanghai.myqcloud.com",
            "back_to_source_mode": "Mirror",
        }
    ],
    opts=pulumi.ResourceOptions(provider=hk, protect=True),
)
