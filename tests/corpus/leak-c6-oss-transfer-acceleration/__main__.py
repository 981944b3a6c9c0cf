"""An HK archive bucket with transfer acceleration switched on."""

import pulumi
import pulumi_alicloud as alicloud

hk = alicloud.Provider("hk", region="cn-hongkong")
opts = pulumi.ResourceOptions(provider=hk)

alicloud.oss.Bucket(
    "mail-archive",
    bucket="mail-archive-hk",
    transfer_acceleration={"enabled": True},
    opts=opts,
)
