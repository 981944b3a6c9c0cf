"""Residency: nothing is placed, copied or served outside the allowed (Hong Kong) regions."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from .. import regions
from ..controls import RESIDENCY
from ..coverage import copy_target_paths, placement_paths, region_paths
from ..model import ALLOWED_REGIONS_SCHEMA, Context, Finding, Resource, Rule, violation
from ..values import Leaf, first, leaves, under

CLOUD_PACKAGES = {
    "alicloud": "ALICLOUD_REGION or the alicloud:region config",
    "tencentcloud": "TENCENTCLOUD_REGION or the provider default ap-guangzhou",
}
_SPLIT = re.compile(r"[,;\s]+")


def _allowed_text(ctx: Context) -> str:
    return ", ".join(ctx.allowed_regions()) + " (and their zones)"


def _provider_region(
    resource: Resource, subject: str, props: Mapping[str, Any], ctx: Context
) -> Iterator[Finding]:
    """The provider's own `region` input: present, literal, and allowed."""
    leaf = first(props, "region")
    pkg = resource.package
    if leaf is None or leaf.value in (None, ""):
        yield violation(
            resource,
            None,
            f"{subject} has no explicit region, so it falls back to {CLOUD_PACKAGES[pkg]}",
            _allowed_text(ctx),
        )
    elif leaf.unknown:
        yield violation(resource, leaf, f"{subject} region is not known before apply", "a literal")
    elif not isinstance(leaf.value, str) or not regions.in_allowed(
        leaf.value, ctx.allowed_regions()
    ):
        yield violation(
            resource, leaf, f"{subject} region is outside Hong Kong", _allowed_text(ctx)
        )


def check_provider_region(resource: Resource, ctx: Context) -> Iterable[Finding]:
    if resource.type.startswith("pulumi:providers:"):
        pkg = resource.package
        if pkg in CLOUD_PACKAGES:
            if resource.name.startswith("default"):
                yield violation(
                    resource,
                    None,
                    f"default {pkg} provider: its region comes from {CLOUD_PACKAGES[pkg]}, not "
                    "from the program",
                    f"an explicit {pkg}.Provider with region in {_allowed_text(ctx)}",
                )
            yield from _provider_region(resource, "the provider", resource.props, ctx)
        elif pkg not in ctx.config.get("regionlessPackages", []):
            yield violation(
                resource,
                None,
                f"provider package '{pkg}' is not reviewed for Hong Kong residency",
                "alicloud, tencentcloud or a package listed in regionlessPackages",
            )
        return
    if resource.package not in CLOUD_PACKAGES:
        return  # components and region-less packages
    prov = resource.provider
    if prov is None:
        yield violation(
            resource, None, "the request names no provider, so its region cannot be verified",
            f"a provider with region in {_allowed_text(ctx)}",
        )  # fmt: skip
        return
    subject = f"its provider {prov.urn}"
    if prov.name.startswith("default"):
        yield violation(
            resource,
            None,
            f"{subject} is a default provider (region from {CLOUD_PACKAGES[resource.package]})",
            "an explicit provider passed with provider= or providers= on a parent",
        )
    yield from _provider_region(resource, subject, prov.props, ctx)


def _region_problems(leaf: Leaf, resource: Resource, ctx: Context) -> Iterator[str]:
    """Why a value found at a region/zone-bearing path is not allowed (nothing if it is)."""
    allowed = ctx.allowed_regions()
    value = leaf.value
    if leaf.unknown or value is None or isinstance(value, bool):
        return  # computed values are checked where they come from (that resource's own inputs)
    if isinstance(value, int):
        last = leaf.shape.rsplit(".", 1)[-1].lower()
        numeric_zone = resource.package == "tencentcloud" and "zone" in last and value != 0
        if numeric_zone and not regions.numeric_zone_allowed(value, allowed):
            yield f"numeric zone id {value} is not a zone of an allowed region"
        return
    if not isinstance(value, str):
        return
    for token in filter(None, _SPLIT.split(value)):
        if regions.looks_geographic(token):
            if not regions.in_allowed(token, allowed):
                yield f"'{token}' is not an allowed region or a zone of one"
        else:
            bad = [r for r in regions.embedded_regions(token) if not regions.in_allowed(r, allowed)]
            if bad:
                yield f"'{token}' names region {', '.join(sorted(set(bad)))}"


def _check_paths(
    resource: Resource, ctx: Context, paths: tuple[str, ...], what: str
) -> Iterator[Finding]:
    if not paths:
        return
    seen: set[str] = set()
    for leaf in leaves(resource.props):
        if leaf.path in seen or not any(under(leaf.shape, p) for p in paths):
            continue
        seen.add(leaf.path)
        for problem in _region_problems(leaf, resource, ctx):
            yield violation(resource, leaf, f"{what}: {problem}", _allowed_text(ctx))


def check_resource_region(resource: Resource, ctx: Context) -> Iterable[Finding]:
    yield from _check_paths(resource, ctx, placement_paths(resource.type), "placement")


def check_cross_region_copy(resource: Resource, ctx: Context) -> Iterable[Finding]:
    yield from _check_paths(
        resource, ctx, copy_target_paths(resource.type), "copy/replication/delivery target"
    )


def check_embedded_region(resource: Resource, ctx: Context) -> Iterable[Finding]:
    covered = region_paths().get(resource.type, ())
    if resource.type.startswith("pulumi:providers:"):
        covered = ("region",)  # checked by residency-provider-region
    allowed = ctx.allowed_regions()
    for leaf in leaves(resource.props):
        if leaf.unknown or not isinstance(leaf.value, str):
            continue
        if any(under(leaf.shape, p) for p in covered):
            continue
        bad = sorted(
            {r for r in regions.embedded_regions(leaf.value) if not regions.in_allowed(r, allowed)}
        )
        if bad:
            yield violation(
                resource, leaf, f"value names region {', '.join(bad)}", _allowed_text(ctx)
            )


def _prefix_check(resource: Resource, ctx: Context, why: str) -> Iterable[Finding]:
    for prefix in ctx.config.get("typePrefixes", []):
        if resource.type.startswith(prefix):
            yield violation(resource, None, why, "none without a reviewed exemption")
            return


def check_no_hk_service(resource: Resource, ctx: Context) -> Iterable[Finding]:
    yield from _prefix_check(
        resource,
        ctx,
        "this service has no Hong Kong region (Alibaba DirectMail: cn-hangzhou, ap-southeast-1/2, "
        "us-east-1, eu-central-1), so the data it handles (mail content) leaves Hong Kong",
    )


def check_global_edge(resource: Resource, ctx: Context) -> Iterable[Finding]:
    yield from _prefix_check(
        resource,
        ctx,
        "a global edge (CDN / edge security / global acceleration) caches or carries the data it "
        "fronts in points of presence outside Hong Kong",
    )


def _prefixes(*defaults: str) -> dict[str, dict[str, object]]:
    return {
        "typePrefixes": {
            "type": "array",
            "items": {"type": "string"},
            "default": list(defaults),
            "description": "Resource type token prefixes this rule blocks.",
        }
    }


RULES = (
    Rule(
        id="residency-provider-region",
        title="Explicit Hong Kong provider",
        description="Every Alibaba Cloud / Tencent Cloud resource is created through an explicit "
        "provider whose region is in the allowed set; default providers and providers with no "
        "region (which fall back to an environment variable or ap-guangzhou) are violations.",
        severity="critical",
        enforcement="mandatory",
        remediation="Create alicloud.Provider(region='cn-hongkong') or tencentcloud.Provider("
        "region='ap-hongkong') and pass it with opts=ResourceOptions(provider=...) or "
        "providers=[...] on the parent component; keep default providers disabled in Pulumi.yaml.",
        controls=RESIDENCY,
        check=check_provider_region,
        config_schema={
            **ALLOWED_REGIONS_SCHEMA,
            "regionlessPackages": {
                "type": "array",
                "items": {"type": "string"},
                "default": ["random", "tls", "time"],
                "description": "Provider packages that place no data anywhere.",
            },
        },
    ),
    Rule(
        id="residency-resource-region",
        title="Region and zone inputs in Hong Kong",
        description="Every region- or zone-bearing input (found in the SDKs, nested inputs "
        "included) names an allowed region or a zone of one.",
        severity="critical",
        enforcement="mandatory",
        remediation="Set the region input to cn-hongkong / ap-hongkong and zones to "
        "cn-hongkong-b/c/d or ap-hongkong-2/3 (Tencent numeric zone ids 3000xx), or drop the input "
        "so the Hong Kong provider's region applies.",
        controls=RESIDENCY,
        check=check_resource_region,
        config_schema=ALLOWED_REGIONS_SCHEMA,
    ),
    Rule(
        id="residency-cross-region-copy",
        title="No cross-region copies",
        description="Cross-region copies, replication, backups and log delivery (snapshot "
        "targetCopyRegions, OSS replication destination location, COS replicaRules, DTS "
        "destinations, ...) target an allowed region only.",
        severity="critical",
        enforcement="mandatory",
        remediation="Replicate within Hong Kong (another zone or bucket in cn-hongkong / "
        "ap-hongkong); for an off-site copy outside Hong Kong, get an exemption backed by a "
        "signed contract with the processor (e.g. the PCPD model clauses of 12 May 2022) that "
        "carries the DPP4(2) security and DPP2(3) retention safeguards.",
        controls=(*RESIDENCY, "PDPO-DPP2", "ISO27001-A.8.13"),
        check=check_cross_region_copy,
        config_schema=ALLOWED_REGIONS_SCHEMA,
    ),
    Rule(
        id="residency-embedded-region",
        title="No region ids embedded in values",
        description="No input value anywhere embeds a region id outside the allowed set "
        "(endpoints such as cos.ap-shanghai.myqcloud.com, OSS locations oss-cn-hangzhou, COS "
        "bucket ids qcs::cos:ap-guangzhou::..., ARNs, log endpoints).",
        severity="high",
        enforcement="mandatory",
        remediation="Point endpoints, ARNs and bucket references at Hong Kong resources "
        "(cn-hongkong / ap-hongkong).",
        controls=RESIDENCY,
        check=check_embedded_region,
        config_schema=ALLOWED_REGIONS_SCHEMA,
    ),
    Rule(
        id="residency-no-hk-service",
        title="No services without a Hong Kong region",
        description="Services that have no Hong Kong region (Alibaba DirectMail) are not used: "
        "sending through them moves mail content out of Hong Kong.",
        severity="critical",
        enforcement="mandatory",
        remediation="Relay outbound mail through Tencent SES in ap-hongkong or your own MTA in "
        "Hong Kong; DirectMail only with the stack's crossBorder declaration and a reviewed "
        "exemption.",
        controls=RESIDENCY,
        check=check_no_hk_service,
        config_schema=_prefixes("alicloud:directmail/"),
    ),
    Rule(
        id="residency-global-edge",
        title="No global edges in front of data",
        description="Global edge services that cache or carry data (Alibaba CDN/DCDN/SCDN/ESA, "
        "Global Accelerator; Tencent CDN, EdgeOne, GAAP) are not used unless exempted.",
        severity="high",
        enforcement="mandatory",
        remediation="Serve from Hong Kong origins directly; if an edge is needed (for example a "
        "public MTA-STS policy file), record a reviewed exemption naming what it carries.",
        controls=RESIDENCY,
        check=check_global_edge,
        config_schema=_prefixes(
            "alicloud:cdn/",
            "alicloud:dcdn/",
            "alicloud:scdn/",
            "alicloud:esa/",
            "alicloud:ga/",
            "tencentcloud:Cdn/",
            "tencentcloud:Teo/",
            "tencentcloud:Gaap/",
        ),
    ),
)
