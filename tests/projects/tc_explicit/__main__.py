"""Fixture: an explicit tencentcloud provider in Hong Kong, a component, secrets and options."""

import pulumi
import tencentcloud_iac_pulumi as tencentcloud

config = pulumi.Config()
domain = config.require("domain")
ttl = config.require_int("ttl")
tags = config.require_object("tags")
dkim = config.require_secret("dkim_key")

hk = tencentcloud.Provider("hk", region="ap-hongkong")


class MailDomain(pulumi.ComponentResource):
    def __init__(self, name: str, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("hkmail:test:MailDomain", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.mx = tencentcloud.dnspod.Record(
            f"{name}-mx",
            domain=domain,
            sub_domain="@",
            record_type="MX",
            record_line="默认",
            value="mxbiz1.qq.com.",
            mx=5,
            ttl=ttl,
            opts=child,
        )
        self.dkim = tencentcloud.dnspod.Record(
            f"{name}-dkim",
            domain=domain,
            sub_domain="s1._domainkey",
            record_type="TXT",
            record_line="默认",
            value=dkim,
            ttl=ttl,
            opts=pulumi.ResourceOptions(parent=self, protect=True, ignore_changes=["remark"]),
        )
        # an input that depends on another resource's output: unknown during preview
        self.note = tencentcloud.dnspod.Record(
            f"{name}-note",
            domain=domain,
            sub_domain="note",
            record_type="TXT",
            record_line="默认",
            value=self.mx.id.apply(lambda i: f"mx-id={i}"),
            remark=self.mx.value,
            opts=pulumi.ResourceOptions(
                parent=self, custom_timeouts=pulumi.CustomTimeouts(create="5m")
            ),
        )
        self.register_outputs({"mx_value": self.mx.value})


mail = MailDomain("example", opts=pulumi.ResourceOptions(providers=[hk]))
pulumi.export("domain", domain)
pulumi.export("team", tags["team"])
pulumi.export("dkim", dkim)
pulumi.export("mx_value", mail.mx.value)
