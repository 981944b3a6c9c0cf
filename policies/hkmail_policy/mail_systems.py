"""The one table of mail systems the pack knows: which MX hosts and SPF includes belong to which
system, and where that system keeps the mail, as its vendor publishes it (or "not published").

A mail flow's destination (flows.Place) comes from here: MX -> the system that stores the
mailboxes; SPF include -> the service that sends as the domain. The library's presets
(components/hkmail/presets.py) name the same hosts; tests/test_policy_mailflows.py holds the two
equal, since the pack cannot import the library.

Every fact says what was read, where, and when (checked 2026-12-07). Where no vendor page states a
storage location, the fact says so: "not published" is a finding, not a gap in the table.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

from .flows import Jurisdiction, Place

CHECKED = "checked 2026-12-07"


@dataclass(frozen=True)
class MailSystem:
    id: str
    title: str
    jurisdiction: Jurisdiction
    fact: str  # what the vendor publishes about where the data is, with its source
    mx: tuple[str, ...] = ()  # MX host globs (lower case, no trailing dot)
    spf: tuple[str, ...] = ()  # SPF include domains
    relay: tuple[str, ...] = ()  # SMTP hosts a mail server relays outbound mail through

    def place(self, host: str) -> Place:
        return Place(f"{self.title} ({host})", self.jurisdiction, self.fact)


SYSTEMS: tuple[MailSystem, ...] = (
    MailSystem(
        "tencent-exmail",
        "Tencent Exmail",
        "not-published",
        "storage location not published: Tencent Exmail's service agreement "
        "(en.exmail.qq.com/cgi-bin/bizmail_portal?t=bizmail_eula) and product pages state none; "
        "hwimap/hwsmtp.exmail.qq.com are listed only as other server names for overseas users, "
        f"not as separate storage ({CHECKED})",
        mx=("mxbiz1.qq.com", "mxbiz2.qq.com"),
        spf=("spf.mail.qq.com",),
        relay=("smtp.exmail.qq.com",),
    ),
    MailSystem(
        "alibaba-mail",
        "Alibaba Mail (China site)",
        "not-published",
        "storage location not published: the China site (qiye.aliyun.com) says only that mail "
        "is stored on Alibaba Cloud mail servers (阿里云邮箱服务器), with no location; the MX "
        f"hosts are those of help.aliyun.com document 446248 ({CHECKED})",
        mx=("mx1.qiye.aliyun.com", "mx2.qiye.aliyun.com", "mx3.qiye.aliyun.com"),
        spf=("spf.qiye.aliyun.com",),
        # SMTP host: help.aliyun.com document 36687 ("Send emails from Alibaba Mail using SMTP")
        relay=("smtp.qiye.aliyun.com",),
    ),
    MailSystem(
        "alibaba-mail-sg",
        "Alibaba Mail (Singapore site)",
        "not-published",
        "storage location not published: Alibaba Mail's troubleshooting page "
        "(alibabacloud.com/help/en/alibaba-mail/latest/troubleshooting-causes-of-failure-to-"
        "send-and-receive-mail) gives the Singapore site's MX mx1/mx2.sg.aliyun.com and SPF "
        f"include:spf.sg.aliyun.com, but no page states where its mail is stored ({CHECKED})",
        mx=("mx1.sg.aliyun.com", "mx2.sg.aliyun.com"),
        spf=("spf.sg.aliyun.com",),
        # SMTP host: alibabacloud.com/help/.../alibaba-mail/latest/example-of-python3-6-and-later-
        # using-smtp (its Singapore site, all language versions)
        relay=("smtp.sg.aliyun.com",),
    ),
    MailSystem(
        "alibaba-mail-hk",
        "Alibaba Mail (Hong Kong site)",
        "not-published",
        "storage location not published: Alibaba Mail's international service has a Hong Kong "
        "(China) site (webmail mail.hk.aliyun.com: alibabacloud.com/help/en/alibaba-mail/latest/"
        "1000112; API host alimail-hk.aliyuncs.com: .../alibaba-mail/latest/api-access-server-"
        "address, updated 14 Feb 2026; SMTP smtp.hk.aliyun.com, ports 25 and 465: .../alibaba-mail/"
        "latest/example-of-python3-6-and-later-using-smtp, updated 11 Dec 2025), but its 'email "
        "data storage' page (.../alibaba-mail/latest/qiyyxyjsjcc1468291982127) says only that "
        "mail is kept on Alibaba Cloud's mail servers, no page states that this site stores it in "
        "Hong Kong, and its MX hosts, SPF include and IMAP/POP hosts are not published (the MX "
        f"come from its console) ({CHECKED})",
        relay=("smtp.hk.aliyun.com",),
    ),
    MailSystem(
        "alibaba-directmail",
        "Alibaba DirectMail",
        "outside",
        "no Hong Kong region: DirectMail runs in cn-hangzhou, ap-southeast-1, ap-southeast-2 "
        "(now 'United States (formerly Sydney)'), us-east-1 and eu-central-1 "
        f"(alibabacloud.com/help/en/direct-mail/api-endpoints, {CHECKED}); SPF include as its "
        "Hangzhou documentation gives it; SMTP endpoints smtpdm.aliyun.com (Hangzhou), "
        "smtpdm-ap-southeast-1/-us-east-1/-eu-central-1.aliyuncs.com and the legacy "
        "smtpdm-ap-southeast-1/-2.aliyun.com (alibabacloud.com/help/en/direct-mail/smtp-endpoints)",
        spf=("spf1.dm.aliyun.com",),
        relay=("smtpdm.aliyun.com", "smtpdm-*.aliyuncs.com", "smtpdm-*.aliyun.com"),
    ),
    MailSystem(
        "tencent-ses",
        "Tencent SES",
        "not-published",
        "Tencent SES sends from the region of its sending identity (ap-hongkong, ap-guangzhou or "
        "ap-singapore); the SPF include qcloudmail.com (CreateEmailIdentity) is the same for "
        "every region, so it shows no location by itself",
        spf=("qcloudmail.com",),
    ),
    MailSystem(
        "tencent-ses-outside",
        "Tencent SES outside Hong Kong",
        "outside",
        "Tencent SES 'SMTP Service Address' (tencentcloud.com/document/product/1084/44457): "
        "gz-smtp.qcloudmail.com is Guangzhou (Mainland China), sg-smtp.qcloudmail.com Singapore; "
        f"only smtp.qcloudmail.com is Hong Kong ({CHECKED})",
        relay=("gz-smtp.qcloudmail.com", "sg-smtp.qcloudmail.com"),
    ),
)
BY_ID = {s.id: s for s in SYSTEMS}

# Tencent SES is Hong Kong when the stack itself registers the domain's sending identity (every
# Tencent resource's region is judged by residency-provider-region: ap-hongkong or the gate fails).
TENCENT_SES_TYPE_PREFIX = "tencentcloud:Ses/"
TENCENT_SES_HK_FACT = (
    "the stack's own Tencent SES sending identity for this domain, whose region "
    "residency-provider-region holds to ap-hongkong"
)


# ... or when the stack's own mail server relays through Tencent SES's Hong Kong SMTP endpoint
# (Tencent SES "SMTP Service Address": Hong Kong smtp.qcloudmail.com; Guangzhou gz-smtp, Singapore
# sg-smtp, which residency-embedded-region blocks). The library's facts.TENCENT_SES_HK_SMTP names
# the same host (tests/test_policy_mailflows.py holds them equal).
TENCENT_SES_HK_RELAY = "smtp.qcloudmail.com"
TENCENT_SES_RELAY_FACT = (
    "the stack's own mail server relays through Tencent SES's Hong Kong SMTP endpoint "
    f"{TENCENT_SES_HK_RELAY} (Tencent SES 'SMTP Service Address')"
)


def by_mx(host: str) -> MailSystem | None:
    host = host.lower().rstrip(".")
    return next((s for s in SYSTEMS if any(fnmatch.fnmatchcase(host, g) for g in s.mx)), None)


def by_relay(host: str) -> MailSystem | None:
    host = host.lower().rstrip(".")
    return next((s for s in SYSTEMS if any(fnmatch.fnmatchcase(host, g) for g in s.relay)), None)


def by_spf_include(domain: str) -> MailSystem | None:
    domain = domain.lower().rstrip(".")
    return next((s for s in SYSTEMS if domain in s.spf), None)


def unlisted(host: str, what: str) -> Place:
    """A host no row of the table names: fail closed until someone declares where it is."""
    return Place(
        host,
        "not-published",
        f"{what} {host} is not in the pack's mail-systems table "
        "(policies/hkmail_policy/mail_systems.py): where it keeps the data is not known",
    )
