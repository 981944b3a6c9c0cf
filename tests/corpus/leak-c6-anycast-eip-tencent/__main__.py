"""The MX host behind a Tencent Anycast EIP."""

import pulumi
import tencentcloud_iac_pulumi as tencentcloud

hk = tencentcloud.Provider("hk", region="ap-hongkong")
opts = pulumi.ResourceOptions(provider=hk)

tencentcloud.eip.Instance(
    "mx-ip", name="mx", type="AnycastEIP", anycast_zone="ANYCAST_ZONE_GLOBAL", opts=opts
)
