"""Leak: a CNAME to a Shanghai OSS endpoint (whatever the resolution line)."""

import pulumi
import pulumi_alicloud as alicloud

hk = alicloud.Provider("hk", region="cn-hongkong")
opts = pulumi.ResourceOptions(provider=hk)

alicloud.dns.AlidnsRecord(
    "files",
    domain_name="kowloonbazaar.hk",
    rr="files",
    type="CNAME",
    value="files-kowloon.oss-cn-shanghai.aliyuncs.com",
    line="default",
    opts=opts,
)
