"""Base64 user-data relaying through Tencent SES Singapore."""

import base64

import pulumi
import tencentcloud_iac_pulumi as tencentcloud

hk = tencentcloud.Provider("hk", region="ap-hongkong")
opts = pulumi.ResourceOptions(provider=hk)

SCRIPT = "#!/bin/sh\npostconf -e 'relayhost = [sg-smtp.qcloudmail.com]:465'\n"

tencentcloud.instance.Instance(
    "mail",
    availability_zone="ap-hongkong-3",
    image_id="img-hk000001",
    instance_type="S5.MEDIUM4",
    user_data=base64.b64encode(SCRIPT.encode()).decode(),
    opts=opts,
)
