"""Fixture: a mail server on an Alibaba Cloud Hong Kong instance whose cloud-init writes Postfix's
relayhost (the stack's relayHost): all outgoing mail goes to that smarthost."""

import base64

import pulumi
import pulumi_alicloud as alicloud

relay = pulumi.Config().require("relayHost")
user_data = f"""#cloud-config
write_files:
  - path: /etc/postfix/main.cf.d/relay.cf
    content: |
      relayhost = [{relay}]:465
      smtp_tls_wrappermode = yes
"""
hk = alicloud.Provider("hk", region="cn-hongkong")
alicloud.ecs.Instance(
    "mail",
    instance_type="ecs.g7.large",
    image_id="debian_12_9_x64_20G_alibase_20250113.vhd",
    availability_zone="cn-hongkong-c",
    user_data=base64.b64encode(user_data.encode()).decode(),
    opts=pulumi.ResourceOptions(provider=hk),
)
