"""Compliant: gzip+base64 user-data, COS Hong Kong endpoint."""

import base64
import gzip

import pulumi
import tencentcloud_iac_pulumi as tencentcloud

hk = tencentcloud.Provider("hk", region="ap-hongkong")
opts = pulumi.ResourceOptions(provider=hk)

SCRIPT = "#!/bin/sh\ncoscli sync /var/mail cos://bk-1250000000/ -e cos.ap-hongkong.myqcloud.com\n"

tencentcloud.instance.Instance(
    "mail",
    availability_zone="ap-hongkong-3",
    image_id="img-hk000001",
    instance_type="S5.MEDIUM4",
    user_data=base64.b64encode(gzip.compress(SCRIPT.encode())).decode(),
    opts=opts,
)
