"""Common data sources of both providers, in plain and output form, feeding real resources.

Stack `hk` reads through Hong Kong providers only; stack `sh` reads zones through an Alibaba
provider in Shanghai and places a Hong Kong vSwitch in the zone it returned (a placement outside
Hong Kong the pack must find)."""

import pulumi
import pulumi_alicloud as alicloud
import tencentcloud_iac_pulumi as tencentcloud

read_region = pulumi.Config().require("readRegion")
hk = alicloud.Provider("hk", region="cn-hongkong")
reader = alicloud.Provider("reader", region=read_region)
on_hk = pulumi.ResourceOptions(provider=hk)
via_hk = pulumi.InvokeOptions(provider=hk)

zones = alicloud.get_zones(
    available_resource_creation="VSwitch", opts=pulumi.InvokeOptions(provider=reader)
)
zones_out = alicloud.get_zones_output(
    available_resource_creation="VSwitch", opts=pulumi.InvokeOutputOptions(provider=hk)
)
regions = alicloud.get_regions(current=True, opts=via_hk)
account = alicloud.get_account(opts=via_hk)
images = alicloud.ecs.get_images(name_regex="^ubuntu_22", owners="system", opts=via_hk)
types = alicloud.ecs.get_instance_types(cpu_core_count=2, memory_size=4, opts=via_hk)
networks = alicloud.vpc.get_networks(name_regex="^mail", opts=via_hk)
keys = alicloud.kms.get_keys(status="Enabled", opts=via_hk)
buckets = alicloud.oss.get_buckets(name_regex="^mail", opts=via_hk)

vpc = alicloud.vpc.Network("vpc", cidr_block="10.0.0.0/16", opts=on_hk)
alicloud.vpc.Switch(
    "mail-a", vpc_id=vpc.id, cidr_block="10.0.1.0/24", zone_id=zones.zones[0].id, opts=on_hk
)
alicloud.vpc.Switch(
    "mail-b", vpc_id=vpc.id, cidr_block="10.0.2.0/24", zone_id=zones_out.ids[0], opts=on_hk
)

tc = tencentcloud.Provider("tc", region="ap-hongkong")
via_tc = pulumi.InvokeOptions(provider=tc)
tc_zones = tencentcloud.availability.get_zones_by_product(product="cvm", opts=via_tc)
tc_regions = tencentcloud.availability.get_regions(opts=via_tc)
tc_images = tencentcloud.images.get_instance(image_name_regex="^Ubuntu", opts=via_tc)
tc_types = tencentcloud.instance.get_types(cpu_core_count=2, opts=via_tc)
tc_vpcs = tencentcloud.vpc.get_instances(name="mail", opts=via_tc)
tc_buckets = tencentcloud.cos.get_buckets(bucket_prefix="mail", opts=via_tc)
tc_user = tencentcloud.user.get_info(opts=via_tc)
tc_zone_out = tencentcloud.availability.get_zones_by_product_output(
    product="cvm", opts=pulumi.InvokeOutputOptions(provider=tc)
)
tc_vpc = tencentcloud.vpc.Instance(
    "mail-vpc", cidr_block="10.1.0.0/16", opts=pulumi.ResourceOptions(provider=tc)
)
tencentcloud.subnet.Instance(
    "mail-subnet",
    vpc_id=tc_vpc.id,
    cidr_block="10.1.1.0/24",
    availability_zone=tc_zone_out.zones[0].name,
    opts=pulumi.ResourceOptions(provider=tc),
)

pulumi.export("image", images.images[0].id)
pulumi.export("instanceType", types.instance_types[0].id)
pulumi.export("tcImage", tc_images.images[0].image_id)
pulumi.export("tcZone", tc_zones.zones[0].name)
pulumi.export("region", regions.regions[0].id)
