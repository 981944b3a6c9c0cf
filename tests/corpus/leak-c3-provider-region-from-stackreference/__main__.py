"""Leak: the provider region read from another stack's output."""

import pulumi
import pulumi_alicloud as alicloud

hk = alicloud.Provider("hk", region="cn-hongkong")
opts = pulumi.ResourceOptions(provider=hk)

shared = pulumi.StackReference("mail-org/shared/prod")
remote = alicloud.Provider("remote", region=shared.get_output("region"))
alicloud.vpc.Network(
    "mail",
    vpc_name="mail",
    cidr_block="10.20.0.0/16",
    opts=pulumi.ResourceOptions(provider=remote),
)
