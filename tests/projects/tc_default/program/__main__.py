"""Fixture: a resource that uses the default tencentcloud provider (config from the stack)."""

import pulumi
import tencentcloud_iac_pulumi as tencentcloud

zone = pulumi.Config().require("zone")
tencentcloud.dnspod.Record(
    "spf",
    domain=zone,
    sub_domain="@",
    record_type="TXT",
    record_line="默认",
    value="v=spf1 include:spf.mail.qq.com -all",
)
tencentcloud.dnspod.Record(
    "dmarc",
    domain=zone,
    sub_domain="_dmarc",
    record_type="TXT",
    record_line="默认",
    value="v=DMARC1; p=reject",
)
