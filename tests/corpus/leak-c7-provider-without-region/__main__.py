"""Leak: an explicit provider with no region: the SDK fills it from ALICLOUD_REGION."""

import pulumi
import pulumi_alicloud as alicloud

hk = alicloud.Provider("hk", region="cn-hongkong")
opts = pulumi.ResourceOptions(provider=hk)

bare = alicloud.Provider("bare")
alicloud.vpc.Network(
    "mail", vpc_name="mail", cidr_block="10.20.0.0/16", opts=pulumi.ResourceOptions(provider=bare)
)
