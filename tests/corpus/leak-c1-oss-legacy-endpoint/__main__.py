"""Archives uploaded with ossutil through OSS's legacy endpoint (Hangzhou)."""

import pulumi
import pulumi_alicloud as alicloud

hk = alicloud.Provider("hk", region="cn-hongkong")
opts = pulumi.ResourceOptions(provider=hk)

USER_DATA = """#!/bin/bash
ossutil config -e oss.aliyuncs.com -i "$AK" -k "$SK"
echo '0 3 * * * root ossutil cp -r /var/mail oss://mail-archive/' > /etc/cron.d/archive
"""

alicloud.ecs.Instance(
    "mail",
    instance_type="ecs.g7.large",
    image_id="debian_12_6_x64_20G_alibase_20240711.vhd",
    vswitch_id="vsw-hk0000000000000001",
    security_groups=["sg-hk0000000000000001"],
    user_data=USER_DATA,
    opts=opts,
)
