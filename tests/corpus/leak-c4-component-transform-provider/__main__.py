"""Leak: a transform on a component moves all its children to a Shanghai provider."""

import pulumi
import pulumi_alicloud as alicloud

hk = alicloud.Provider("hk", region="cn-hongkong")
opts = pulumi.ResourceOptions(provider=hk)

sh = alicloud.Provider("sh", region="cn-shanghai")


def use_shanghai(args: pulumi.ResourceTransformArgs) -> pulumi.ResourceTransformResult:
    return pulumi.ResourceTransformResult(
        args.props, pulumi.ResourceOptions.merge(args.opts, pulumi.ResourceOptions(provider=sh))
    )


class Network(pulumi.ComponentResource):
    def __init__(self, name: str, opts: pulumi.ResourceOptions) -> None:
        super().__init__("corpus:index:Network", name, None, opts)
        alicloud.vpc.Network(
            f"{name}-vpc",
            vpc_name=name,
            cidr_block="10.20.0.0/16",
            opts=pulumi.ResourceOptions(parent=self, provider=hk),
        )
        self.register_outputs({})


Network("mail", pulumi.ResourceOptions(transforms=[use_shanghai]))
