"""Fixture pack whose policy raises."""

from pulumi_policy import EnforcementLevel, PolicyPack, ResourceValidationPolicy


def boom(args, report):
    raise KeyError("region")


PolicyPack(
    name="raises",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=[ResourceValidationPolicy(name="raises", description="Raises.", validate=boom)],
)
