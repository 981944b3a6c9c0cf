"""Compliant: the provider region from the stack's config, not the environment."""

import pulumi
import pulumi_alicloud as alicloud

hk = alicloud.Provider("hk", region="cn-hongkong")
opts = pulumi.ResourceOptions(provider=hk)

region = pulumi.Config().require("region")
placed = alicloud.Provider("placed", region=region)
alicloud.vpc.Network(
    "mail", vpc_name="mail", cidr_block="10.20.0.0/16", opts=pulumi.ResourceOptions(provider=placed)
)
