"""Snapshot copies to a region read from another stack (unknown before apply)."""

import pulumi
import pulumi_alicloud as alicloud

hk = alicloud.Provider("hk", region="cn-hongkong")
opts = pulumi.ResourceOptions(provider=hk)

dr = pulumi.StackReference("organization/hk-dr/prod")
alicloud.ecs.AutoSnapshotPolicy(
    "mail-disks",
    auto_snapshot_policy_name="mail-disks",
    repeat_weekdays=["1", "4"],
    time_points=["2"],
    retention_days=30,
    enable_cross_region_copy=True,
    target_copy_regions=[dr.get_output("drRegion")],
    copied_snapshots_retention_days=30,
    opts=opts,
)
