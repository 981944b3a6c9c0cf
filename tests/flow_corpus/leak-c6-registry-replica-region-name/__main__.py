"""Leak: TCR replication to Shanghai named through regionName."""

import pulumi
import tencentcloud_iac_pulumi as tencentcloud

hk = tencentcloud.Provider("hk", region="ap-hongkong")
opts = pulumi.ResourceOptions(provider=hk)

tencentcloud.tcr.Instance(
    "mail-registry",
    name="mail-registry",
    instance_type="premium",
    replications=[{"region_name": "ap-shanghai"}],
    opts=opts,
)
