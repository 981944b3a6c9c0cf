"""OSS cross-region replication of the archive to Beijing."""

import pulumi
import pulumi_alicloud as alicloud

hk = alicloud.Provider("hk", region="cn-hongkong")
opts = pulumi.ResourceOptions(provider=hk)

alicloud.oss.BucketReplication(
    "mail-archive-dr",
    bucket="mail-archive-hk",
    action="ALL",
    destination={"bucket": "mail-archive-bj", "location": "oss-cn-beijing"},
    opts=opts,
)
