"""Fixture pack whose policy never returns."""

import time

from pulumi_policy import EnforcementLevel, PolicyPack, ResourceValidationPolicy


def hang(args, report):
    if args.resource_type == "tencentcloud:Dnspod/record:Record":
        time.sleep(3600)


PolicyPack(
    name="hang",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=[ResourceValidationPolicy(name="hangs", description="Hangs.", validate=hang)],
)
