"""Compliant: an instance placed in the zone of a Hong Kong vSwitch (an output)."""

import pulumi
import pulumi_alicloud as alicloud

hk = alicloud.Provider("hk", region="cn-hongkong")
opts = pulumi.ResourceOptions(provider=hk)

vpc = alicloud.vpc.Network("mail", vpc_name="mail", cidr_block="10.50.0.0/16", opts=opts)
vsw = alicloud.vpc.Switch(
    "mail-b", vpc_id=vpc.id, cidr_block="10.50.1.0/24", zone_id="cn-hongkong-b", opts=opts
)
alicloud.ecs.Instance(
    "mail",
    instance_type="ecs.g7.large",
    image_id="debian_12_6_x64_20G_alibase_20240711.vhd",
    vswitch_id=vsw.id,
    availability_zone=vsw.zone_id,
    security_groups=["sg-hk0000000000000001"],
    system_disk_encrypted=True,
    system_disk_kms_key_id="key-hk-0000000000000001",
    opts=opts,
)
