"""Compliant: snapshots kept in Hong Kong."""

import pulumi
import pulumi_alicloud as alicloud

hk = alicloud.Provider("hk", region="cn-hongkong")
opts = pulumi.ResourceOptions(provider=hk)

alicloud.ecs.AutoSnapshotPolicy(
    "mail-disks",
    auto_snapshot_policy_name="mail-disks-was-cn-shanghai",
    repeat_weekdays=["1", "4"],
    time_points=["2"],
    retention_days=30,
    enable_cross_region_copy=False,
    opts=opts,
)
