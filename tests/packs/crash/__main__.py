"""Fixture pack that dies while analysing (as a segfault or OOM kill would)."""

import os

from pulumi_policy import EnforcementLevel, PolicyPack, ResourceValidationPolicy


def die(args, report):
    if args.resource_type == "tencentcloud:Dnspod/record:Record":
        os._exit(3)


PolicyPack(
    name="crash",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=[ResourceValidationPolicy(name="dies", description="Dies.", validate=die)],
)
