"""Look-alike: an ECI container in Hong Kong pulling an image from a Shanghai registry."""

import pulumi
import pulumi_alicloud as alicloud

hk = alicloud.Provider("hk", region="cn-hongkong")
opts = pulumi.ResourceOptions(provider=hk)

alicloud.eci.ContainerGroup(
    "webmail",
    container_group_name="webmail",
    security_group_id="sg-hk0000000000000001",
    vswitch_id="vsw-hk0000000000000001",
    zone_id="cn-hongkong-b",
    containers=[
        {
            "name": "webmail",
            "image": "registry.cn-shanghai.aliyuncs.com/kowloon/webmail:1.4",
        }
    ],
    opts=opts,
)
