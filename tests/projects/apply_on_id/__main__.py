"""Fixture: a vswitch, a provider and a bucket that only exist once the VPC id is known."""

import pulumi
import pulumi_alicloud as alicloud

hk = alicloud.Provider("hk", region="cn-hongkong")
vpc = alicloud.vpc.Network(
    "vpc", cidr_block="10.0.0.0/16", opts=pulumi.ResourceOptions(provider=hk)
)


def switch(vpc_id):
    alicloud.vpc.Switch(
        "sw",
        vpc_id=vpc_id,
        cidr_block="10.0.1.0/24",
        zone_id="cn-hangzhou-b",
        opts=pulumi.ResourceOptions(provider=hk),
    )
    sh = alicloud.Provider("sh", region="cn-shanghai")
    alicloud.oss.Bucket("b", bucket="b", opts=pulumi.ResourceOptions(provider=sh))


vpc.id.apply(switch)
