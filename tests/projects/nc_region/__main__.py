"""Fixture: non-compliant - DNS records managed through a provider in ap-guangzhou."""

import pulumi
import tencentcloud_iac_pulumi as tencentcloud

gz = tencentcloud.Provider("gz", region="ap-guangzhou")
opts = pulumi.ResourceOptions(provider=gz)
tencentcloud.dnspod.Record(
    "mx",
    domain="example.hk",
    sub_domain="@",
    record_type="MX",
    record_line="默认",
    value="mxbiz1.qq.com.",
    mx=5,
    ttl=300,
    opts=opts,
)
tencentcloud.dnspod.Record(
    "legacy-spf",
    domain="example.hk",
    sub_domain="@",
    record_type="TXT",
    record_line="默认",
    value="v=spf1 -all",
    opts=opts,
)
