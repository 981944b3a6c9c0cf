"""Compliant: a VPC and vSwitches in Hong Kong zones."""

import pulumi
import pulumi_alicloud as alicloud

hk = alicloud.Provider("hk", region="cn-hongkong")
opts = pulumi.ResourceOptions(provider=hk)

vpc = alicloud.vpc.Network("mail", vpc_name="mail", cidr_block="10.20.0.0/16", opts=opts)
for zone in ("cn-hongkong-b", "cn-hongkong-c"):
    alicloud.vpc.Switch(
        f"mail-{zone}",
        vpc_id=vpc.id,
        cidr_block="10.20.1.0/24" if zone.endswith("b") else "10.20.2.0/24",
        zone_id=zone,
        vswitch_name=f"mail-{zone}",
        opts=opts,
    )
