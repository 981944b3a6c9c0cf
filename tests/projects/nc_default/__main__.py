"""Fixture: non-compliant - a default provider without a region."""

import tencentcloud_iac_pulumi as tencentcloud

tencentcloud.dnspod.Record(
    "mx",
    domain="example.hk",
    sub_domain="@",
    record_type="MX",
    record_line="默认",
    value="mxbiz1.qq.com.",
    mx=5,
)
