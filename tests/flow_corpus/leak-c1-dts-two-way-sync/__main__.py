"""Leak: bidirectional DTS synchronisation between Shanghai and Hong Kong."""

import pulumi
import pulumi_alicloud as alicloud

hk = alicloud.Provider("hk", region="cn-hongkong")
opts = pulumi.ResourceOptions(provider=hk)

alicloud.dts.SynchronizationInstance(
    "mail-db-sync",
    payment_type="PayAsYouGo",
    source_endpoint_engine_name="MySQL",
    source_endpoint_region="cn-shanghai",
    destination_endpoint_engine_name="MySQL",
    destination_endpoint_region="cn-hongkong",
    instance_class="small",
    sync_architecture="bidirectional",
    opts=opts,
)
