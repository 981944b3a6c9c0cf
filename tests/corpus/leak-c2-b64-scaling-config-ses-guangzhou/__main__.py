"""An auto-scaling MX fleet whose base64 user-data relays through SES Guangzhou."""

import base64

import pulumi
import tencentcloud_iac_pulumi as tencentcloud

hk = tencentcloud.Provider("hk", region="ap-hongkong")
opts = pulumi.ResourceOptions(provider=hk)

SCRIPT = "#!/bin/sh\npostconf -e 'relayhost = [gz-smtp.qcloudmail.com]:465'\n"

tencentcloud.as_.ScalingConfig(
    "mx-scaling",
    configuration_name="mx",
    image_id="img-hk000001",
    instance_types=["S5.MEDIUM4"],
    user_data=base64.b64encode(SCRIPT.encode()).decode(),
    opts=opts,
)
