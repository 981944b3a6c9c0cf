"""Leak: an instance placed in the zone another resource computes (unknown in preview)."""

import pulumi
import pulumi_alicloud as alicloud

hk = alicloud.Provider("hk", region="cn-hongkong")
opts = pulumi.ResourceOptions(provider=hk)

probe = alicloud.ecs.Instance(
    "probe",
    instance_type="ecs.t6-c1m1.large",
    image_id="debian_12_6_x64_20G_alibase_20240711.vhd",
    vswitch_id="vsw-hk0000000000000001",
    security_groups=["sg-hk0000000000000001"],
    opts=opts,
)
alicloud.ecs.Disk(
    "archive-disk",
    zone_id=probe.availability_zone,
    size=100,
    encrypted=True,
    kms_key_id="key-hk-0000000000000001",
    opts=pulumi.ResourceOptions(provider=hk, protect=True),
)
