"""Leak: the provider region from ALICLOUD_REGION, defaulting to Hong Kong."""

import os

import pulumi
import pulumi_alicloud as alicloud

hk = alicloud.Provider("hk", region="cn-hongkong")
opts = pulumi.ResourceOptions(provider=hk)

placed = alicloud.Provider("placed", region=os.environ.get("ALICLOUD_REGION", "cn-hongkong"))
alicloud.vpc.Network(
    "mail", vpc_name="mail", cidr_block="10.20.0.0/16", opts=pulumi.ResourceOptions(provider=placed)
)
