"""A Cloud Assistant command copying archives to Beijing."""

import base64

import pulumi
import pulumi_alicloud as alicloud

hk = alicloud.Provider("hk", region="cn-hongkong")
opts = pulumi.ResourceOptions(provider=hk)

SCRIPT = "ossutil cp -r /srv/archive oss://mail-archive-bj/ -e oss-cn-beijing.aliyuncs.com\n"

alicloud.ecs.Command(
    "archive",
    name="archive-mail",
    command_content=base64.b64encode(SCRIPT.encode()).decode(),
    type="RunShellScript",
    working_dir="/root",
    opts=opts,
)
