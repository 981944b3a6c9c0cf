"""Leak: a vSwitch zone taken from another stack's output (unknown before apply)."""

import pulumi
import pulumi_alicloud as alicloud

hk = alicloud.Provider("hk", region="cn-hongkong")
opts = pulumi.ResourceOptions(provider=hk)

net = pulumi.StackReference("mail-org/network/prod")
vpc = alicloud.vpc.Network("mail", vpc_name="mail", cidr_block="10.20.0.0/16", opts=opts)
alicloud.vpc.Switch(
    "mail-a",
    vpc_id=vpc.id,
    cidr_block="10.20.1.0/24",
    zone_id=net.get_output("mailZone"),
    opts=opts,
)
