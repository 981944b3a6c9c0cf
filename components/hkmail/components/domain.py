"""One mail domain: its sending identities, its private server and its DNS zone.

This module is read by Pulumi's component analyzer (the package's schema): no
``from __future__ import annotations`` here.
"""

import pulumi

from hkmail.components.args import MailDomainArgs
from hkmail.components.inputs import plan_domain, server_args_of_domain
from hkmail.components.registry import CLOUDS, DNS, SENDERS
from hkmail.components.tokens import renamed, token
from hkmail.components.zone import DnsZoneArgs
from hkmail.records import mta_sts_policy
from hkmail.records.base import DeferredRecord
from hkmail.records.mail import PRIVATE_SERVER_IP


class MailDomain(pulumi.ComponentResource):
    """A Hong Kong mail domain: MX, SPF, DKIM, DMARC, MTA-STS, TLS-RPT, autodiscovery and CAA
    records in its DNSPod or Alidns zone, its sending identities (Tencent SES in ap-hongkong, or
    a declared cross-border Alibaba DirectMail domain) and, with suite private, the private mail
    server. Pass the Hong Kong providers (tencentcloud ap-hongkong, alicloud cn-hongkong) with
    ``providers``: every child inherits them. The args are checked by the same validators as a
    stack's hkmail:domains, before any child is registered."""

    records: pulumi.Output[dict[str, str]]
    """The zone's records: Pulumi resource name -> the record in master-file form."""
    ptr_record: pulumi.Output[str] | None
    """With privateServer: the PTR record to request for the server's public IP."""
    mta_sts_policy: pulumi.Output[str] | None
    """With mtaSts: the policy text to serve at https://mta-sts.<domain>/.well-known/mta-sts.txt."""

    def __init__(
        self,
        name: str,
        args: MailDomainArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        plan = plan_domain(args)  # every check before anything is registered
        super().__init__(token("MailDomain"), name, None, renamed(opts, "hkmail:mail:MailDomain"))
        spec, rs = plan.spec, plan.records
        self.ptr_record = None
        self.mta_sts_policy = None
        child = pulumi.ResourceOptions(parent=self)
        deferred: list[tuple[DeferredRecord, pulumi.Output[str]]] = []
        for sender in spec.senders:
            identity = SENDERS[sender.service].identity(sender, child)
            if identity.dkim_value is not None:
                value = identity.dkim_value
                deferred += [
                    (d, value)
                    for d in rs.deferred
                    if d.sending_domain == sender.domain and d.source == f"{sender.service}:dkim"
                ]
        if spec.server is not None:
            server = CLOUDS[spec.server.cloud].mail_server(
                spec.server.hostname, server_args_of_domain(args, plan), child
            )
            self.ptr_record = server.ptr_record
            deferred += [
                (d, server.public_ip) for d in rs.deferred if d.source == PRIVATE_SERVER_IP
            ]
        zone = DNS[plan.dns_provider].zone(
            rs.zone, DnsZoneArgs(rs.zone, rs.records, deferred), opts=child
        )
        self.dns_zone = zone
        self.records = zone.records
        self.notes = pulumi.Output.from_input(list(rs.notes))
        policy = mta_sts_policy(spec)
        if policy is not None:
            self.mta_sts_policy = pulumi.Output.from_input(policy.to_text())
        self.register_outputs({"zone": rs.zone})
