"""Anti-DDoS Pro for webmail, certificate region left to the default (cn-hangzhou)."""

import pulumi
import pulumi_alicloud as alicloud

hk = alicloud.Provider("hk", region="cn-hongkong")
opts = pulumi.ResourceOptions(provider=hk)

alicloud.ddos.DomainResource(
    "webmail-ddos",
    domain="webmail.example.hk",
    instance_ids=["ddoscoo-hk-000001"],
    rs_type=0,
    real_servers=["203.0.113.10"],
    proxy_types=[{"proxy_ports": [443], "proxy_type": "https"}],
    cert_identifier="1234567-cn-hongkong",
    opts=opts,
)
