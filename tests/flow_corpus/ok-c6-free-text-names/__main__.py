"""Look-alike: region words only in names and descriptions."""

import pulumi
import tencentcloud_iac_pulumi as tencentcloud

hk = tencentcloud.Provider("hk", region="ap-hongkong")
opts = pulumi.ResourceOptions(provider=hk)

tencentcloud.tcr.Instance(
    "mail-registry",
    name="mail-registry-for-ap-shanghai-office",
    instance_type="premium",
    tags={"migrated-from": "ap-shanghai"},
    opts=opts,
)
