"""Fixture pack that cannot start."""

import hkmail_no_such_module  # noqa: F401
