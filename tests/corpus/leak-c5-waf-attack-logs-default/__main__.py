"""WAF attack-log delivery with every optional input left to its default."""

import pulumi
import tencentcloud_iac_pulumi as tencentcloud

hk = tencentcloud.Provider("hk", region="ap-hongkong")
opts = pulumi.ResourceOptions(provider=hk)

tencentcloud.waf.LogPostClsFlow("waf-attack", log_type=2, opts=opts)
