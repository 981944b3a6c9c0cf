"""Leak: a Shanghai bucket registered only inside an apply() on a VPC id (preview misses it)."""

import pulumi
import pulumi_alicloud as alicloud

hk = alicloud.Provider("hk", region="cn-hongkong")
opts = pulumi.ResourceOptions(provider=hk)

vpc = alicloud.vpc.Network("mail", vpc_name="mail", cidr_block="10.20.0.0/16", opts=opts)


def after_vpc(vpc_id: str) -> None:
    sh = alicloud.Provider("sh", region="cn-shanghai")
    alicloud.oss.Bucket(
        "flow-logs",
        bucket=f"flow-logs-{vpc_id}",
        opts=pulumi.ResourceOptions(provider=sh, protect=True),
    )


vpc.id.apply(after_vpc)
