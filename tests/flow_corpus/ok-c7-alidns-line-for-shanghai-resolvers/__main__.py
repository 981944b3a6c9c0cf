"""Look-alike: an Alidns resolution line naming Shanghai."""

import pulumi
import pulumi_alicloud as alicloud

hk = alicloud.Provider("hk", region="cn-hongkong")
opts = pulumi.ResourceOptions(provider=hk)

alicloud.dns.AlidnsRecord(
    "mail-sh-line",
    domain_name="kowloonbazaar.hk",
    rr="mail",
    type="A",
    value="47.242.0.10",
    line="aliyun_r_cn-shanghai",
    opts=opts,
)
