"""Leak: webmail served through an Alibaba CDN edge CNAME."""

import pulumi
import pulumi_alicloud as alicloud

hk = alicloud.Provider("hk", region="cn-hongkong")
opts = pulumi.ResourceOptions(provider=hk)

alicloud.dns.AlidnsRecord(
    "webmail",
    domain_name="kowloonbazaar.hk",
    rr="webmail",
    type="CNAME",
    value="webmail.kowloonbazaar.hk.w.kunlunsl.com",
    opts=opts,
)
