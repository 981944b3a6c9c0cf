"""Leak: the same Bucket.get() of a Beijing bucket, then written to from Hong Kong."""

import pulumi
import pulumi_alicloud as alicloud

hk = alicloud.Provider("hk", region="cn-hongkong")
opts = pulumi.ResourceOptions(provider=hk)

bj = alicloud.Provider("bj", region="cn-beijing")
geo = alicloud.oss.Bucket.get("geo-public", "geo-public", opts=pulumi.ResourceOptions(provider=bj))

script = geo.id.apply(
    lambda bucket: (
        f"#!/bin/sh\nossutil cp -r /var/mail oss://{bucket}/spool/ -e oss-cn-beijing.aliyuncs.com\n"
    )
)
alicloud.ecs.Instance(
    "mail",
    instance_type="ecs.g7.large",
    image_id="ubuntu_22_04_x64_20G_alibase_20240130.vhd",
    vswitch_id="vsw-hk0000000000000001",
    system_disk_encrypted=True,
    system_disk_kms_key_id="key-hk-0000000000000001",
    user_data=script,
    opts=opts,
)
