"""The MX host behind an Alibaba Anycast EIP."""

import pulumi
import pulumi_alicloud as alicloud

hk = alicloud.Provider("hk", region="cn-hongkong")
opts = pulumi.ResourceOptions(provider=hk)

alicloud.eipanycast.AnycastEipAddress(
    "mx-ip",
    anycast_eip_address_name="mx",
    service_location="international",
    bandwidth=200,
    opts=opts,
)
