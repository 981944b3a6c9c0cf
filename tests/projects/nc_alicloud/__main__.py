"""Fixture: non-compliant - an automatic snapshot policy that copies disks to cn-shanghai."""

import pulumi
import pulumi_alicloud as alicloud

hk = alicloud.Provider("hk", region="cn-hongkong")
alicloud.ecs.AutoSnapshotPolicy(
    "mail-disks",
    auto_snapshot_policy_name="mail-disks",
    repeat_weekdays=["1", "4"],
    time_points=["2"],
    retention_days=30,
    enable_cross_region_copy=True,
    target_copy_regions=["cn-shanghai"],
    copied_snapshots_retention_days=30,
    opts=pulumi.ResourceOptions(provider=hk),
)
