"""Compliant: the program reads an owner name from the environment for a tag only."""

import os

import pulumi
import pulumi_alicloud as alicloud

hk = alicloud.Provider("hk", region="cn-hongkong")
opts = pulumi.ResourceOptions(provider=hk)

owner = os.environ.get("HKMAIL_OWNER", "mail-team")
alicloud.vpc.Network(
    "mail", vpc_name="mail", cidr_block="10.20.0.0/16", tags={"owner": owner}, opts=opts
)
