"""Compliant: a stack transform that only adds tags (free text naming Shanghai is not placement)."""

import pulumi
import pulumi_alicloud as alicloud

hk = alicloud.Provider("hk", region="cn-hongkong")
opts = pulumi.ResourceOptions(provider=hk)


def tag(args: pulumi.ResourceTransformArgs) -> pulumi.ResourceTransformResult | None:
    if args.type_ == "alicloud:vpc/network:Network":
        tags = {"owner": "mail-team", "note": "billing via Shanghai office"}
        return pulumi.ResourceTransformResult({**args.props, "tags": tags}, args.opts)
    return None


pulumi.runtime.register_resource_transform(tag)
alicloud.vpc.Network("mail", vpc_name="mail", cidr_block="10.20.0.0/16", opts=opts)
