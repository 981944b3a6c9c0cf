"""Fixture pack: reports the names of the environment variables the pack process can see, and
which stack (and that stack's config) it is judging."""

import json
import os

import pulumi
from pulumi_policy import EnforcementLevel, PolicyPack, StackValidationPolicy


def report_env(args, report):
    report("ENV " + json.dumps(sorted(os.environ)))


def report_stack(args, report):
    region = pulumi.Config("multi").get("region")
    report(f"STACK {os.environ.get('PULUMI_STACK')} region={region}")


PolicyPack(
    name="env-probe",
    enforcement_level=EnforcementLevel.ADVISORY,
    policies=[
        StackValidationPolicy(name="env-names", description="Reports env.", validate=report_env),
        StackValidationPolicy(name="stack", description="Reports stack.", validate=report_stack),
    ],
)
