"""A CWP licence order that leaves region_id to its default (1 = Guangzhou)."""

import pulumi
import tencentcloud_iac_pulumi as tencentcloud

hk = tencentcloud.Provider("hk", region="ap-hongkong")
opts = pulumi.ResourceOptions(provider=hk)

tencentcloud.cwp.LicenseOrder("cwp", alias="mail-hosts", license_type=0, license_num=2, opts=opts)
