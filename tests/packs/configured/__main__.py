"""Fixture pack: policies can read the stack's config (pulumi.Config), as under the CLI."""

import pulumi
from pulumi_policy import EnforcementLevel, PolicyPack, ResourceValidationPolicy


def zone_matches_config(args, report):
    zone = pulumi.Config("tc-default").get("zone")
    region = pulumi.Config("tencentcloud").get("region")
    if args.resource_type == "tencentcloud:Dnspod/record:Record":
        report(f"stack config seen by the pack: zone={zone} region={region}")


PolicyPack(
    name="configured",
    enforcement_level=EnforcementLevel.ADVISORY,
    policies=[
        ResourceValidationPolicy(
            name="sees-config", description="Reads config.", validate=zone_matches_config
        )
    ],
)
