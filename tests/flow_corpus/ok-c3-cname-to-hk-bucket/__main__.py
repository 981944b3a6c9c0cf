"""Look-alike: a CNAME to a Hong Kong OSS endpoint."""

import pulumi
import pulumi_alicloud as alicloud

hk = alicloud.Provider("hk", region="cn-hongkong")
opts = pulumi.ResourceOptions(provider=hk)

alicloud.dns.AlidnsRecord(
    "static",
    domain_name="kowloonbazaar.hk",
    rr="static",
    type="CNAME",
    value="static-kowloon.oss-cn-hongkong.aliyuncs.com",
    opts=opts,
)
