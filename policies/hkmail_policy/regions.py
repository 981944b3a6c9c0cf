"""Region vocabulary of both clouds and the tests "is this value a region / zone, and which?".

The vocabulary is used to find region ids embedded in other values (endpoints, OSS locations,
COS bucket ids). Sources: Alibaba Cloud "Regions and zones" and Tencent Cloud "Regions and
availability zones" pages, cross-checked against the region ids the installed SDKs' own docs mention
(tests/test_policy_metadata.py fails on a region-shaped id in the SDK sources that is not
here). A region-bearing *property* does not depend on this list: any value there that is not
recognisably an allowed region is a violation (fail closed).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

ALIBABA_REGIONS = (
    "cn-qingdao", "cn-beijing", "cn-zhangjiakou", "cn-huhehaote", "cn-wulanchabu",
    "cn-hangzhou", "cn-shanghai", "cn-nanjing", "cn-fuzhou", "cn-shenzhen", "cn-heyuan",
    "cn-guangzhou", "cn-chengdu", "cn-wuhan-lr", "cn-chenzhou", "cn-hongkong",
    "cn-hangzhou-finance", "cn-shanghai-finance-1", "cn-shenzhen-finance-1",
    "cn-beijing-finance-1", "cn-north-2-gov-1",
    "ap-northeast-1", "ap-northeast-2", "ap-southeast-1", "ap-southeast-2", "ap-southeast-3",
    "ap-southeast-5", "ap-southeast-6", "ap-southeast-7", "ap-south-1",
    "us-east-1", "us-west-1", "eu-west-1", "eu-central-1", "me-east-1", "me-central-1",
    "na-south-1",
)  # fmt: skip
TENCENT_REGIONS = (
    "ap-guangzhou", "ap-shanghai", "ap-nanjing", "ap-beijing", "ap-chengdu", "ap-chongqing",
    "ap-shenzhen", "ap-tianjin", "ap-qingyuan", "ap-hongkong", "ap-taipei", "ap-singapore",
    "ap-jakarta", "ap-seoul", "ap-tokyo", "ap-mumbai", "ap-bangkok", "na-siliconvalley",
    "na-ashburn", "na-toronto", "sa-saopaulo", "eu-frankfurt", "eu-moscow",
    "me-saudi-arabia", "ap-shanghai-fsi", "ap-shenzhen-fsi", "ap-beijing-fsi",
    "ap-guangzhou-open", "ap-shanghai-adc",
)  # fmt: skip
KNOWN_REGIONS = frozenset(ALIBABA_REGIONS + TENCENT_REGIONS)
# Where each region is (same sources as the lists above). Regions not listed here are Mainland
# China (every other cn-* of Alibaba and ap-<city> of Tencent names a Mainland city).
REGION_PLACES = {
    "cn-hongkong": "Hong Kong", "ap-hongkong": "Hong Kong", "ap-taipei": "Taiwan (Taipei)",
    "ap-northeast-1": "Japan (Tokyo)", "ap-tokyo": "Japan (Tokyo)",
    "ap-northeast-2": "South Korea (Seoul)", "ap-seoul": "South Korea (Seoul)",
    "ap-southeast-1": "Singapore", "ap-singapore": "Singapore",
    "ap-southeast-2": "Australia (Sydney)", "ap-southeast-3": "Malaysia (Kuala Lumpur)",
    "ap-southeast-5": "Indonesia (Jakarta)", "ap-jakarta": "Indonesia (Jakarta)",
    "ap-southeast-6": "Philippines (Manila)", "ap-southeast-7": "Thailand (Bangkok)",
    "ap-bangkok": "Thailand (Bangkok)", "ap-south-1": "India (Mumbai)",
    "ap-mumbai": "India (Mumbai)", "us-east-1": "United States (Virginia)",
    "us-west-1": "United States (Silicon Valley)",
    "na-siliconvalley": "United States (Silicon Valley)",
    "na-ashburn": "United States (Virginia)", "na-toronto": "Canada (Toronto)",
    "eu-west-1": "United Kingdom (London)", "eu-central-1": "Germany (Frankfurt)",
    "eu-frankfurt": "Germany (Frankfurt)", "eu-moscow": "Russia (Moscow)",
    "me-east-1": "United Arab Emirates (Dubai)", "me-central-1": "Saudi Arabia (Riyadh)",
    "me-saudi-arabia": "Saudi Arabia", "na-south-1": "Mexico", "sa-saopaulo": "Brazil (Sao Paulo)",
}  # fmt: skip
DEFAULT_ALLOWED = ("cn-hongkong", "ap-hongkong")

# Tencent APIs also take numeric zone ids: <region number><zone number>, Hong Kong is 3000xx
# (ap-hongkong-1 = 300001, -2 = 300002, -3 = 300003).
TENCENT_NUMERIC_ZONE = {"ap-hongkong": re.compile(r"^3000\d\d$")}

# Tencent APIs that take an integer region id (e.g. Cwp LicenseOrder.region_id: "1 Guangzhou,
# 9 Singapore" in the SDK docs). Tencent's numbering: 1 ap-guangzhou, 4 ap-shanghai, 5 ap-hongkong,
# 8 ap-beijing, 9 ap-singapore. A number not listed here is not recognisably Hong Kong.
TENCENT_NUMERIC_REGIONS = {1: "ap-guangzhou", 4: "ap-shanghai", 5: "ap-hongkong", 8: "ap-beijing",
                           9: "ap-singapore"}  # fmt: skip
# Short region codes in Tencent host names (`<service>.gz.apigw.tencentcs.com`, `gz-smtp.` of SES).
TENCENT_REGION_CODES = {"gz": "ap-guangzhou", "sh": "ap-shanghai", "bj": "ap-beijing",
                        "cd": "ap-chengdu", "cq": "ap-chongqing", "nj": "ap-nanjing",
                        "hk": "ap-hongkong", "sg": "ap-singapore"}  # fmt: skip
# Named groups of regions that some inputs take instead of a region id (CEN / GA "geographic
# region" China, Asia-Pacific, ...; CDN/anycast areas; "Node area" 2 = Hong Kong, Macao and
# Taiwan). A group is never a Hong Kong region: it spans several.
REGION_GROUPS = frozenset({
    "china", "china-mainland", "mainland", "chinese-mainland", "asia-pacific", "europe",
    "north-america", "south-america", "australia", "middle-east", "global", "overseas",
    "international", "domestic", "anycast_zone_global", "anycast_zone_overseas",
})  # fmt: skip

_LONGEST_FIRST = tuple(sorted(KNOWN_REGIONS, key=len, reverse=True))
# Longest first so that `cn-shanghai-finance-1` wins over `cn-shanghai`. A region ending in a digit
# may be followed by a zone letter (`ap-southeast-1a`); otherwise the next char must end the token.
_ALTERNATIVES = "|".join(
    re.escape(r) + ("(?![0-9])" if r[-1].isdigit() else "(?![a-z0-9])") for r in _LONGEST_FIRST
)
_EMBEDDED = re.compile(rf"(?<![A-Za-z0-9])({_ALTERNATIVES})", re.IGNORECASE)
# Shape of a region or zone id on either cloud (a value we must not ignore even if not listed).
_GEO_SHAPE = re.compile(r"^(cn|ap|us|eu|me|na|sa|af|mx|la)-[a-z]+(-[a-z0-9]+)*[a-z]?$")


def region_of(value: str) -> str | None:
    """The known region a region/zone id belongs to (`cn-hongkong-b` -> `cn-hongkong`)."""
    v = value.strip().lower()
    for region in _LONGEST_FIRST:
        if v == region or v.startswith(region + "-"):
            return region
        if region[-1].isdigit() and len(v) == len(region) + 1 and v.startswith(region):
            return region  # Alibaba zone style ap-southeast-1a
    return None


def in_allowed(value: str, allowed: Iterable[str]) -> bool:
    """True if value is an allowed region or a zone of one (prefix match on a dash boundary)."""
    v = value.strip().lower()
    return any(v == a or v.startswith(a.lower() + "-") for a in allowed)


def numeric_region_allowed(value: int, allowed: Iterable[str]) -> bool:
    region = TENCENT_NUMERIC_REGIONS.get(value)
    return region is not None and in_allowed(region, allowed)


def numeric_zone_allowed(value: int, allowed: Iterable[str]) -> bool:
    return any(
        pattern.match(str(value)) for a in allowed if (pattern := TENCENT_NUMERIC_ZONE.get(a))
    )


def looks_geographic(value: str) -> bool:
    v = value.strip().lower()
    return bool(_GEO_SHAPE.match(v)) or region_of(v) is not None


def embedded_regions(text: str) -> list[str]:
    """Every known region id appearing inside text (endpoints, ARNs, bucket ids, locations)."""
    return [m.group(1).lower() for m in _EMBEDDED.finditer(text)]


def country_of(region: str) -> str:
    """Where a known region is, for people ("Mainland China", "Singapore")."""
    known = region_of(region) or region.strip().lower()
    if known in REGION_PLACES:
        return REGION_PLACES[known]
    return "Mainland China" if known in KNOWN_REGIONS else "not recognisably Hong Kong"
