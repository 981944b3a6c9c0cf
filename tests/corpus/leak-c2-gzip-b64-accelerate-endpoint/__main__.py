"""gzip+base64 user-data uploading through oss-accelerate.aliyuncs.com."""

import base64
import gzip

import pulumi
import pulumi_alicloud as alicloud

hk = alicloud.Provider("hk", region="cn-hongkong")
opts = pulumi.ResourceOptions(provider=hk)

SCRIPT = (
    "#!/bin/sh\nossutil cp -r /var/mail oss://mail-archive-hk/ -e oss-accelerate.aliyuncs.com\n"
)

alicloud.ecs.Instance(
    "mail",
    instance_type="ecs.g7.large",
    image_id="debian_12_6_x64_20G_alibase_20240711.vhd",
    vswitch_id="vsw-hk0000000000000001",
    security_groups=["sg-hk0000000000000001"],
    user_data=base64.b64encode(gzip.compress(SCRIPT.encode())).decode(),
    opts=opts,
)
