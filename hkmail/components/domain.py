"""One mail domain: its sending identities and its DNS zone, on the stack's providers."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from hkmail.components.zone import DnsZone, DnsZoneArgs
from hkmail.records import RecordSet
from hkmail.records.base import DeferredRecord
from hkmail.spec import DnsProvider, DomainSpec, TencentSesSender


@dataclass(frozen=True)
class MailDomainArgs:
    spec: DomainSpec
    dns_provider: DnsProvider
    record_set: RecordSet


class MailDomain(pulumi.ComponentResource):
    """``hkmail:mail:MailDomain``: pass the Hong Kong providers with ``providers=``; every child
    inherits them."""

    def __init__(
        self, name: str, args: MailDomainArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("hkmail:mail:MailDomain", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        deferred: list[tuple[DeferredRecord, pulumi.Output[str]]] = []
        for sender in args.spec.senders:
            if isinstance(sender, TencentSesSender):
                from hkmail.components.tencent import SesSendingDomain, SesSendingDomainArgs

                identity = SesSendingDomain(
                    sender.domain, SesSendingDomainArgs(sender.domain), opts=child
                )
                deferred += [
                    (d, identity.dkim_value)
                    for d in args.record_set.deferred
                    if d.sending_domain == sender.domain and d.source == "tencent-ses:dkim"
                ]
            else:
                from hkmail.components.alicloud import DirectMailDomain, DirectMailDomainArgs

                DirectMailDomain(
                    sender.domain, DirectMailDomainArgs(sender.domain, sender.cross_border), child
                )
        rs = args.record_set
        zone_cls: type[DnsZone]
        if args.dns_provider == "dnspod":
            from hkmail.components.tencent import DnspodZone as zone_cls
        else:
            from hkmail.components.alicloud import AlidnsZone as zone_cls
        zone = zone_cls(rs.zone, DnsZoneArgs(rs.zone, rs.records, deferred), opts=child)
        self.zone = zone
        self.register_outputs({"zone": rs.zone})
