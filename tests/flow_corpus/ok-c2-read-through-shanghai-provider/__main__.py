"""Look-alike: get_* invokes through a Shanghai provider, nothing created there."""

import pulumi
import pulumi_alicloud as alicloud

hk = alicloud.Provider("hk", region="cn-hongkong")
opts = pulumi.ResourceOptions(provider=hk)

sh = alicloud.Provider("sh", region="cn-shanghai")
images = alicloud.ecs.get_images(name_regex="^ubuntu_22", opts=pulumi.InvokeOptions(provider=sh))
zones = alicloud.get_zones(opts=pulumi.InvokeOptions(provider=sh))
alicloud.vpc.Network("mail", vpc_name="mail", cidr_block="10.20.0.0/16", opts=opts)
pulumi.export("shanghaiImage", images.images[0].id)
pulumi.export("shanghaiZones", zones.ids)
