"""A TAT command uploading archives to COS Singapore."""

import base64

import pulumi
import tencentcloud_iac_pulumi as tencentcloud

hk = tencentcloud.Provider("hk", region="ap-hongkong")
opts = pulumi.ResourceOptions(provider=hk)

SCRIPT = (
    "#!/bin/sh\ncoscli cp -r /srv/archive cos://arc-1250000000/ -e cos.ap-singapore.myqcloud.com\n"
)

tencentcloud.tat.Command(
    "archive",
    command_name="archive-mail",
    content=base64.b64encode(SCRIPT.encode()).decode(),
    command_type="SHELL",
    opts=opts,
)
