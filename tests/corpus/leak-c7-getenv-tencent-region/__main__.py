"""Leak: a Tencent provider whose region comes from TENCENTCLOUD_REGION via os.getenv."""

import os

import pulumi
import pulumi_alicloud as alicloud
import tencentcloud_iac_pulumi as tencentcloud

hk = alicloud.Provider("hk", region="cn-hongkong")
opts = pulumi.ResourceOptions(provider=hk)

tc = tencentcloud.Provider("tc", region=os.getenv("TENCENTCLOUD_REGION") or "ap-hongkong")
tencentcloud.vpc.Instance(
    "mail", cidr_block="10.30.0.0/16", opts=pulumi.ResourceOptions(provider=tc)
)
