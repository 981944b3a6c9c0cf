"""A launch template whose base64 user-data backs up to COS in Shanghai."""

import base64

import pulumi
import pulumi_alicloud as alicloud

hk = alicloud.Provider("hk", region="cn-hongkong")
opts = pulumi.ResourceOptions(provider=hk)

SCRIPT = "#!/bin/sh\ncoscli sync /var/mail cos://bk-1250000000/ -e cos.ap-shanghai.myqcloud.com\n"

alicloud.ecs.EcsLaunchTemplate(
    "mail-lt",
    launch_template_name="mail",
    image_id="debian_12_6_x64_20G_alibase_20240711.vhd",
    instance_type="ecs.g7.large",
    security_group_id="sg-hk0000000000000001",
    vswitch_id="vsw-hk0000000000000001",
    user_data=base64.b64encode(SCRIPT.encode()).decode(),
    opts=opts,
)
