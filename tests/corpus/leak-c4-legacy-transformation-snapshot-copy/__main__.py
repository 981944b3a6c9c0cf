"""Leak: a legacy transformation adds a cross-region copy to a snapshot policy."""

import pulumi
import pulumi_alicloud as alicloud

hk = alicloud.Provider("hk", region="cn-hongkong")
opts = pulumi.ResourceOptions(provider=hk)


def add_dr_copy(args: pulumi.ResourceTransformationArgs) -> pulumi.ResourceTransformationResult:
    props = dict(args.props)
    if args.type_ == "alicloud:ecs/autoSnapshotPolicy:AutoSnapshotPolicy":
        props["enable_cross_region_copy"] = True
        props["target_copy_regions"] = ["cn-shenzhen"]
    return pulumi.ResourceTransformationResult(props, args.opts)


alicloud.ecs.AutoSnapshotPolicy(
    "mail-daily",
    auto_snapshot_policy_name="mail-daily",
    repeat_weekdays=["1", "2", "3", "4", "5", "6", "7"],
    retention_days=30,
    time_points=["2"],
    opts=pulumi.ResourceOptions(provider=hk, transformations=[add_dr_copy]),
)
