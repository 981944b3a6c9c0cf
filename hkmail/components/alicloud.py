"""Alibaba Cloud components: Alidns zones, pinned to Hong Kong through an explicit provider."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_alicloud as alicloud
from pulumi_alicloud import dns

from hkmail.components.dns_providers import ALIDNS
from hkmail.components.zone import DnsZone
from hkmail.spec import HK_REGION


def hong_kong_provider(name: str, opts: pulumi.ResourceOptions | None = None) -> alicloud.Provider:
    """The explicit Alibaba Cloud provider every Alibaba resource of the stack goes through."""
    return alicloud.Provider(name, region=HK_REGION["alicloud"], opts=opts)


class AlidnsZone(DnsZone):
    """An Alidns domain and its records: MX priority 1-50, TXT under 512 bytes, default line."""

    TYPE = "hkmail:alicloud:AlidnsZone"
    PROFILE = ALIDNS

    def _domain(self, name: str, zone: str, opts: pulumi.ResourceOptions) -> dns.AlidnsDomain:
        return dns.AlidnsDomain(name, domain_name=zone, opts=opts)

    def _record(
        self, name: str, inputs: dict[str, Any], opts: pulumi.ResourceOptions
    ) -> dns.AlidnsRecord:
        return dns.AlidnsRecord(name, opts=opts, **inputs)
