"""A Tencent CWP licence order in numeric region 1 (Guangzhou)."""

import pulumi
import tencentcloud_iac_pulumi as tencentcloud

hk = tencentcloud.Provider("hk", region="ap-hongkong")
opts = pulumi.ResourceOptions(provider=hk)

tencentcloud.cwp.LicenseOrder(
    "cwp",
    alias="mail-hosts",
    license_type=0,
    license_num=1,
    region_id=1,
    opts=opts,
)
