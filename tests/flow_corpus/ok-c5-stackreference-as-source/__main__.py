"""Look-alike: a StackReference output used only as the source of a replica."""

import pulumi
import tencentcloud_iac_pulumi as tencentcloud

hk = tencentcloud.Provider("hk", region="ap-hongkong")
opts = pulumi.ResourceOptions(provider=hk)

shared = pulumi.StackReference("kowloon/shared/prod")
tencentcloud.mysql.DrInstance(
    "mail-db-dr",
    instance_name="mail-db-dr",
    master_instance_id=shared.get_output("primaryDbId"),
    master_region=shared.get_output("primaryDbRegion"),
    mem_size=4000,
    volume_size=200,
    availability_zone="ap-hongkong-2",
    opts=pulumi.ResourceOptions(provider=hk, protect=True),
)
