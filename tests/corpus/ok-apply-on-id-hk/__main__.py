"""Compliant: a vSwitch created inside an apply() on the VPC id, in a Hong Kong zone."""

import pulumi
import pulumi_alicloud as alicloud

hk = alicloud.Provider("hk", region="cn-hongkong")
opts = pulumi.ResourceOptions(provider=hk)

vpc = alicloud.vpc.Network("mail", vpc_name="mail", cidr_block="10.20.0.0/16", opts=opts)
vpc.id.apply(
    lambda vpc_id: alicloud.vpc.Switch(
        "late",
        vpc_id=vpc_id,
        cidr_block="10.20.9.0/24",
        zone_id="cn-hongkong-c",
        opts=opts,
    )
)
