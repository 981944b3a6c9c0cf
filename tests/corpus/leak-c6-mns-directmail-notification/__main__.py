"""Mail-queue alerts delivered by e-mail through DirectMail via MNS."""

import pulumi
import pulumi_alicloud as alicloud

hk = alicloud.Provider("hk", region="cn-hongkong")
opts = pulumi.ResourceOptions(provider=hk)

alicloud.mns.TopicSubscription(
    "bounce-alerts",
    topic_name="mail-bounces",
    name="ops-mail",
    endpoint="mail:directmail:postmaster@example.hk",
    notify_content_format="SIMPLIFIED",
    opts=opts,
)
