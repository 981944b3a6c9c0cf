"""Compliant: region words only in names, tags and descriptions."""

import pulumi
import pulumi_alicloud as alicloud

hk = alicloud.Provider("hk", region="cn-hongkong")
opts = pulumi.ResourceOptions(provider=hk)

alicloud.vpc.Network(
    "mail",
    vpc_name="mail-migrated-from-cn-shanghai",
    description="Replaces the cn-shanghai VPC; see ticket MIG-42 (ap-southeast-1 retired too)",
    cidr_block="10.30.0.0/16",
    tags={"migrated-from": "cn-shanghai", "previous-endpoint": "oss-cn-hangzhou.aliyuncs.com"},
    opts=opts,
)
