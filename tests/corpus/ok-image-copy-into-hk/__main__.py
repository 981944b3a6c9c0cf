"""Compliant: copy the golden image from Shanghai into Hong Kong."""

import pulumi
import pulumi_alicloud as alicloud

hk = alicloud.Provider("hk", region="cn-hongkong")
opts = pulumi.ResourceOptions(provider=hk)

alicloud.ecs.ImageCopy(
    "mail-image",
    source_image_id="m-uf6000000000000000001",
    source_region_id="cn-shanghai",
    image_name="mail-golden",
    encrypted=True,
    kms_key_id="key-hk-0000000000000001",
    opts=opts,
)
