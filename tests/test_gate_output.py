"""scripts/gate --output / --report to a file that cannot be written: a clear error and exit 2
(the gate's contract), checked before the program runs."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.support import REPO


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["--format", "json", "--output", "{tmp}/missing/gate.json"], "does not exist"),
        (["--format", "sarif", "--output", "{tmp}"], "is a directory"),
        (["--report", "junit={tmp}/no/such/dir/gate.xml"], "does not exist"),
    ],
)
def test_unwritable_output_is_exit_2(tmp_path: Path, args: list[str], reason: str) -> None:
    out = subprocess.run(
        [
            str(REPO / "scripts" / "gate"),
            "--project",
            str(REPO / "tests" / "projects" / "tc_explicit"),
            "--stack",
            "hk",
            *[a.replace("{tmp}", str(tmp_path)) for a in args],
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert out.returncode == 2
    assert out.stderr.startswith("error: --output ") and reason in out.stderr
    assert "Traceback" not in out.stderr and out.stdout == ""
