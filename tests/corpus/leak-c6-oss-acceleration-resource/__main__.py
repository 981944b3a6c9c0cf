"""Transfer acceleration switched on by its own resource."""

import pulumi
import pulumi_alicloud as alicloud

hk = alicloud.Provider("hk", region="cn-hongkong")
opts = pulumi.ResourceOptions(provider=hk)

alicloud.oss.BucketTransferAcceleration("accel", bucket="mail-archive-hk", enabled=True, opts=opts)
