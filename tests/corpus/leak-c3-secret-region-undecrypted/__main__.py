"""Leak: the provider region is a secret config value the gate cannot decrypt (no passphrase)."""

import pulumi
import pulumi_alicloud as alicloud

hk = alicloud.Provider("hk", region="cn-hongkong")
opts = pulumi.ResourceOptions(provider=hk)

config = pulumi.Config()
placed = alicloud.Provider("placed", region=config.require_secret("region"))
alicloud.vpc.Network(
    "mail", vpc_name="mail", cidr_block="10.20.0.0/16", opts=pulumi.ResourceOptions(provider=placed)
)
