"""A Hong Kong provider whose OSS and SLS endpoints point at Shanghai."""

import pulumi
import pulumi_alicloud as alicloud

hk = alicloud.Provider(
    "hk",
    region="cn-hongkong",
    endpoints=[{"oss": "oss-cn-shanghai.aliyuncs.com", "log": "cn-shanghai.log.aliyuncs.com"}],
)
opts = pulumi.ResourceOptions(provider=hk)
alicloud.log.Project("mail-logs", project_name="mail-logs", opts=opts)
