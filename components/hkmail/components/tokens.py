"""Type tokens of the components: ``hkmail:index:<Name>``, the package's one module.

Components registered under an older token keep an alias to it, so an existing stack sees the
same resources under the new token and replaces nothing (the engine carries a parent's alias
over to its children, so one alias per component covers the whole tree).
"""

from __future__ import annotations

import pulumi

PACKAGE = "hkmail"
MODULE = "index"


def token(name: str) -> str:
    return f"{PACKAGE}:{MODULE}:{name}"


def renamed(opts: pulumi.ResourceOptions | None, old_type: str) -> pulumi.ResourceOptions:
    """``opts`` plus an alias from the component's old type token."""
    return pulumi.ResourceOptions.merge(
        opts, pulumi.ResourceOptions(aliases=[pulumi.Alias(type_=old_type)])
    )
