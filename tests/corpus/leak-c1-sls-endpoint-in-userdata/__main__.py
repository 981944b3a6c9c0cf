"""An HK mail host whose user-data configures Logtail to ship logs to an SLS project in Shanghai."""

import pulumi
import pulumi_alicloud as alicloud

hk = alicloud.Provider("hk", region="cn-hongkong")
opts = pulumi.ResourceOptions(provider=hk)

USER_DATA = """#cloud-config
write_files:
  - path: /etc/ilogtail/ilogtail_config.json
    content: |
      {"config_server_address": "http://logtail.cn-shanghai.log.aliyuncs.com",
       "data_server_list": [{"cluster": "cn-shanghai",
                             "endpoint": "mail-logs.cn-shanghai.log.aliyuncs.com"}]}
"""

alicloud.ecs.Instance(
    "mail",
    instance_type="ecs.g7.large",
    image_id="debian_12_6_x64_20G_alibase_20240711.vhd",
    vswitch_id="vsw-hk0000000000000001",
    security_groups=["sg-hk0000000000000001"],
    user_data=USER_DATA,
    opts=opts,
)
