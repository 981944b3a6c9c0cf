"""Reported, not blocked: a container whose environment names an unknown receiver."""

import pulumi
import pulumi_alicloud as alicloud

hk = alicloud.Provider("hk", region="cn-hongkong")
opts = pulumi.ResourceOptions(provider=hk)

alicloud.eci.ContainerGroup(
    "archiver",
    container_group_name="archiver",
    security_group_id="sg-hk0000000000000001",
    vswitch_id="vsw-hk0000000000000001",
    containers=[
        alicloud.eci.ContainerGroupContainerArgs(
            name="archiver",
            image="registry.cn-hongkong.aliyuncs.com/acme/archiver:1",
            environment_vars=[
                # the name does not say "webhook": any URL in an environment may receive data
                alicloud.eci.ContainerGroupContainerEnvironmentVarArgs(
                    key="ARCHIVE", value="https://ingest.partner.example/v1/mail"
                ),
                alicloud.eci.ContainerGroupContainerEnvironmentVarArgs(
                    key="MIRROR", value="https://pkgs.partner.example/simple/"
                ),
            ],
        )
    ],
    opts=opts,
)
