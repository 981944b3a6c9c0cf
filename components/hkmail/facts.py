"""The one table of cloud and DNS facts hk-mail relies on: Hong Kong regions and zones, DNS plans'
TTL floors, MX priority ranges and record limits of each DNS provider, sending-service regions.

Every other module (the stack reader, the records, the DNS provider profiles, the private server
and its components) reads these values from here; nothing restates them. Each fact names its
source (DESIGN.md "Clouds" and "Mail DNS", and the provider documentation cited inline).
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal

Cloud = Literal["tencentcloud", "alicloud"]
DnsProvider = Literal["dnspod", "alidns"]

CLOUDS: Final[tuple[Cloud, ...]] = ("tencentcloud", "alicloud")
DNS_PROVIDERS: Final[tuple[DnsProvider, ...]] = ("dnspod", "alidns")

# --------------------------------------------------------------------------------------------
# Regions and zones (DESIGN.md, "Clouds")
# --------------------------------------------------------------------------------------------

#: The one Hong Kong region of each cloud. Alibaba Cloud: cn-hongkong; Tencent Cloud: ap-hongkong
#: (the Tencent provider's own default is ap-guangzhou, mainland China).
HK_REGION: Final[Mapping[Cloud, str]] = {"tencentcloud": "ap-hongkong", "alicloud": "cn-hongkong"}

#: Every availability zone of the Hong Kong region of each cloud.
HK_ZONES: Final[Mapping[Cloud, tuple[str, ...]]] = {
    "tencentcloud": ("ap-hongkong-1", "ap-hongkong-2", "ap-hongkong-3"),
    "alicloud": ("cn-hongkong-b", "cn-hongkong-c", "cn-hongkong-d"),
}

#: Zones a new deployment may use: Tencent ap-hongkong-1 is sold out.
DEPLOY_ZONES: Final[Mapping[Cloud, tuple[str, ...]]] = {
    "tencentcloud": ("ap-hongkong-2", "ap-hongkong-3"),
    "alicloud": HK_ZONES["alicloud"],
}

#: The cloud whose account (and provider) holds each DNS service's zones. Alidns and DNSPod are
#: global services with no region input; the provider is still the Hong Kong one.
DNS_CLOUD: Final[Mapping[DnsProvider, Cloud]] = {"dnspod": "tencentcloud", "alidns": "alicloud"}

# --------------------------------------------------------------------------------------------
# DNS providers (DESIGN.md, "Mail DNS")
# --------------------------------------------------------------------------------------------

#: Minimum TTL per DNS plan. DNSPod: free 600, professional 120, enterprise 60, ultimate 1.
#: Alidns (pulumi-alicloud AlidnsRecord docs): free 600, basic/personal 120, standard 60,
#: ultimate 10, exclusive 1. DESIGN.md: the free and personal editions are held at 600.
TTL_FLOOR: Final[Mapping[DnsProvider, Mapping[str, int]]] = {
    "dnspod": {"free": 600, "professional": 120, "enterprise": 60, "ultimate": 1},
    "alidns": {"free": 600, "personal": 600, "standard": 60, "ultimate": 10, "exclusive": 1},
}
#: Longest TTL either provider accepts (one day).
TTL_MAX: Final = 86400
#: The TTL a record gets when the stack sets none (never below the plan's floor).
TTL_DEFAULT: Final = 600

#: MX preference range each provider accepts: DNSPod 1-20 (tencentcloud Dnspod Record docs:
#: "MX priority ... range 1-20"), Alidns 1-50 (Alidns AddDomainRecord API). Neither takes 0, so
#: neither can publish the RFC 7505 null MX.
MX_PRIORITY_RANGE: Final[Mapping[DnsProvider, tuple[int, int]]] = {
    "dnspod": (1, 20),
    "alidns": (1, 50),
}

#: Each provider's default resolution line: DNSPod's is "默认" ("default"), Alidns' "default".
DEFAULT_LINE: Final[Mapping[DnsProvider, str]] = {"dnspod": "默认", "alidns": "default"}

#: Longest TXT value in bytes, where a provider limits it: Alidns holds TXT under 512 bytes.
MAX_TXT: Final[Mapping[DnsProvider, int | None]] = {"dnspod": None, "alidns": 511}

#: Record types each provider can hold (Alidns has no TLSA; neither is used for it here).
RECORD_TYPES: Final = frozenset({"A", "AAAA", "CNAME", "MX", "TXT", "SRV", "CAA"})

# --------------------------------------------------------------------------------------------
# Sending services (DESIGN.md, "Clouds")
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Destination:
    """Where mail sent through a DirectMail region id goes: the place a declaration names."""

    label: str  # Alibaba's name for the region id today
    country: str  # the country the data goes to
    in_gba: bool = False  # one of the nine Mainland cities of the Greater Bay Area
    note: str = ""


#: Alibaba DirectMail regions: none is in Hong Kong, none is in the Greater Bay Area. Source:
#: Alibaba Cloud, Direct Mail "API endpoints" (alibabacloud.com/help/en/direct-mail/api-endpoints,
#: updated 29 Oct 2025; Chinese page help.aliyun.com/document_detail/96856): the region id
#: ap-southeast-2, once Australia (Sydney), is now labelled "United States (formerly Sydney)" /
#: "美国(原悉尼)"; the other language versions mark Australia (Sydney) "Closed".
DIRECTMAIL_DESTINATIONS: Final[Mapping[str, Destination]] = {
    "cn-hangzhou": Destination("China (Hangzhou)", "Mainland China (Hangzhou, Zhejiang)"),
    "ap-southeast-1": Destination("Singapore", "Singapore"),
    "ap-southeast-2": Destination(
        "United States (formerly Sydney)",
        "United States",
        note="the region id ap-southeast-2 no longer means Sydney: Alibaba closed the Sydney "
        "endpoint and relabelled the id 'United States (formerly Sydney)'; new set-ups should "
        "use us-east-1",
    ),
    "us-east-1": Destination("US (Virginia)", "United States"),
    "eu-central-1": Destination("Germany (Frankfurt)", "Germany"),
}
DIRECTMAIL_REGIONS: Final = tuple(DIRECTMAIL_DESTINATIONS)


#: Tencent SES SMTP service addresses as documented by Tencent (SES "SMTP Service Address" page,
#: product 1084/44457): Hong Kong smtp.qcloudmail.com, Guangzhou gz-smtp.qcloudmail.com, Singapore
#: sg-smtp.qcloudmail.com; port 465 for SSL, 25 disabled. Only the first keeps mail in Hong Kong.
TENCENT_SES_HK_SMTP: Final = "smtp.qcloudmail.com"
HONG_KONG_RELAYS: Final = frozenset({TENCENT_SES_HK_SMTP})
