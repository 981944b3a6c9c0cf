"""Fixture pack that imports the blueprint's code, which `pulumi preview` does not give a pack."""

import hkmail.spec  # noqa: F401
