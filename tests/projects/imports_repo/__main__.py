"""Fixture: a program that imports the blueprint's code without installing it."""

import hkmail.spec  # noqa: F401
