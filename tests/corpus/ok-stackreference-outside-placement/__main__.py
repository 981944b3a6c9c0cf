"""Compliant: another stack's outputs used only for ids, never for placement."""

import pulumi
import pulumi_alicloud as alicloud

hk = alicloud.Provider("hk", region="cn-hongkong")
opts = pulumi.ResourceOptions(provider=hk)

net = pulumi.StackReference("mail-org/network/prod")
alicloud.vpc.Switch(
    "mail-b",
    vpc_id=net.get_output("vpcId"),
    cidr_block="10.20.1.0/24",
    zone_id="cn-hongkong-b",
    opts=opts,
)
