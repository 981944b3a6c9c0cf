"""Leak: a mail classifier calling the DashScope default (Beijing) endpoint."""

import pulumi
import pulumi_alicloud as alicloud

hk = alicloud.Provider("hk", region="cn-hongkong")
opts = pulumi.ResourceOptions(provider=hk)

alicloud.fc.V3Function(
    "mail-notifier",
    function_name="mail-notifier",
    handler="index.handler",
    runtime="python3.10",
    environment_variables={"OPENAI_BASE_URL": "https://dashscope.aliyuncs.com/compatible-mode/v1"},
    opts=opts,
)
