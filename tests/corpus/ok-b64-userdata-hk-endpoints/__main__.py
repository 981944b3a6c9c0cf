"""Compliant: base64 user-data naming Hong Kong endpoints only."""

import base64

import pulumi
import pulumi_alicloud as alicloud

hk = alicloud.Provider("hk", region="cn-hongkong")
opts = pulumi.ResourceOptions(provider=hk)

CLOUD_CONFIG = """#cloud-config
write_files:
  - path: /etc/ilogtail/ilogtail_config.json
    content: |
      {"data_server_list": [{"cluster": "cn-hongkong",
                             "endpoint": "mail-logs.cn-hongkong-intranet.log.aliyuncs.com"}]}
runcmd:
  - ossutil config -e oss-cn-hongkong-internal.aliyuncs.com
"""

alicloud.ecs.Instance(
    "mail",
    instance_type="ecs.g7.large",
    image_id="debian_12_6_x64_20G_alibase_20240711.vhd",
    vswitch_id="vsw-hk0000000000000001",
    security_groups=["sg-hk0000000000000001"],
    system_disk_encrypted=True,
    system_disk_kms_key_id="key-hk-0000000000000001",
    user_data=base64.b64encode(CLOUD_CONFIG.encode()).decode(),
    opts=opts,
)
