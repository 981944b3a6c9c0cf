"""A GA cross-domain bandwidth package with default interworking areas."""

import pulumi
import pulumi_alicloud as alicloud

hk = alicloud.Provider("hk", region="cn-hongkong")
opts = pulumi.ResourceOptions(provider=hk)

alicloud.ga.BandwidthPackage(
    "mail-ga",
    bandwidth=20,
    type="CrossDomain",
    bandwidth_type="Basic",
    payment_type="PayAsYouGo",
    billing_type="PayByTraffic",
    opts=opts,
)
