"""Compliant: Tencent DTS migration from Guangzhou into Hong Kong."""

import pulumi
import tencentcloud_iac_pulumi as tencentcloud

hk = tencentcloud.Provider("hk", region="ap-hongkong")
opts = pulumi.ResourceOptions(provider=hk)

tencentcloud.dts.MigrateService(
    "mailmeta-migration",
    src_database_type="mysql",
    dst_database_type="cynosdbmysql",
    src_region="ap-guangzhou",
    dst_region="ap-hongkong",
    instance_class="small",
    opts=opts,
)
