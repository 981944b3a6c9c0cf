"""Fixture: a program that imports the offline toolchain, which is on the runner's path only."""

import toolchain.plan  # noqa: F401
