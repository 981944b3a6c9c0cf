"""gzip+base64 user-data that relays outbound mail through DirectMail (Singapore)."""

import base64
import gzip

import pulumi
import tencentcloud_iac_pulumi as tencentcloud

hk = tencentcloud.Provider("hk", region="ap-hongkong")
opts = pulumi.ResourceOptions(provider=hk)

SCRIPT = """#!/bin/sh
postconf -e 'relayhost = [smtpdm-ap-southeast-1.aliyun.com]:465' 'smtp_tls_wrappermode = yes'
"""

tencentcloud.instance.Instance(
    "mail",
    availability_zone="ap-hongkong-2",
    image_id="img-hk000001",
    instance_type="S5.MEDIUM4",
    user_data=base64.b64encode(gzip.compress(SCRIPT.encode())).decode(),
    opts=opts,
)
