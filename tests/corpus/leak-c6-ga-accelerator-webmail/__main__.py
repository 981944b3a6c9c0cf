"""Global Accelerator in front of webmail."""

import pulumi
import pulumi_alicloud as alicloud

hk = alicloud.Provider("hk", region="cn-hongkong")
opts = pulumi.ResourceOptions(provider=hk)

alicloud.ga.Accelerator(
    "webmail-ga",
    accelerator_name="webmail",
    spec="1",
    duration=1,
    auto_use_coupon=True,
    opts=opts,
)
