"""Leak: MIME multipart user data, base64 shell part relaying through DirectMail."""

import base64

import pulumi
import pulumi_alicloud as alicloud

hk = alicloud.Provider("hk", region="cn-hongkong")
opts = pulumi.ResourceOptions(provider=hk)

PART = base64.b64encode(b"#!/bin/sh\npostconf -e relayhost=[smtpdm.aliyun.com]:465\n").decode()
USER_DATA = f"""Content-Type: multipart/mixed; boundary="==BOUNDARY=="
MIME-Version: 1.0

--==BOUNDARY==
Content-Type: text/cloud-config; charset="us-ascii"

#cloud-config
packages: [postfix]

--==BOUNDARY==
Content-Type: text/x-shellscript; charset="us-ascii"
Content-Transfer-Encoding: base64

{PART}
--==BOUNDARY==--
"""
alicloud.ecs.Instance(
    "mail",
    instance_type="ecs.g7.large",
    image_id="ubuntu_22_04_x64_20G_alibase_20240130.vhd",
    vswitch_id="vsw-hk0000000000000001",
    system_disk_encrypted=True,
    system_disk_kms_key_id="key-hk-0000000000000001",
    user_data=base64.b64encode(USER_DATA.encode()).decode(),
    opts=opts,
)
