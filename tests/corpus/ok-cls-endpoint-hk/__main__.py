"""Compliant: LogListener to the Hong Kong CLS endpoint."""

import pulumi
import tencentcloud_iac_pulumi as tencentcloud

hk = tencentcloud.Provider("hk", region="ap-hongkong")
opts = pulumi.ResourceOptions(provider=hk)

SCRIPT = """#!/bin/sh
/usr/local/loglistener/tools/loglistener.sh init -secretid "$SID" -secretkey "$SKEY" \\
    -region ap-hongkong.cls.tencentcs.com -network intra
"""

tencentcloud.instance.Instance(
    "mail",
    availability_zone="ap-hongkong-2",
    image_id="img-hk000001",
    instance_type="S5.MEDIUM4",
    user_data_raw=SCRIPT,
    data_disks=[
        {
            "data_disk_type": "CLOUD_PREMIUM",
            "data_disk_size": 100,
            "encrypt": True,
            "kms_key_id": "kms-hk000001",
        }
    ],
    opts=opts,
)
