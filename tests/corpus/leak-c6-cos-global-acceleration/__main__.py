"""A COS archive bucket with global acceleration."""

import pulumi
import tencentcloud_iac_pulumi as tencentcloud

hk = tencentcloud.Provider("hk", region="ap-hongkong")
opts = pulumi.ResourceOptions(provider=hk)

tencentcloud.cos.Bucket(
    "mail-archive",
    bucket="mail-archive-1250000000",
    acl="private",
    acceleration_enable=True,
    opts=opts,
)
