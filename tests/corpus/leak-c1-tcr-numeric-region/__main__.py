"""A TCR VPC attachment given by numeric region id 1 (Guangzhou)."""

import pulumi
import tencentcloud_iac_pulumi as tencentcloud

hk = tencentcloud.Provider("hk", region="ap-hongkong")
opts = pulumi.ResourceOptions(provider=hk)

tencentcloud.tcr.VpcAttachment(
    "registry-vpc",
    instance_id="tcr-hk000001",
    vpc_id="vpc-gz000001",
    subnet_id="subnet-gz000001",
    region_id=1,
    opts=opts,
)
