"""Leak: an SAE environment whose one variable points at Model Studio's Hong Kong endpoint, while
a key SAE does not document (`url`, beside `name` and `value`) names its default (Beijing)
endpoint: decoding the documented keys alone would drop it."""

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
                "url": "https://dashscope.aliyuncs.com/compatible-mode/v1",
            }
        ]
    ),
    opts=opts,
)
