"""Reported, not passed silently: an SAE environment that is not the documented JSON array
(an object of names to values, as a map environment would be written)."""

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
    envs=json.dumps({"PIP_INDEX_URL": "https://pkgs.partner.example/simple/"}),
    opts=opts,
)
