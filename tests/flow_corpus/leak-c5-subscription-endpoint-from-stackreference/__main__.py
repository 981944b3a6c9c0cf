"""Leak: an MNS subscription whose endpoint comes from a StackReference."""

import pulumi
import pulumi_alicloud as alicloud

hk = alicloud.Provider("hk", region="cn-hongkong")
opts = pulumi.ResourceOptions(provider=hk)

shared = pulumi.StackReference("kowloon/shared/prod")
alicloud.mns.TopicSubscription(
    "mail-events",
    topic_name="mail-events",
    endpoint=shared.get_output("alertEndpoint"),
    opts=opts,
)
