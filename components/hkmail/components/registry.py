"""Which classes serve each cloud, DNS service and sending service: one table, no branches.

A component looks its provider-specific classes up here by the name the spec carries
(``dnspod``, ``alicloud``, ``tencent-ses``...). Adding a provider means adding a row.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final, Protocol

import pulumi

from hkmail.components.alicloud import AlidnsZone, DirectMailDomain
from hkmail.components.alicloud import hong_kong_provider as alicloud_provider
from hkmail.components.args import MailServerArgs
from hkmail.components.dns_providers import ALIDNS, DNSPOD, DnsProviderProfile
from hkmail.components.private_alicloud import AlicloudMailServer
from hkmail.components.private_tencent import TencentMailServer
from hkmail.components.tencent import DnspodZone, SesSendingDomain
from hkmail.components.tencent import hong_kong_provider as tencent_provider
from hkmail.components.zone import DnsZone
from hkmail.facts import DNS_CLOUD, Cloud, DnsProvider
from hkmail.spec import Sender


class MailServer(Protocol):
    """What a private-server component gives its mail domain."""

    public_ip: pulumi.Output[str]
    ptr_record: pulumi.Output[str]


class SendingIdentity(Protocol):
    """A sending service's identity for one domain; ``dkim_value`` when the service signs."""

    @property
    def dkim_value(self) -> pulumi.Output[str] | None: ...


@dataclass(frozen=True)
class CloudEntry:
    cloud: Cloud
    #: the explicit provider pinned to the cloud's Hong Kong region
    provider: Callable[[str], pulumi.ProviderResource]
    mail_server: Callable[[str, MailServerArgs, pulumi.ResourceOptions], MailServer]


@dataclass(frozen=True)
class DnsEntry:
    name: DnsProvider
    cloud: Cloud
    profile: DnsProviderProfile
    zone: type[DnsZone]


@dataclass(frozen=True)
class SenderEntry:
    service: str
    cloud: Cloud
    identity: Callable[[Sender, pulumi.ResourceOptions], SendingIdentity]


CLOUDS: Final[Mapping[Cloud, CloudEntry]] = {
    "tencentcloud": CloudEntry("tencentcloud", tencent_provider, TencentMailServer),
    "alicloud": CloudEntry("alicloud", alicloud_provider, AlicloudMailServer),
}

DNS: Final[Mapping[DnsProvider, DnsEntry]] = {
    "dnspod": DnsEntry("dnspod", DNS_CLOUD["dnspod"], DNSPOD, DnspodZone),
    "alidns": DnsEntry("alidns", DNS_CLOUD["alidns"], ALIDNS, AlidnsZone),
}

SENDERS: Final[Mapping[str, SenderEntry]] = {
    "tencent-ses": SenderEntry("tencent-ses", "tencentcloud", SesSendingDomain.for_sender),
    "alibaba-directmail": SenderEntry(
        "alibaba-directmail", "alicloud", DirectMailDomain.for_sender
    ),
}


def hong_kong_providers(
    clouds: frozenset[Cloud] | set[Cloud],
) -> dict[Cloud, pulumi.ProviderResource]:
    """One explicit Hong Kong provider per cloud, named ``<cloud>-hk``."""
    return {cloud: CLOUDS[cloud].provider(f"{cloud}-hk") for cloud in sorted(clouds)}
