"""Fixture policy pack for the gate's tests (the real pack lives in policies/)."""

import os
import time

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    PolicyPack,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

HONG_KONG = {"tencentcloud": "ap-hongkong", "alicloud": "cn-hongkong"}


def provider_region(args: ResourceValidationArgs, report: ReportViolation) -> None:
    log = os.environ.get("HKMAIL_TEST_ANALYZE_LOG")
    if log:  # lets tests see when, and in which process, each resource was analysed
        with open(log, "a", encoding="utf-8") as f:
            f.write(f"{time.time()} {os.getpid()} {args.urn}\n")
    if args.resource_type.startswith("pulumi:providers:"):
        package = args.resource_type.split(":")[2]
        if package in HONG_KONG and args.props.get("region") != HONG_KONG[package]:
            report(f"provider region {args.props.get('region')!r}; allowed: {HONG_KONG[package]}")
        return
    package = args.resource_type.split(":")[0]
    if package in HONG_KONG and args.provider is not None:
        region = args.provider.props.get("region")
        if region != HONG_KONG[package]:
            report(f"placed by provider {args.provider.name} in {region!r}")


def ttl_floor(args: ResourceValidationArgs, report: ReportViolation) -> None:
    ttl = args.props.get("ttl")
    floor = (args.get_config() or {}).get("minimum", 600)
    if ttl is not None and ttl < floor:
        report(f"ttl {ttl} is below {floor}")


def txt_length(args: ResourceValidationArgs, report: ReportViolation) -> None:
    # reading an unknown value raises, and the SDK reports that it cannot run in preview
    if args.props.get("recordType") == "TXT" and len(args.props["value"]) > 512:
        report("TXT value longer than 512 bytes")


def exempted(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.name.startswith("legacy"):
        report("exempt: EX-7 (approved by compliance, expires 2099-01-01)")


def raise_ttl(args: ResourceValidationArgs):
    ttl = args.props.get("ttl")
    if ttl is not None and ttl < 600:
        return {**args.props, "ttl": 600}
    return None


def record_budget(args: StackValidationArgs, report: ReportViolation) -> None:
    limit = (args.get_config() or {}).get("maxRecords", 100)
    records = [r for r in args.resources if r.resource_type == "tencentcloud:Dnspod/record:Record"]
    if len(records) > limit:
        report(f"{len(records)} DNS records; at most {limit}", records[-1].urn)


PolicyPack(
    name="test-residency",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=[
        ResourceValidationPolicy(
            name="residency-provider-region",
            description="Tencent and Alibaba resources are placed in Hong Kong.",
            validate=provider_region,
        ),
        ResourceValidationPolicy(
            name="dns-ttl-floor",
            description="DNS records use the plan's minimum TTL.",
            enforcement_level=EnforcementLevel.ADVISORY,
            config_schema=PolicyConfigSchema(
                properties={"minimum": {"type": "integer", "default": 600}}
            ),
            validate=ttl_floor,
        ),
        ResourceValidationPolicy(
            name="dns-txt-length",
            description="TXT records fit Alidns' 512-byte limit.",
            enforcement_level=EnforcementLevel.ADVISORY,
            validate=txt_length,
        ),
        ResourceValidationPolicy(
            name="exemption-register",
            description="Exempted findings, for the record.",
            enforcement_level=EnforcementLevel.ADVISORY,
            validate=exempted,
        ),
        ResourceValidationPolicy(
            name="dns-ttl-raise",
            description="Raises TTLs below 600 (off unless configured at 'remediate').",
            enforcement_level=EnforcementLevel.DISABLED,
            remediate=raise_ttl,
        ),
        StackValidationPolicy(
            name="dns-record-budget",
            description="A stack keeps its DNS record count within budget.",
            config_schema=PolicyConfigSchema(properties={"maxRecords": {"type": "integer"}}),
            validate=record_budget,
        ),
    ],
)
