"""The private server relays outbound mail through Alibaba DirectMail's SMTP host."""

import pulumi
import pulumi_alicloud as alicloud

hk = alicloud.Provider("hk", region="cn-hongkong")
opts = pulumi.ResourceOptions(provider=hk)

USER_DATA = """#cloud-config
write_files:
  - path: /etc/postfix/main.cf.d/relay.cf
    content: |
      relayhost = [smtpdm.aliyun.com]:465
      smtp_tls_wrappermode = yes
      smtp_sasl_auth_enable = yes
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
