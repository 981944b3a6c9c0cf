"""Leak: a zone returned by get_zones in Shanghai used to place a vSwitch."""

import pulumi
import pulumi_alicloud as alicloud

hk = alicloud.Provider("hk", region="cn-hongkong")
opts = pulumi.ResourceOptions(provider=hk)

sh = alicloud.Provider("sh", region="cn-shanghai")
zones = alicloud.get_zones(
    available_resource_creation="VSwitch", opts=pulumi.InvokeOptions(provider=sh)
)
vpc = alicloud.vpc.Network("mail", vpc_name="mail", cidr_block="10.20.0.0/16", opts=opts)
alicloud.vpc.Switch(
    "mail-a", vpc_id=vpc.id, cidr_block="10.20.1.0/24", zone_id=zones.zones[0].id, opts=opts
)
