"""Client autoconfiguration served by an API Gateway service in Guangzhou."""

import pulumi
import tencentcloud_iac_pulumi as tencentcloud

hk = tencentcloud.Provider("hk", region="ap-hongkong")
opts = pulumi.ResourceOptions(provider=hk)

tencentcloud.dnspod.Record(
    "autoconfig",
    domain="example.hk",
    sub_domain="autoconfig",
    record_type="CNAME",
    record_line="默认",
    value="service-ohxqslqe-1259649581.gz.apigw.tencentcs.com.",
    ttl=600,
    opts=opts,
)
