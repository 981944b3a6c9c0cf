"""A notification function that sends mail through the DirectMail API (Singapore)."""

import pulumi
import pulumi_alicloud as alicloud

hk = alicloud.Provider("hk", region="cn-hongkong")
opts = pulumi.ResourceOptions(provider=hk)

alicloud.fc.V3Function(
    "notify",
    function_name="mail-notify",
    runtime="python3.10",
    handler="index.handler",
    memory_size=256,
    environment_variables={
        "DM_ENDPOINT": "dm.ap-southeast-1.aliyuncs.com",
        "DM_FROM": "noreply@example.hk",
    },
    opts=opts,
)
