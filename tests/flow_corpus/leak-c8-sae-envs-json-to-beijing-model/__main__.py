"""Leak: an SAE application whose environment, a JSON string, points its mail classifier at
Model Studio's default (Beijing) endpoint and posts results to a webhook of unknown location."""

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
                "value": "https://dashscope.aliyuncs.com/compatible-mode/v1",
            },
            {"name": "RESULTS", "value": "https://ingest.partner.example/v1/labels"},
        ]
    ),
    opts=opts,
)
