"""Leak: the vSwitch zone from a custom MAIL_ZONE environment variable."""

import os

import pulumi
import pulumi_alicloud as alicloud

hk = alicloud.Provider("hk", region="cn-hongkong")
opts = pulumi.ResourceOptions(provider=hk)

vpc = alicloud.vpc.Network("mail", vpc_name="mail", cidr_block="10.20.0.0/16", opts=opts)
alicloud.vpc.Switch(
    "mail-b",
    vpc_id=vpc.id,
    cidr_block="10.20.1.0/24",
    zone_id=os.environ.get("MAIL_ZONE", "cn-hongkong-b"),
    opts=opts,
)
