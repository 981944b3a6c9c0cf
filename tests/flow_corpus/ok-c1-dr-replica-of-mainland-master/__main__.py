"""Look-alike: a Hong Kong DR replica whose primary is in Shanghai."""

import pulumi
import tencentcloud_iac_pulumi as tencentcloud

hk = tencentcloud.Provider("hk", region="ap-hongkong")
opts = pulumi.ResourceOptions(provider=hk)

tencentcloud.mysql.DrInstance(
    "mail-db-dr",
    instance_name="mail-db-dr",
    master_instance_id="cdb-sh000001",
    master_region="ap-shanghai",
    mem_size=4000,
    volume_size=200,
    availability_zone="ap-hongkong-2",
    opts=pulumi.ResourceOptions(provider=hk, protect=True),
)
