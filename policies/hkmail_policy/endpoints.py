"""Service host names of both clouds and what they imply about where data goes.

A value can place data without naming a region id: an SMTP relay host, a storage or log endpoint, an
acceleration endpoint, a DirectMail address. This table says, for each host shape the providers
document, which cloud service it is and in which region it runs (or that it is a global edge, or a
service with no Hong Kong region). Host shapes whose label IS a region id
(`oss-cn-beijing.aliyuncs.com`, `cos.ap-shanghai.myqcloud.com`, `cn-shanghai.log.aliyuncs.com`,
`cvm.ap-guangzhou.tencentcloudapi.com`) are found by `regions.embedded_regions`; this table holds
the ones that are not.

Sources: the providers' endpoint documentation as mirrored in the installed SDKs' docs (the
Provider `endpoints` override keys of pulumi-alicloud, the example hosts in both SDKs' docstrings
(`tests/test_policy_metadata.py` checks that every storage, log, queue, mail and gateway host in
the installed SDKs' sources is classified, by a region id in it or by this table),
Alibaba DirectMail "SMTP service address" (smtpdm.aliyun.com = China (Hangzhou); smtpdm-<region>
for the other regions), Tencent SES "SMTP service address" (smtp.qcloudmail.com = Hong Kong,
gz-smtp = Guangzhou, sg-smtp = Singapore), OSS "Regions and endpoints" (oss.aliyuncs.com is the
legacy China (Hangzhou) endpoint; oss-accelerate / oss-accelerate-overseas are the transfer
acceleration endpoints), COS global acceleration (cos.accelerate.myqcloud.com), and Tencent API
Gateway default domains (<service>.<region code>.apigw.tencentcs.com, e.g. `gz` in the SDK docs).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from . import regions

# regional: runs in one region (named by the host or the table); no-hk-service: a service with no
# Hong Kong region; global-edge: points of presence worldwide; not-published: a vendor system
# that receives data and whose storage location no source we checked states; read-only: hosts
# only read from (package mirrors, NTP): never a flow out.
Kind = Literal["regional", "no-hk-service", "global-edge", "not-published", "read-only"]


@dataclass(frozen=True)
class HostShape:
    pattern: re.Pattern[str]
    service: str
    kind: Kind
    #: the region when the host names none; the named group `region` (a region id) or `code`
    #: (a short region code, see regions.TENCENT_REGION_CODES) wins when present
    region: str | None = None


def _host(regex: str) -> re.Pattern[str]:
    # a host name inside any text: not preceded or followed by another host-name character
    return re.compile(rf"(?<![A-Za-z0-9.-])(?:[A-Za-z0-9-]+\.)*{regex}(?![A-Za-z0-9-])", re.I)


def _exact(regex: str) -> re.Pattern[str]:
    # the host itself, without sub-domains (cn-hongkong.dashscope... is another endpoint)
    return re.compile(rf"(?<![A-Za-z0-9.-]){regex}(?![A-Za-z0-9-])", re.I)


_R = r"(?P<region>[a-z]{2}-[a-z]+(?:-[a-z0-9]+)*)"

HOSTS: tuple[HostShape, ...] = (
    # Alibaba DirectMail (no Hong Kong region): SMTP and API hosts, with or without a region.
    HostShape(_host(rf"smtpdm(?:-{_R})?\.aliyun(?:cs)?\.com"), "Alibaba DirectMail SMTP",
              "no-hk-service", "cn-hangzhou"),
    HostShape(_host(rf"dm(?:\.{_R})?\.aliyuncs\.com"), "Alibaba DirectMail API", "no-hk-service",
              "cn-hangzhou"),
    # Tencent SES SMTP: the bare host is the Hong Kong service.
    HostShape(_host(r"(?:(?P<code>[a-z]{2,4})-)?smtp\.qcloudmail\.com"), "Tencent SES SMTP",
              "regional", "ap-hongkong"),
    # OSS: the legacy endpoint is Hangzhou; acceleration endpoints are global edges.
    HostShape(_host(r"oss-accelerate(?:-overseas)?\.aliyuncs\.com"), "OSS transfer acceleration",
              "global-edge"),
    HostShape(_host(r"oss(?:-internal)?\.aliyuncs\.com"), "OSS (legacy endpoint)", "regional",
              "cn-hangzhou"),
    # COS global acceleration.
    HostShape(_host(r"cos\.accelerate\.myqcloud\.com"), "COS global acceleration", "global-edge"),
    # MNS: <account>.mns.<region>.aliyuncs.com; without a region it is not recognisably HK.
    HostShape(_host(rf"mns(?:\.{_R})?\.aliyuncs\.com"), "Alibaba MNS", "regional"),
    # Tencent API Gateway default domains carry a short region code.
    HostShape(_host(r"(?P<code>[a-z]{2,6})\.apigw\.tencentcs\.com"), "Tencent API Gateway",
              "regional"),
    # Alibaba Cloud Model Studio (DashScope), "Base URL overview" (alibabacloud.com/help/en/
    # model-studio/base-url, checked 2026-12-07): dashscope.aliyuncs.com is China (Beijing),
    # dashscope-intl Singapore, dashscope-us US (Virginia); Hong Kong is
    # cn-hongkong.dashscope.aliyuncs.com (a region id in the host: judged by regions.py).
    HostShape(_exact(r"dashscope\.aliyuncs\.com"), "Alibaba Model Studio (DashScope) API",
              "regional", "cn-beijing"),
    HostShape(_host(r"dashscope-intl\.aliyuncs\.com"), "Alibaba Model Studio (DashScope) API",
              "regional", "ap-southeast-1"),
    HostShape(_host(r"dashscope-us\.aliyuncs\.com"), "Alibaba Model Studio (DashScope) API",
              "regional", "us-east-1"),
    # Chat webhooks: the message (whatever the program puts in it, e.g. a mail's subject and
    # sender) goes to the vendor's platform; where it is stored is not published in any source
    # we checked.
    HostShape(_host(r"oapi\.dingtalk\.com"), "DingTalk robot webhook", "not-published"),
    HostShape(_host(r"qyapi\.weixin\.qq\.com"), "WeCom (WeChat Work) group robot webhook",
              "not-published"),
    HostShape(_host(r"open\.feishu\.cn"), "Feishu custom bot webhook", "not-published"),
    HostShape(_host(r"open\.larksuite\.com"), "Lark custom bot webhook", "not-published"),
    # CDN edge CNAME targets (a DNS record that sends users' traffic to the edge): Tencent CDN
    # *.cdn.dnsv1.com(.cn) / *.dsa.dnsv1.com, EdgeOne *.eo.dnse*.com, Alibaba CDN *.kunlun*.com,
    # *.alikunlun.com, *.w.cdngslb.com.
    HostShape(_host(r"(?:cdn|dsa)\.dnsv1\.com(?:\.cn)?"), "Tencent CDN edge (CNAME target)",
              "global-edge"),
    HostShape(_host(r"eo\.dnse\d*\.com"), "Tencent EdgeOne edge (CNAME target)", "global-edge"),
    HostShape(_host(r"(?:kunlun[a-z]*|alikunlun)\.com"), "Alibaba CDN edge (CNAME target)",
              "global-edge"),
    HostShape(_host(r"w\.cdngslb\.com"), "Alibaba CDN edge (CNAME target)", "global-edge"),
    # Hosts only read from: the providers' package mirrors and time servers.
    HostShape(_host(r"mirrors\.(?:cloud\.)?aliyun(?:cs)?\.com"), "Alibaba mirror", "read-only"),
    HostShape(_host(r"mirrors\.(?:tencent|tencentyun)\.com"), "Tencent mirror", "read-only"),
    HostShape(_host(r"ntp\d*(?:\.cloud)?\.aliyun\.com"), "Alibaba NTP", "read-only"),
    HostShape(_host(r"(?:ntp|time\d*)\.(?:cloud\.)?tencent(?:yun)?\.com"), "Tencent NTP",
              "read-only"),
)  # fmt: skip

# Endpoints that deliver through DirectMail without naming a host (MNS topic subscriptions:
# `mail:directmail:<address>`).
DIRECTMAIL_ENDPOINT = re.compile(r"(?i)\bmail:directmail:")


@dataclass(frozen=True)
class HostMention:
    host: str
    service: str
    kind: Kind
    region: str | None  # None: unknown (a code not in the table) or not regional (global edge)


def mentions(text: str) -> Iterator[HostMention]:
    """Every service host of the table in text, with its kind and region."""
    for shape in HOSTS:
        for m in shape.pattern.finditer(text):
            groups = m.groupdict()
            region: str | None = shape.region
            if groups.get("region"):
                region = regions.region_of(groups["region"]) or groups["region"].lower()
            elif groups.get("code"):
                region = regions.TENCENT_REGION_CODES.get(groups["code"].lower())
            yield HostMention(m.group(0).lower(), shape.service, shape.kind, region)
    if DIRECTMAIL_ENDPOINT.search(text):
        yield HostMention("mail:directmail:", "Alibaba DirectMail (MNS mail endpoint)",
                          "no-hk-service", "cn-hangzhou")  # fmt: skip
