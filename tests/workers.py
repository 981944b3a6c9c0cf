"""``python -m tests.workers [PYTEST ARGS]``: the pytest-xdist arguments scripts/test adds.

Prints them one per line (none: a serial run) and says on stderr what it chose. The machine's
cores (the CPUs this process may run on) decide; ``HKMAIL_TEST_WORKERS`` overrides them, and
arguments that already choose a distribution (``-n``, ``--dist``, ``--pdb``) are left alone
(``-n 0`` is a serial run; pytest-xdist stays loaded, pyproject.toml's addopts name its
``--dist``). tests/xdist_groups.py keeps each shared server's tests on one worker.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence

ENV = "HKMAIL_TEST_WORKERS"
# Fewest cores on which scripts/test runs workers by default (benchmarks/RESULTS.md, "pytest-xdist"
# has the measurement that set it).
MIN_CORES = 2
_OWN_CHOICE = ("-n", "--numprocesses", "--dist", "--tx", "-d", "--pdb", "--trace")


class UsageError(Exception):
    pass


def cores() -> int:
    """CPUs this process may run on (a container's or taskset's limit, not the host's count)."""
    return len(os.sched_getaffinity(0))


def chooses_distribution(args: Sequence[str]) -> bool:
    for arg in args:
        if arg in _OWN_CHOICE or arg.startswith(("--numprocesses=", "--dist=", "--tx=")):
            return True
        if arg.startswith("-n") and not arg.startswith("--"):  # -n2, -nauto
            return True
    return False


def workers(env: Mapping[str, str], ncores: int) -> int:
    """How many xdist workers (0: serial) for ``ncores`` cores and the override in ``env``."""
    value = env.get(ENV, "").strip()
    if not value:
        return ncores if ncores >= MIN_CORES else 0
    if value == "auto":
        return ncores if ncores >= 2 else 0
    if not value.isdigit():
        raise UsageError(
            f"{ENV}={value!r}: allowed values are a whole number of workers (0 or 1: serial) "
            "or auto (one per core)"
        )
    n = int(value)
    return n if n >= 2 else 0


def pytest_args(args: Sequence[str], env: Mapping[str, str], ncores: int) -> list[str]:
    if chooses_distribution(args):
        return []
    n = workers(env, ncores)
    return ["-n", str(n), "--dist", "loadgroup"] if n else []


def main(argv: Sequence[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    ncores = cores()
    try:
        extra = pytest_args(args, os.environ, ncores)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if chooses_distribution(args):
        why = "the arguments choose the distribution"
    elif extra:
        why = f"{extra[1]} xdist workers ({ncores} cores; {ENV}=0 for a serial run)"
    else:
        why = f"serial ({ncores} cores; {ENV}=N for N workers)"
    print(f"== pytest: {why}", file=sys.stderr)
    print("\n".join(extra))
    return 0


if __name__ == "__main__":
    sys.exit(main())
