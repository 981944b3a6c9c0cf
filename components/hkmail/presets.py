"""Hosted mail suites: the MX hosts, SPF includes and client endpoints their vendors publish.

Sources (DESIGN.md, "Hosted suites"): Tencent Exmail MX mxbiz1.qq.com (5) and mxbiz2.qq.com (10),
SPF include:spf.mail.qq.com, clients imap.exmail.qq.com:993 and smtp.exmail.qq.com:465; Alibaba
Mail MX mx1/mx2/mx3.qiye.aliyun.com (5/10/15), SPF include:spf.qiye.aliyun.com, clients
imap.qiye.aliyun.com:993 and smtp.qiye.aliyun.com:465. DKIM selectors and keys come from each
suite's admin console, so they are stack input, not presets.

The alibaba-mail preset is Alibaba Mail's China site: its MX values are those of Alibaba's
"What is an MX record?" page on help.aliyun.com (document 446248). Alibaba Mail's international
service (alibabacloud.com) has Singapore, Hong Kong, Germany and US sites (its "API access server
address" page lists alimail-sg/-hk/-de/-us.aliyuncs.com). The alibaba-mail-hk preset is its
Hong Kong (China) site: the vendor publishes its SMTP host smtp.hk.aliyun.com (ports 25 and 465;
"SMTP call example for Python 3.6 and later", alibabacloud.com/help/tc/alibaba-mail/latest/
example-of-python3-6-and-later-using-smtp, updated 11 Dec 2025), but not its MX hosts, SPF include
or IMAP/POP hosts, so the stack lists the MX hosts its console shows (mail.mx) and any SPF include
(spf.include). No Alibaba page states that this site stores its mail in Hong Kong. Where each suite
keeps mail is the policy pack's mail-systems table (policies/hkmail_policy/mail_systems.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

# Alibaba Mail Hong Kong (China) site's SMTP host (see above); the pack's mail-systems table names
# the same host (tests/test_policy_mailflows.py holds them equal).
ALIBABA_MAIL_HK_SMTP: Final = "smtp.hk.aliyun.com"


@dataclass(frozen=True)
class MxHost:
    host: str
    priority: int


@dataclass(frozen=True)
class SrvTarget:
    host: str
    port: int


@dataclass(frozen=True)
class AutodiscoverySpec:
    submission: SrvTarget | None = None  # _submission._tcp, STARTTLS on 587 (RFC 6186)
    submissions: SrvTarget | None = None  # _submissions._tcp, implicit TLS on 465 (RFC 8314)
    imaps: SrvTarget | None = None  # _imaps._tcp, 993 (RFC 6186)


@dataclass(frozen=True)
class SuitePreset:
    name: str
    title: str
    mx: tuple[MxHost, ...] = ()
    site: str = ""  # which of the vendor's sites the MX and endpoints belong to
    spf_includes: tuple[str, ...] = ()
    autodiscovery: AutodiscoverySpec | None = None
    # The stack lists the MX hosts (mail.mx): its own (custom), or a suite whose vendor publishes
    # none (the values its console shows).
    stack_mx: bool = False


SUITES: Final[Mapping[str, SuitePreset]] = {
    "tencent-exmail": SuitePreset(
        name="tencent-exmail",
        title="Tencent Exmail",
        mx=(MxHost("mxbiz1.qq.com", 5), MxHost("mxbiz2.qq.com", 10)),
        spf_includes=("spf.mail.qq.com",),
        autodiscovery=AutodiscoverySpec(
            submissions=SrvTarget("smtp.exmail.qq.com", 465),
            imaps=SrvTarget("imap.exmail.qq.com", 993),
        ),
    ),
    "alibaba-mail": SuitePreset(
        name="alibaba-mail",
        title="Alibaba Mail (China site)",
        site="Alibaba Mail China site (qiye.aliyun.com), not its international service: Alibaba "
        "Mail's Hong Kong site exists only on the international service and is not this preset",
        mx=(
            MxHost("mx1.qiye.aliyun.com", 5),
            MxHost("mx2.qiye.aliyun.com", 10),
            MxHost("mx3.qiye.aliyun.com", 15),
        ),
        spf_includes=("spf.qiye.aliyun.com",),
        autodiscovery=AutodiscoverySpec(
            submissions=SrvTarget("smtp.qiye.aliyun.com", 465),
            imaps=SrvTarget("imap.qiye.aliyun.com", 993),
        ),
    ),
    "alibaba-mail-hk": SuitePreset(
        name="alibaba-mail-hk",
        title="Alibaba Mail (Hong Kong (China) site)",
        site="Alibaba Mail international service, Hong Kong (China) site (mail.hk.aliyun.com): "
        "its MX hosts are not published, so mail.mx holds the values its console shows",
        stack_mx=True,
        autodiscovery=AutodiscoverySpec(submissions=SrvTarget(ALIBABA_MAIL_HK_SMTP, 465)),
    ),
    "custom": SuitePreset(name="custom", title="Custom MX", stack_mx=True),
    # MX, SRV and the MTA-STS host point at hkmail:privateServer's hostname.
    "private": SuitePreset(name="private", title="Private mail server in Hong Kong"),
    "none": SuitePreset(name="none", title="No mail (null MX, RFC 7505)"),
}

# The hosted suites (those with client endpoints) -> the IMAP host and port their vendor
# publishes, None where it publishes none (the stack or the command line gives it). Migration
# (old.suite) and the IMAP tools read this, not tables of their own.
SUITE_IMAP: Final[Mapping[str, tuple[str, int] | None]] = {
    name: None
    if s.autodiscovery.imaps is None
    else (s.autodiscovery.imaps.host, s.autodiscovery.imaps.port)
    for name, s in SUITES.items()
    if s.autodiscovery is not None
}

# Tencent SES publishes this include for its sending identities (CreateEmailIdentity API,
# the expected SPF value "v=spf1 include:qcloudmail.com ~all"), and signs with selector qcloud.
TENCENT_SES_SPF_INCLUDE: Final = "qcloudmail.com"
TENCENT_SES_DKIM_SELECTOR: Final = "qcloud"

# Alibaba DirectMail's SPF include, as its Hangzhou documentation gives it
# ("v=spf1 include:spf1.dm.aliyun.com -all"). For its other regions the console shows the value.
DIRECTMAIL_SPF_INCLUDES: Final[Mapping[str, str]] = {"cn-hangzhou": "spf1.dm.aliyun.com"}
