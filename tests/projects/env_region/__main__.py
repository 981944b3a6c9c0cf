"""Fixture: placement read from the environment (falls back to Hong Kong where it is unset)."""

import os

import pulumi_alicloud as alicloud
import tencentcloud_iac_pulumi as tencentcloud

ali = alicloud.Provider("ali", region=os.environ.get("ALICLOUD_REGION", "cn-hongkong"))
tc = tencentcloud.Provider("tc", region=os.getenv("TENCENTCLOUD_REGION") or "ap-hongkong")
# no region: the SDK itself reads ALICLOUD_REGION
sdk_default = alicloud.Provider("sdk-default")
