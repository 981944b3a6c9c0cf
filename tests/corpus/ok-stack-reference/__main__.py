"""Compliant: a StackReference to the network stack (brings the built-in pulumi provider)."""

import pulumi
import pulumi_alicloud as alicloud

hk = alicloud.Provider("hk", region="cn-hongkong")
opts = pulumi.ResourceOptions(provider=hk)

network = pulumi.StackReference("organization/hk-network/prod")
alicloud.vpc.Network(
    "mail",
    vpc_name="mail",
    cidr_block="10.40.0.0/16",
    description=network.get_output("owner").apply(lambda o: f"managed by {o}"),
    opts=opts,
)
