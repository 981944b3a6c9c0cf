"""Fixture: placement from a secret config value; the gate must decrypt it as the CLI would."""

import pulumi
import pulumi_alicloud as alicloud

config = pulumi.Config()
region = config.require_secret("region")
provider = alicloud.Provider("p", region=region)
alicloud.vpc.Network(
    "vpc", cidr_block="10.0.0.0/16", opts=pulumi.ResourceOptions(provider=provider)
)
