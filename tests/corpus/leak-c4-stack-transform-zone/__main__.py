"""Leak: a stack transform rewrites every vSwitch zone to Hangzhou."""

import pulumi
import pulumi_alicloud as alicloud

hk = alicloud.Provider("hk", region="cn-hongkong")
opts = pulumi.ResourceOptions(provider=hk)


def to_hangzhou(args: pulumi.ResourceTransformArgs) -> pulumi.ResourceTransformResult | None:
    if args.type_ == "alicloud:vpc/switch:Switch":
        return pulumi.ResourceTransformResult({**args.props, "zoneId": "cn-hangzhou-b"}, args.opts)
    return None


pulumi.runtime.register_resource_transform(to_hangzhou)
vpc = alicloud.vpc.Network("mail", vpc_name="mail", cidr_block="10.20.0.0/16", opts=opts)
alicloud.vpc.Switch(
    "mail-b", vpc_id=vpc.id, cidr_block="10.20.1.0/24", zone_id="cn-hongkong-b", opts=opts
)
