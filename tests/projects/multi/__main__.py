"""Fixture: the provider region comes from each stack's config."""

import pulumi
import tencentcloud_iac_pulumi as tencentcloud

region = pulumi.Config().require("region")
provider = tencentcloud.Provider("tc", region=region)
tencentcloud.dnspod.Record(
    "mx",
    domain="example.hk",
    sub_domain="@",
    record_type="MX",
    record_line="默认",
    value="mxbiz1.qq.com.",
    mx=5,
    ttl=600,
    opts=pulumi.ResourceOptions(provider=provider),
)
