"""Leak: OSS cross-region replication to a location another stack decides."""

import pulumi
import pulumi_alicloud as alicloud

hk = alicloud.Provider("hk", region="cn-hongkong")
opts = pulumi.ResourceOptions(provider=hk)

dr = pulumi.StackReference("mail-org/dr/prod")
alicloud.oss.BucketReplication(
    "archive-replication",
    bucket="mail-archive-hk",
    action="PUT",
    destination=alicloud.oss.BucketReplicationDestinationArgs(
        bucket="mail-archive-dr", location=dr.get_output("ossLocation")
    ),
    opts=opts,
)
