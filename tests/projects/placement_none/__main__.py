"""Fixture: no resources; the gate judges where the state and the secrets live."""

import pulumi

pulumi.export("placement", "fixture")
