"""Compliant: a regular EIP for the MX host."""

import pulumi
import tencentcloud_iac_pulumi as tencentcloud

hk = tencentcloud.Provider("hk", region="ap-hongkong")
opts = pulumi.ResourceOptions(provider=hk)

tencentcloud.eip.Instance(
    "mx-ip", name="mx", type="EIP", internet_service_provider="BGP", opts=opts
)
