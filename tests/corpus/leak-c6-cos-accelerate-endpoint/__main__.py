"""Uploads through the COS global acceleration endpoint."""

import pulumi
import tencentcloud_iac_pulumi as tencentcloud

hk = tencentcloud.Provider("hk", region="ap-hongkong")
opts = pulumi.ResourceOptions(provider=hk)

SCRIPT = "#!/bin/sh\ncoscli sync /var/mail cos://arc-1250000000/ -e cos.accelerate.myqcloud.com\n"

tencentcloud.instance.Instance(
    "mail",
    availability_zone="ap-hongkong-2",
    image_id="img-hk000001",
    instance_type="S5.MEDIUM4",
    user_data_raw=SCRIPT,
    opts=opts,
)
