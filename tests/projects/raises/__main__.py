"""Fixture: a program that raises."""

import helper
import pulumi

pulumi.export("before", 1)
helper.build(3)
