"""The Tencent HK mail host relays through the Guangzhou SES SMTP endpoint."""

import pulumi
import tencentcloud_iac_pulumi as tencentcloud

hk = tencentcloud.Provider("hk", region="ap-hongkong")
opts = pulumi.ResourceOptions(provider=hk)

SCRIPT = """#!/bin/sh
postconf -e 'relayhost = [gz-smtp.qcloudmail.com]:465' 'smtp_tls_wrappermode = yes'
systemctl reload postfix
"""

tencentcloud.instance.Instance(
    "mail",
    availability_zone="ap-hongkong-2",
    image_id="img-hk000001",
    instance_type="S5.MEDIUM4",
    user_data_raw=SCRIPT,
    opts=opts,
)
