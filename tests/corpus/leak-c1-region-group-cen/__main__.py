"""A CEN bandwidth package between region groups rather than regions."""

import pulumi
import pulumi_alicloud as alicloud

hk = alicloud.Provider("hk", region="cn-hongkong")
opts = pulumi.ResourceOptions(provider=hk)

alicloud.cen.BandwidthPackage(
    "mail-bwp",
    bandwidth=5,
    cen_bandwidth_package_name="mail-interconnect",
    geographic_region_a_id="China",
    geographic_region_b_id="Asia-Pacific",
    opts=opts,
)
