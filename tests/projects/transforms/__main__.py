"""Fixture: every kind of transform, each leaving a mark the engine must show the pack."""

import pulumi
import pulumi_alicloud as alicloud

hk = alicloud.Provider("hk", region="cn-hongkong")
sz = alicloud.Provider("sz", region="cn-shenzhen")


def stack_zone(args: pulumi.ResourceTransformArgs) -> pulumi.ResourceTransformResult | None:
    # a stack transform (runs last): every vswitch still in Hong Kong moves to Hangzhou
    if args.type_ == "alicloud:vpc/switch:Switch" and args.props["zoneId"].startswith(
        "cn-hongkong"
    ):
        return pulumi.ResourceTransformResult({**args.props, "zoneId": "cn-hangzhou-b"}, args.opts)
    return None


pulumi.runtime.register_resource_transform(stack_zone)


def parent_provider(args: pulumi.ResourceTransformArgs) -> pulumi.ResourceTransformResult:
    # a resource transform on a component: its children switch to the Shenzhen provider
    opts = pulumi.ResourceOptions.merge(args.opts, pulumi.ResourceOptions(provider=sz))
    return pulumi.ResourceTransformResult(args.props, opts)


def own_protect(args: pulumi.ResourceTransformArgs) -> pulumi.ResourceTransformResult:
    opts = pulumi.ResourceOptions.merge(args.opts, pulumi.ResourceOptions(protect=True))
    return pulumi.ResourceTransformResult({**args.props, "tags": {"t": "own"}}, opts)


class Net(pulumi.ComponentResource):
    def __init__(self, name: str, opts: pulumi.ResourceOptions) -> None:
        super().__init__("fixture:index:Net", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, provider=hk)
        vpc = alicloud.vpc.Network(f"{name}-vpc", cidr_block="10.0.0.0/16", opts=child)
        alicloud.vpc.Switch(
            f"{name}-sw",
            vpc_id="vpc-fixed",
            cidr_block="10.0.1.0/24",
            zone_id="cn-hongkong-b",
            opts=pulumi.ResourceOptions(parent=self, provider=hk, transforms=[own_protect]),
        )
        self.vpc = vpc
        self.register_outputs({})


Net("net", pulumi.ResourceOptions(transforms=[parent_provider]))


def legacy(args: pulumi.ResourceTransformationArgs) -> pulumi.ResourceTransformationResult:
    return pulumi.ResourceTransformationResult({**args.props, "zone_id": "cn-beijing-a"}, args.opts)


alicloud.vpc.Switch(
    "legacy-sw",
    vpc_id="vpc-fixed",
    cidr_block="10.0.2.0/24",
    zone_id="cn-hongkong-c",
    opts=pulumi.ResourceOptions(provider=hk, transformations=[legacy]),
)
