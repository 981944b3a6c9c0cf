"""scripts/gate --output / --report to a file that cannot be written: a clear error naming the
flag as typed and exit 2 (the gate's contract), checked before the program runs; a report into a
directory that does not exist yet (the README's `--report sarif=out/gate.sarif`) creates it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.support import REPO


def gate(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            str(REPO / "scripts" / "gate"),
            "--project",
            str(REPO / "tests" / "projects" / "tc_explicit"),
            "--stack",
            "hk",
            # the fixture packs' residency pack: these tests are about where reports are written,
            # not about the verdict (the real pack blocks this fixture's unattested Exmail MX)
            "--policy-pack",
            str(REPO / "tests" / "packs" / "residency"),
            *[a.replace("{tmp}", str(tmp_path)) for a in args],
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )


@pytest.mark.parametrize(
    ("args", "prefix", "reason"),
    [
        (["--format", "sarif", "--output", "{tmp}"], "--output ", "is a directory"),
        (["--report", "junit={tmp}/afile/gate.xml"], "--report junit=", "is not a directory"),
        (["--report", "json={tmp}/afile/sub/gate.json"], "--report json=", "is not a directory"),
        (["--format", "json", "--output", "{tmp}/afile/g.json"], "--output ", "not a directory"),
    ],
)
def test_unwritable_output_is_exit_2(
    tmp_path: Path, args: list[str], prefix: str, reason: str
) -> None:
    (tmp_path / "afile").write_text("a file, not a directory\n")
    out = gate(tmp_path, *args)
    assert out.returncode == 2
    assert out.stderr.startswith(f"error: {prefix}{tmp_path}") and reason in out.stderr
    assert "Traceback" not in out.stderr and out.stdout == ""


def test_reports_into_a_new_directory_create_it(tmp_path: Path) -> None:
    out = gate(
        tmp_path,
        "--report",
        "sarif={tmp}/out/gate.sarif",
        "--format",
        "json",
        "--output",
        "{tmp}/other/deeper/gate.json",
    )
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "out" / "gate.sarif").read_text().lstrip().startswith("{")
    assert '"passed": true' in (tmp_path / "other" / "deeper" / "gate.json").read_text()
