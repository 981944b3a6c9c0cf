"""What the gate's child processes (the program, the policy pack) get: only what they need.

The Pulumi CLI hands a program and a policy pack its whole environment. The gate runs a project's
code too, typically in CI, where the environment may hold cloud keys, tokens and the stack's
secrets passphrase; none of that is needed to register resources under mocks or to judge them.
So each child starts from an allow-list (locale, time zone, a temporary directory, PATH to find
its interpreter), plus the variables the language host itself sets (stack config, project, stack)
and whatever the user passes on with ``--pass-env NAME``. Region variables (ALICLOUD_REGION, ...)
are never passed: a program that reads them is reported (see ``_runner.PLACEMENT_ENV``).

This limits what leaks through the environment; it is not a sandbox: the program still runs as
the user, with the user's files and network.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping

#: variables a Python child needs to behave the same (locale, time zone, temp dir, PATH)
ALLOWED = frozenset(
    {
        "PATH",
        "LANG",
        "LANGUAGE",
        "TZ",
        "TMPDIR",
        "PYTHONPATH",
        "PYTHONDONTWRITEBYTECODE",
        "PYTHONUTF8",
        "PYTHONIOENCODING",
        "PYTHONHASHSEED",
        "PYTHONWARNINGS",
        "SOURCE_DATE_EPOCH",
    }
)
_ALLOWED_PREFIXES = ("LC_",)
#: never passed, even when asked for: they choose placement (the program must not)
_NEVER = re.compile(r"(^|_)(REGION|REGION_ID|ZONE|ZONE_ID|LOCATION)(_|$)", re.IGNORECASE)


def child_environment(
    base: Mapping[str, str] | None = None,
    *,
    pass_env: Iterable[str] = (),
    home: str | None = None,
) -> dict[str, str]:
    """The allow-listed subset of ``base`` (default: this process's environment).

    ``pass_env`` names extra variables to pass on as they are (not placement variables).
    ``home`` becomes HOME (an empty directory keeps SDKs from finding credential files in the
    user's home by default); without it HOME is not set."""
    source = os.environ if base is None else base
    extra = {name for name in pass_env if not _NEVER.search(name)}
    env = {
        k: v
        for k, v in source.items()
        if k in ALLOWED or k.startswith(_ALLOWED_PREFIXES) or k in extra
    }
    if home is not None:
        env["HOME"] = home
    return env


def refused_pass_env(pass_env: Iterable[str]) -> list[str]:
    """The names in ``pass_env`` that are never passed on (placement variables)."""
    return [name for name in pass_env if _NEVER.search(name)]
