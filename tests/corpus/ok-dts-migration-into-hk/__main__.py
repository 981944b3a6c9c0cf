"""Compliant: DTS migration from Shenzhen into Hong Kong."""

import pulumi
import pulumi_alicloud as alicloud

hk = alicloud.Provider("hk", region="cn-hongkong")
opts = pulumi.ResourceOptions(provider=hk)

alicloud.dts.MigrationInstance(
    "mailmeta-migration",
    payment_type="PayAsYouGo",
    source_endpoint_engine_name="MySQL",
    source_endpoint_region="cn-shenzhen",
    destination_endpoint_engine_name="MySQL",
    destination_endpoint_region="cn-hongkong",
    instance_class="small",
    opts=opts,
)
