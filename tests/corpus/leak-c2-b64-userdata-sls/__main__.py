"""Base64-encoded cloud-config shipping logs to SLS in Shanghai."""

import base64

import pulumi
import pulumi_alicloud as alicloud

hk = alicloud.Provider("hk", region="cn-hongkong")
opts = pulumi.ResourceOptions(provider=hk)

CLOUD_CONFIG = """#cloud-config
write_files:
  - path: /etc/ilogtail/ilogtail_config.json
    content: |
      {"data_server_list": [{"cluster": "mail",
                             "endpoint": "mail-logs.cn-shanghai-intranet.log.aliyuncs.com"}]}
"""

alicloud.ecs.Instance(
    "mail",
    instance_type="ecs.g7.large",
    image_id="debian_12_6_x64_20G_alibase_20240711.vhd",
    vswitch_id="vsw-hk0000000000000001",
    security_groups=["sg-hk0000000000000001"],
    user_data=base64.b64encode(CLOUD_CONFIG.encode()).decode(),
    opts=opts,
)
