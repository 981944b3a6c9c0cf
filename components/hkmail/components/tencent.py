"""Tencent Cloud components: DNSPod zones and SES sending identities, pinned to Hong Kong.

Every child is parented to its component and takes the provider passed down through ``opts``
(``providers=`` on an ancestor), so nothing here can fall back to a default provider.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import tencentcloud_iac_pulumi as tencentcloud
from tencentcloud_iac_pulumi import dnspod, ses

from hkmail.components.dns_providers import DNSPOD
from hkmail.components.tokens import renamed, token
from hkmail.components.zone import DnsZone
from hkmail.errors import RecordError
from hkmail.facts import HK_REGION
from hkmail.presets import TENCENT_SES_DKIM_SELECTOR
from hkmail.spec import Sender


def hong_kong_provider(
    name: str, opts: pulumi.ResourceOptions | None = None
) -> tencentcloud.Provider:
    """The explicit Tencent Cloud provider every Tencent resource of the stack goes through."""
    return tencentcloud.Provider(name, region=HK_REGION["tencentcloud"], opts=opts)


class DnspodZone(DnsZone):
    """A DNSPod domain and its records: default line, MX priority in its own field."""

    TYPE = token("DnspodZone")
    OLD_TYPE = "hkmail:tencent:DnspodZone"
    PROFILE = DNSPOD
    DOMAIN_RESOURCE = dnspod.DomainInstance
    RECORD_RESOURCE = dnspod.Record


@dataclass(frozen=True)
class SesSendingDomainArgs:
    domain: str


class SesSendingDomain(pulumi.ComponentResource):
    """A Tencent SES sending identity in ap-hongkong; mail sent through it stays in Hong Kong.

    SES answers CreateEmailIdentity with the DNS records it expects (SPF include:qcloudmail.com,
    a DKIM key at qcloud._domainkey.<domain>); the SPF is part of our record model, the DKIM key
    is exposed as ``dkim_value`` for the zone to publish.
    """

    dkim_value: pulumi.Output[str]

    @classmethod
    def for_sender(cls, sender: Sender, opts: pulumi.ResourceOptions) -> SesSendingDomain:
        return cls(sender.domain, SesSendingDomainArgs(sender.domain), opts=opts)

    def __init__(
        self, name: str, args: SesSendingDomainArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(
            token("SesSendingDomain"), name, None, renamed(opts, "hkmail:tencent:SesSendingDomain")
        )
        identity = ses.Domain(
            f"{args.domain}/ses",
            email_identity=args.domain,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.identity = identity
        self.dkim_value = identity.attributes.apply(lambda attrs: _dkim_from(args.domain, attrs))
        self.register_outputs({"emailIdentity": args.domain, "dkimValue": self.dkim_value})


def _dkim_from(domain: str, attributes: Sequence[Any] | None) -> str:
    for attr in attributes or ():
        send_domain = _get(attr, "send_domain") or ""
        if _get(attr, "type") == "TXT" and send_domain.startswith(
            f"{TENCENT_SES_DKIM_SELECTOR}._domainkey"
        ):
            return str(_get(attr, "expected_value"))
    raise RecordError(f"Tencent SES returned no DKIM record for {domain}: {attributes!r}")


def _get(attr: Any, key: str) -> Any:
    # Output types of the SDK are dicts with snake_case getters; plain dicts use camelCase keys.
    if hasattr(type(attr), key):
        return getattr(attr, key)
    if isinstance(attr, Mapping):
        camel = "".join(w.capitalize() if i else w for i, w in enumerate(key.split("_")))
        return attr.get(key, attr.get(camel))
    return getattr(attr, key, None)
