"""ActionTrail events delivered to an SLS project in Shanghai."""

import pulumi
import pulumi_alicloud as alicloud

hk = alicloud.Provider("hk", region="cn-hongkong")
opts = pulumi.ResourceOptions(provider=hk)

alicloud.actiontrail.Trail(
    "audit",
    trail_name="mail-audit",
    trail_region="cn-hongkong",
    sls_project_arn="acs:log:cn-shanghai:1234567890123456:project/mail-audit",
    sls_write_role_arn="acs:ram::1234567890123456:role/aliyunactiontraildefaultrole",
    opts=opts,
)
