"""Compliant: MNS notification to an HTTPS endpoint."""

import pulumi
import pulumi_alicloud as alicloud

hk = alicloud.Provider("hk", region="cn-hongkong")
opts = pulumi.ResourceOptions(provider=hk)

alicloud.mns.TopicSubscription(
    "bounce-alerts",
    topic_name="mail-bounces",
    name="ops-hook",
    endpoint="https://hooks.example.hk/mns",
    notify_content_format="SIMPLIFIED",
    opts=opts,
)
