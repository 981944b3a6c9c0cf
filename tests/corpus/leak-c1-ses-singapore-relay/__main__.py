"""An Alibaba HK mail host relays through Tencent SES in Singapore."""

import pulumi
import pulumi_alicloud as alicloud

hk = alicloud.Provider("hk", region="cn-hongkong")
opts = pulumi.ResourceOptions(provider=hk)

USER_DATA = """#!/bin/bash
cat >> /etc/postfix/main.cf <<'CF'
relayhost = [sg-smtp.qcloudmail.com]:465
smtp_tls_wrappermode = yes
CF
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
