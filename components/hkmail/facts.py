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

#: TTL floors per DNS plan. Where the sources agree, the floor is refused below; where they
#: disagree or are missing, the spec refuses only below the lowest figure any source gives
#: (TTL_FLOOR) and the plan warns below the highest (TTL_ADVISORY_FLOOR), so that a wrong figure
#: never refuses a stack the provider would accept.
#:
#: Alidns: the current "TTL definition" page (alibabacloud.com/help/ja/alibaba-cloud-dns-jp/latest/
#: ttl-define) and pulumi-alicloud's AlidnsRecord docs give Free 600, Basic 120, Standard 60,
#: Flagship (Ultimate) 10, Exclusive 1; the older page (alibabacloud.com/help/doc-detail/29806)
#: gives Free 600, Individual 600, Enterprise Standard 60, Enterprise Ultimate 1. Here "personal"
#: is the Basic/Individual edition and "ultimate" the Flagship/Enterprise Ultimate edition.
#:
#: DNSPod: the tencentcloud provider's Terraform docs (tencentcloud_dnspod_record.ttl) say only
#: "the range is 1-604800, and the minimum value of different levels of domain names is
#: different". Tencent's DescribePackageDetail API example (cloud.tencent.com/document/api/1427/
#: 86551) lists MinTtl per package: free (DP_Free) 600, professional (DP_Plus) 60, enterprise
#: (DP_Expert) 1, ultimate (DP_Ultra) 1 (the legacy D_Free package shows 120). These are the
#: advisory figures; an example response is not a guarantee, so the spec refuses only below 1 and
#: the domain's real floor is the MinTtl DNSPod reports for its package.
TTL_FLOOR: Final[Mapping[DnsProvider, Mapping[str, int]]] = {
    "dnspod": {"free": 1, "professional": 1, "enterprise": 1, "ultimate": 1},
    "alidns": {"free": 600, "personal": 120, "standard": 60, "ultimate": 1, "exclusive": 1},
}
TTL_ADVISORY_FLOOR: Final[Mapping[DnsProvider, Mapping[str, int]]] = {
    "dnspod": {"free": 600, "professional": 60, "enterprise": 1, "ultimate": 1},
    "alidns": {"free": 600, "personal": 600, "standard": 60, "ultimate": 10, "exclusive": 1},
}
TTL_FLOOR_SOURCE: Final[Mapping[DnsProvider, str]] = {
    "dnspod": "DNSPod's per-plan minimum TTL is unverified as a limit: the figures are the example "
    "response of its DescribePackageDetail API (free 600, professional 60, enterprise 1, "
    "ultimate 1); the domain's real floor is the MinTtl DNSPod reports for its package",
    "alidns": "Alibaba's own pages disagree (current TTL page: Basic 120, Flagship 10; older "
    "page: Individual 600, Enterprise Ultimate 1)",
}
#: Longest TTL either provider accepts (one day).
TTL_MAX: Final = 86400
#: The TTL a record gets when the stack sets none (never below the plan's advisory floor).
TTL_DEFAULT: Final = 600

#: MX preference range the spec accepts per provider. Alidns 1-50: Alidns AddDomainRecord API
#: ("Priority ... 取值范围:[1,50]", help.aliyun.com/document_detail/29772; pulumi-alicloud's
#: AlidnsRecord docs say [1-10], contradicted by Alibaba's own Alibaba Mail preset 5/10/15).
#: DNSPod 1-65535: DNSPod's ModifyRecord API documents MX 1-65535 (its CreateRecord API 0-65535);
#: the tencentcloud provider's Terraform docs (tencentcloud_dnspod_record.mx) say "range 1-20",
#: so above MX_PRIORITY_DOCUMENTED_MAX the plan warns instead of refusing. The null MX needs
#: preference 0: only DNSPod's CreateRecord documents it, while updates go through ModifyRecord
#: (from 1) and the provider documents 1-20, so a null MX could not be kept through the provider;
#: Alidns takes 1-50. Neither is used for the RFC 7505 null MX here.
MX_PRIORITY_RANGE: Final[Mapping[DnsProvider, tuple[int, int]]] = {
    "dnspod": (1, 65535),
    "alidns": (1, 50),
}
MX_PRIORITY_DOCUMENTED_MAX: Final[Mapping[DnsProvider, int]] = {"dnspod": 20, "alidns": 50}

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


# --------------------------------------------------------------------------------------------
# Chat platforms mail can notify (DESIGN.md, "Chat platforms"; issue 23)
# --------------------------------------------------------------------------------------------

ChatPlatformId = Literal["dingtalk", "wecom", "lark"]


@dataclass(frozen=True)
class ChatPlatform:
    """A group-robot webhook that mail rules may notify: where it is and what it accepts."""

    title: str
    #: the only hosts a webhook URL of this platform may name (the notifier refuses any other)
    hosts: tuple[str, ...]
    #: the path every webhook URL of this platform starts with
    path: str
    #: at most this many requests a minute per robot (the notifier stays under it)
    per_minute: int
    #: at most this many requests a second per robot, where the platform documents one
    per_second: int | None
    #: the largest message text the notifier sends in one request (bytes, UTF-8)
    max_text: int
    #: how long the platform throttles a robot that went over the limit (seconds), where stated
    throttle_seconds: int | None
    #: where the endpoint is: no source we found names the country of any of the three
    where: str
    source: str


#: DingTalk custom robot: oapi.dingtalk.com/robot/send?access_token=...; signed with
#: timestamp(ms) + "\n" + secret, HMAC-SHA256, base64, URL-encoded, as &timestamp=&sign=; 20
#: messages a minute per robot, then throttled for 10 minutes (DESIGN.md "Chat platforms"; DingTalk
#: open platform "custom robot" page). No message size is published: 4,000 bytes is our cap.
#: WeCom group robot: qyapi.weixin.qq.com/cgi-bin/webhook/send?key=... (the key is the
#: credential; no signature); "each robot may send at most 20 messages a minute", markdown content
#: at most 4,096 bytes (developer.work.weixin.qq.com/document/path/91770, 群机器人配置说明).
#: Lark/Feishu custom bot: open.feishu.cn (Feishu) or open.larksuite.com (Lark),
#: /open-apis/bot/v2/hook/<token>; 100 requests a minute and 5 a second per bot, request body at
#: most 20 KB; signed with timestamp(s) + "\n" + secret as the HMAC-SHA256 key over an empty
#: message, base64, sent as "timestamp" and "sign" in the JSON body
#: (open.feishu.cn/document/client-docs/bot-v3/add-custom-bot).
CHAT_PLATFORMS: Final[Mapping[ChatPlatformId, ChatPlatform]] = {
    "dingtalk": ChatPlatform(
        "DingTalk custom robot",
        ("oapi.dingtalk.com",),
        "/robot/send",
        per_minute=20,
        per_second=None,
        max_text=4000,
        throttle_seconds=600,
        where="outside Hong Kong (DESIGN.md 'Chat platforms'; the country is not published)",
        source="DESIGN.md 'Chat platforms'; open.dingtalk.com custom robot documentation",
    ),
    "wecom": ChatPlatform(
        "WeCom group robot",
        ("qyapi.weixin.qq.com",),
        "/cgi-bin/webhook/send",
        per_minute=20,
        per_second=None,
        max_text=4000,
        throttle_seconds=None,
        where="outside Hong Kong (DESIGN.md 'Chat platforms'; the country is not published)",
        source="developer.work.weixin.qq.com/document/path/91770",
    ),
    "lark": ChatPlatform(
        "Lark/Feishu custom bot",
        ("open.feishu.cn", "open.larksuite.com"),
        "/open-apis/bot/v2/hook/",
        per_minute=100,
        per_second=5,
        max_text=18_000,
        throttle_seconds=None,
        where="outside Hong Kong (DESIGN.md 'Chat platforms'; the country is not published)",
        source="open.feishu.cn/document/client-docs/bot-v3/add-custom-bot",
    ),
}
CHAT_PLATFORM_IDS: Final[tuple[ChatPlatformId, ...]] = tuple(CHAT_PLATFORMS)

#: DingTalk to-do (the "todo" of a notify rule) through an enterprise internal app's credentials,
#: on DingTalk's new API host, outside Hong Kong like the robot (DESIGN.md "Chat platforms"). The
#: calls' paths, fields and limits, with their sources, are in the program that makes them,
#: hkmail/mailserver/notify.py (it runs on the instance with the standard library only).
DINGTALK_TODO_HOSTS: Final = ("api.dingtalk.com",)
DINGTALK_TODO_TITLE: Final = "DingTalk to-do (enterprise app)"
