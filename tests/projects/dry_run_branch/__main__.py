"""Fixture: a leak hidden from previews by asking pulumi.runtime.is_dry_run()."""

import pulumi
import pulumi_alicloud as alicloud

hk = alicloud.Provider("hk", region="cn-hongkong")
alicloud.vpc.Network("vpc", cidr_block="10.0.0.0/16", opts=pulumi.ResourceOptions(provider=hk))
if not pulumi.runtime.is_dry_run():
    sh = alicloud.Provider("sh", region="cn-shanghai")
    alicloud.vpc.Network("late", cidr_block="10.1.0.0/16", opts=pulumi.ResourceOptions(provider=sh))
