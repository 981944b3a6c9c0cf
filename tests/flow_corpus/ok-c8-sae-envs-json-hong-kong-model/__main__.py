"""Compliant twin: the same SAE application on Model Studio's Hong Kong endpoint; the only other
variable with a host of unknown location is named for a read (a package mirror)."""

import json

import pulumi
import pulumi_alicloud as alicloud

hk = alicloud.Provider("hk", region="cn-hongkong")
opts = pulumi.ResourceOptions(provider=hk)

alicloud.sae.Application(
    "mail-classifier",
    app_name="mail-classifier",
    package_type="Image",
    image_url="registry.cn-hongkong.aliyuncs.com/acme/classifier:1",
    replicas=1,
    namespace_id="cn-hongkong:mail",
    vswitch_id="vsw-hk0000000000000001",
    envs=json.dumps(
        [
            {
                "name": "OPENAI_BASE_URL",
                "value": "https://cn-hongkong.dashscope.aliyuncs.com/compatible-mode/v1",
            },
            {"name": "PIP_INDEX_URL", "value": "https://pkgs.partner.example/simple/"},
        ]
    ),
    opts=opts,
)
