"""Compliant: WAF log delivery to CLS in Hong Kong."""

import pulumi
import tencentcloud_iac_pulumi as tencentcloud

hk = tencentcloud.Provider("hk", region="ap-hongkong")
opts = pulumi.ResourceOptions(provider=hk)

tencentcloud.waf.LogPostClsFlow("waf-logs", cls_region="ap-hongkong", log_type=1, opts=opts)
