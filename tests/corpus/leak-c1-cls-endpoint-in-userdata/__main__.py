"""Tencent LogListener configured for the Guangzhou CLS endpoint."""

import pulumi
import tencentcloud_iac_pulumi as tencentcloud

hk = tencentcloud.Provider("hk", region="ap-hongkong")
opts = pulumi.ResourceOptions(provider=hk)

SCRIPT = """#!/bin/sh
/usr/local/loglistener/tools/loglistener.sh init -secretid "$SID" -secretkey "$SKEY" \\
    -region ap-guangzhou.cls.tencentcs.com -network intra
"""

tencentcloud.instance.Instance(
    "mail",
    availability_zone="ap-hongkong-2",
    image_id="img-hk000001",
    instance_type="S5.MEDIUM4",
    user_data_raw=SCRIPT,
    opts=opts,
)
