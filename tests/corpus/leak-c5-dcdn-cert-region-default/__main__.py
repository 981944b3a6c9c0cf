"""DCDN for webmail with a CAS certificate whose region is left to the default."""

import pulumi
import pulumi_alicloud as alicloud

hk = alicloud.Provider("hk", region="cn-hongkong")
opts = pulumi.ResourceOptions(provider=hk)

alicloud.dcdn.Domain(
    "webmail",
    domain_name="webmail.example.hk",
    scope="overseas",
    cert_type="cas",
    cert_name="webmail-example-hk",
    sources=[
        {"content": "203.0.113.10", "type": "ipaddr", "port": 443, "priority": "20", "weight": "10"}
    ],
    opts=opts,
)
