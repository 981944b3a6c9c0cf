"""One mail domain: its sending identities and its DNS zone, on the stack's providers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi

from hkmail.components.private import mail_server
from hkmail.components.registry import DNS, SENDERS
from hkmail.components.zone import DnsZoneArgs
from hkmail.facts import DnsProvider
from hkmail.records import RecordSet, mta_sts_policy
from hkmail.records.base import DeferredRecord
from hkmail.records.mail import PRIVATE_SERVER_IP
from hkmail.spec import DomainSpec


@dataclass(frozen=True)
class MailDomainArgs:
    spec: DomainSpec
    dns_provider: DnsProvider
    record_set: RecordSet
    # The values of hkmail:dkimPrivateKey, hkmail:mailboxPasswordHashes, hkmail:relayPassword
    # for a domain on a private server (wrapped as Pulumi secrets before any use).
    server_secrets: Mapping[str, object] = field(default_factory=dict)


class MailDomain(pulumi.ComponentResource):
    """``hkmail:mail:MailDomain``: pass the Hong Kong providers with ``providers=``; every child
    inherits them."""

    def __init__(
        self, name: str, args: MailDomainArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("hkmail:mail:MailDomain", name, None, opts)
        self.ptr_record: pulumi.Output[str] | None = None
        child = pulumi.ResourceOptions(parent=self)
        deferred: list[tuple[DeferredRecord, pulumi.Output[str]]] = []
        for sender in args.spec.senders:
            identity = SENDERS[sender.service].identity(sender, child)
            if identity.dkim_value is not None:
                value = identity.dkim_value
                deferred += [
                    (d, value)
                    for d in args.record_set.deferred
                    if d.sending_domain == sender.domain and d.source == f"{sender.service}:dkim"
                ]
        rs = args.record_set
        if args.spec.server is not None:
            [key] = [k for k in args.spec.dkim if k.selector == args.spec.server.dkim_selector]
            server = mail_server(
                args.spec.server, mta_sts_policy(args.spec), key, args.server_secrets, child
            )
            self.ptr_record = server.ptr_record
            deferred += [
                (d, server.public_ip) for d in rs.deferred if d.source == PRIVATE_SERVER_IP
            ]
        zone_cls = DNS[args.dns_provider].zone
        zone = zone_cls(rs.zone, DnsZoneArgs(rs.zone, rs.records, deferred), opts=child)
        self.zone = zone
        self.register_outputs({"zone": rs.zone})
