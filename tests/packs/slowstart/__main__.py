"""Fixture pack that never gets as far as serving (stuck while loading)."""

import time

time.sleep(3600)
