"""Alibaba Cloud components: Alidns zones, pinned to Hong Kong through an explicit provider."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_alicloud as alicloud
from pulumi_alicloud import directmail, dns

from hkmail.components.dns_providers import ALIDNS
from hkmail.components.tokens import renamed, token
from hkmail.components.zone import DnsZone
from hkmail.facts import HK_REGION
from hkmail.spec import CrossBorderDeclaration, DirectMailSender, Sender


def hong_kong_provider(name: str, opts: pulumi.ResourceOptions | None = None) -> alicloud.Provider:
    """The explicit Alibaba Cloud provider every Alibaba resource of the stack goes through."""
    return alicloud.Provider(name, region=HK_REGION["alicloud"], opts=opts)


class AlidnsZone(DnsZone):
    """An Alidns domain and its records: MX priority 1-50, TXT under 512 bytes, default line."""

    TYPE = token("AlidnsZone")
    OLD_TYPE = "hkmail:alicloud:AlidnsZone"
    PROFILE = ALIDNS
    DOMAIN_RESOURCE = dns.AlidnsDomain
    RECORD_RESOURCE = dns.AlidnsRecord


@dataclass(frozen=True)
class DirectMailDomainArgs:
    domain: str
    declaration: CrossBorderDeclaration


class DirectMailDomain(pulumi.ComponentResource):
    """An Alibaba DirectMail sending domain: a DECLARED cross-border transfer.

    DirectMail has no Hong Kong region, so this component creates its own provider in the
    declared destination region instead of inheriting the stack's Hong Kong one. The policy pack
    sees exactly that (a provider outside Hong Kong, a DirectMail resource) and blocks it unless
    the declared exemption is on file and in date.
    """

    #: DirectMail's DKIM key is set up in its console; nothing for the zone to publish here.
    dkim_value: pulumi.Output[str] | None = None

    @classmethod
    def for_sender(cls, sender: Sender, opts: pulumi.ResourceOptions) -> DirectMailDomain:
        if not isinstance(sender, DirectMailSender):
            raise TypeError(f"not a DirectMail sender: {sender!r}")
        return cls(sender.domain, DirectMailDomainArgs(sender.domain, sender.cross_border), opts)

    def __init__(
        self, name: str, args: DirectMailDomainArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(
            token("DirectMailDomain"), name, None, renamed(opts, "hkmail:alicloud:DirectMailDomain")
        )
        region = args.declaration.destination_region
        statement = args.declaration.statement("Alibaba DirectMail", args.domain)
        pulumi.log.warn(statement, resource=self)
        provider = alicloud.Provider(
            f"alicloud-directmail-{region}", region=region, opts=pulumi.ResourceOptions(parent=self)
        )
        self.sending_domain = directmail.Domain(
            f"{args.domain}/directmail",
            domain_name=args.domain,
            opts=pulumi.ResourceOptions(parent=self, provider=provider),
        )
        self.cross_border = statement
        self.register_outputs({"crossBorder": statement, "region": region})
