"""Look-alike: a function reading packages from the Alibaba mirror."""

import pulumi
import pulumi_alicloud as alicloud

hk = alicloud.Provider("hk", region="cn-hongkong")
opts = pulumi.ResourceOptions(provider=hk)

alicloud.fc.V3Function(
    "mail-notifier",
    function_name="mail-notifier",
    handler="index.handler",
    runtime="python3.10",
    environment_variables={
        "PIP_INDEX_URL": "https://mirrors.aliyun.com/pypi/simple/",
        "NTP_SERVER": "ntp.aliyun.com",
    },
    opts=opts,
)
