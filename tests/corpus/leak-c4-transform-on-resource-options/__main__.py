"""Leak: ResourceOptions(transforms=...) on a disk changes its zone to Beijing."""

import pulumi
import pulumi_alicloud as alicloud

hk = alicloud.Provider("hk", region="cn-hongkong")
opts = pulumi.ResourceOptions(provider=hk)


def beijing(args: pulumi.ResourceTransformArgs) -> pulumi.ResourceTransformResult:
    return pulumi.ResourceTransformResult({**args.props, "zoneId": "cn-beijing-a"}, args.opts)


alicloud.ecs.Disk(
    "archive-disk",
    zone_id="cn-hongkong-b",
    size=100,
    encrypted=True,
    kms_key_id="key-hk-0000000000000001",
    opts=pulumi.ResourceOptions(provider=hk, protect=True, transforms=[beijing]),
)
