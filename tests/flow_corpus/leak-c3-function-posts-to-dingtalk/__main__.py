"""Leak: a function whose environment holds a DingTalk robot webhook."""

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
        "ALERT_WEBHOOK": "https://oapi.dingtalk.com/robot/send?access_token=abc123"
    },
    opts=opts,
)
