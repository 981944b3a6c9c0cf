"""Tencent CDN in front of the attachments bucket."""

import pulumi
import tencentcloud_iac_pulumi as tencentcloud

hk = tencentcloud.Provider("hk", region="ap-hongkong")
opts = pulumi.ResourceOptions(provider=hk)

tencentcloud.cdn.Domain(
    "webmail-static",
    domain="static.example.hk",
    service_type="web",
    area="overseas",
    origin={
        "origin_type": "cos",
        "origin_lists": ["mail-att-1250000000.cos.ap-hongkong.myqcloud.com"],
    },
    opts=opts,
)
