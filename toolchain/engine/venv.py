"""Create a project's or policy pack's virtualenv when it names one that does not exist yet.

The Pulumi CLI does this for Python programs and packs (``toolchain: pip``, ``virtualenv`` runtime
option; sdk/python/toolchain/pip.go ``InstallDependencies``): ``python -m venv <dir>``, then
``pip install --upgrade pip setuptools wheel``, then ``pip install -r requirements.txt`` with the
project directory as the working directory (so ``-e ./components`` resolves there). This does the
same steps, and shows pip's progress on stderr: building an environment takes minutes.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections import deque
from pathlib import Path
from typing import TextIO

from .model import EngineError

#: pip lines worth showing as progress (the rest stays in the error tail if a step fails)
_PROGRESS = ("Collecting ", "Installing collected packages", "Successfully installed", "Obtaining ")


def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def _run_step(
    cmd: list[str], cwd: Path, what: str, venv: Path, label: str, progress: TextIO
) -> None:
    started = time.monotonic()
    print(f"hk-mail: {label} ...", file=progress, flush=True)
    tail: deque[str] = deque(maxlen=8)
    proc = subprocess.Popen(
        cmd,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        line = line.rstrip()
        if not line or line.startswith("WARNING: Location"):
            continue
        tail.append(line)
        if line.startswith(_PROGRESS):
            print(f"hk-mail:   {line[:160]}", file=progress, flush=True)
    code = proc.wait()
    if code != 0:
        raise EngineError(
            f"could not create the virtualenv for {what}: {' '.join(cmd[:4])} failed "
            f"(exit {code}): " + "\n".join(tail),
            str(venv),
        )
    print(f"hk-mail: {label}: done in {time.monotonic() - started:.0f}s", file=progress, flush=True)


def ensure_virtualenv(
    venv: Path, requirements: Path | None, *, what: str, progress: TextIO | None = None
) -> str:
    """The virtualenv's python, creating the environment as the CLI would if it is missing."""
    python = venv_python(venv)
    if python.exists():
        return str(python)
    out = progress if progress is not None else sys.stderr
    cwd = requirements.parent if requirements is not None else venv.parent
    print(
        f"hk-mail: creating the virtualenv {venv} for {what}, as `pulumi up` would "
        "(this takes a few minutes)",
        file=out,
        flush=True,
    )
    pip = [
        str(python),
        "-m",
        "pip",
        "--disable-pip-version-check",
        "install",
        "--progress-bar",
        "off",
    ]
    _run_step([sys.executable, "-m", "venv", str(venv)], cwd, what, venv, "python -m venv", out)
    _run_step(
        [*pip, "--upgrade", "pip", "setuptools", "wheel"],
        cwd,
        what,
        venv,
        "updating pip, setuptools and wheel",
        out,
    )
    if requirements is not None and requirements.exists():
        _run_step(
            [*pip, "-r", requirements.name],
            cwd,
            what,
            venv,
            f"installing {requirements.name}",
            out,
        )
    return str(python)
