"""Nothing reported: user data that only downloads from an unknown host, in a chain and under
wrappers."""

import base64

import pulumi
import pulumi_alicloud as alicloud

hk = alicloud.Provider("hk", region="cn-hongkong")
opts = pulumi.ResourceOptions(provider=hk)

SCRIPT = """#!/bin/sh
cd /opt && timeout 60 curl -fsSL https://logs.partner.example/agent.sh -o agent.sh
env HOME=/root nice -n 5 wget -q https://logs.partner.example/agent.conf
"""
alicloud.ecs.Instance(
    "mail",
    instance_type="ecs.g7.large",
    image_id="ubuntu_22_04_x64_20G_alibase_20240130.vhd",
    vswitch_id="vsw-hk0000000000000001",
    system_disk_encrypted=True,
    system_disk_kms_key_id="key-hk-0000000000000001",
    user_data=base64.b64encode(SCRIPT.encode()).decode(),
    opts=opts,
)
