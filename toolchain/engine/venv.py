"""Create a project's or policy pack's virtualenv when it names one that does not exist yet.

The Pulumi CLI does this for Python programs and packs (``virtualenv`` runtime option): it creates
the environment and installs ``requirements.txt`` into it, so a fresh clone just works.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from .model import EngineError


def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def ensure_virtualenv(venv: Path, requirements: Path | None, *, what: str) -> str:
    """The virtualenv's python, creating the environment from ``requirements`` if missing."""
    python = venv_python(venv)
    if python.exists():
        return str(python)
    print(f"hk-mail: creating the virtualenv {venv} for {what} ...", file=sys.stderr)
    steps: list[list[str]] = [[sys.executable, "-m", "venv", str(venv)]]
    if requirements is not None and requirements.exists():
        steps.append(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "-r",
                str(requirements),
            ]
        )
    for cmd in steps:
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-5:])
            raise EngineError(
                f"could not create the virtualenv for {what}: {' '.join(cmd[:3])} failed: {tail}",
                str(venv),
            )
    return str(python)
