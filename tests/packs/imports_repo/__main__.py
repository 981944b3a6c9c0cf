"""Fixture pack that imports the gate's own code, which `pulumi preview` does not give a pack."""

import toolchain.gate  # noqa: F401
