"""WAF log delivery to CLS with the region left to the service default (ap-shanghai)."""

import pulumi
import tencentcloud_iac_pulumi as tencentcloud

hk = tencentcloud.Provider("hk", region="ap-hongkong")
opts = pulumi.ResourceOptions(provider=hk)

tencentcloud.waf.LogPostClsFlow(
    "waf-logs",
    log_type=1,
    logset_name="webmail-waf",
    log_topic_name="webmail-access",
    opts=opts,
)
