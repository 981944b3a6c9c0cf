"""scripts/gate read on a terminal: lines within 100 columns, warnings that say which stack they
come from, one closing summary line, and a progress line per stack."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from tests.support import REPO

PACK = REPO / "tests" / "packs" / "residency"
PROJECTS = REPO / "tests" / "projects"


@pytest.fixture(scope="module")
def multi_run(tmp_path_factory: pytest.TempPathFactory) -> subprocess.CompletedProcess[str]:
    """Two stacks of one program (one in Guangzhou: blocked), each logging a long warning."""
    project = tmp_path_factory.mktemp("gate-text") / "multi"
    shutil.copytree(REPO / "tests" / "projects" / "multi", project)
    main = project / "__main__.py"
    main.write_text(
        main.read_text()
        + "\npulumi.log.warn(f'placed in {region}: ' + 'a warning long enough to wrap ' * 8)\n"
    )
    return subprocess.run(
        [str(REPO / "scripts" / "gate"), "--project", str(project), "--all-stacks",
         "--policy-pack", str(PACK), "--progress"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip


def test_text_lines_fit_100_columns(multi_run: subprocess.CompletedProcess[str]) -> None:
    assert multi_run.returncode == 1, multi_run.stderr
    for line in (multi_run.stdout + multi_run.stderr).splitlines():
        # only a single token longer than the width (a URN, a URL) and a finding's heading
        # (it names the resource) may stay whole
        assert len(line) <= 100 or " " not in line.strip() or line.startswith("["), line


def test_warnings_name_their_stack(multi_run: subprocess.CompletedProcess[str]) -> None:
    warnings = re.findall(r"^warning: (.*)$", multi_run.stderr, re.M)
    assert sorted(w.split(": placed in", 1)[0] for w in warnings) == ["stack gz", "stack hk"]


def test_one_summary_line_and_progress(multi_run: subprocess.CompletedProcess[str]) -> None:
    lines = multi_run.stderr.splitlines()
    assert lines[-1] == (
        "gate: FAIL: 2 stacks judged, 2 mandatory violations, 2 advisory findings, "
        "0 exempt findings"
    )
    progress = [line for line in lines if line.startswith("gate: [")]
    assert len(progress) == 2
    assert re.fullmatch(
        r"gate: \[1/2\] gz: FAIL, 3 resources, 2 mandatory, 1 advisory \(\d+\.\d s\)", progress[0]
    )
    assert re.fullmatch(
        r"gate: \[2/2\] hk: PASS, 3 resources, 0 mandatory, 1 advisory \(\d+\.\d s\)", progress[1]
    )


def test_no_progress_lines_when_not_on_a_terminal() -> None:
    out = subprocess.run(
        [str(REPO / "scripts" / "gate"), "--project", str(REPO / "tests" / "projects" / "multi"),
         "--all-stacks", "--policy-pack", str(PACK)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert out.returncode == 1
    assert "gate: [" not in out.stderr
    assert out.stderr.splitlines()[-1].startswith("gate: FAIL: 2 stacks judged")


def test_summary_counts_the_exemptions_used() -> None:
    out = subprocess.run(
        [str(REPO / "scripts" / "gate"), "--project", str(PROJECTS / "nc_region"),
         "--stack", "dev", "--policy-pack", str(PACK)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    last = out.stderr.splitlines()[-1]
    assert re.fullmatch(
        r"gate: FAIL: 1 stack judged, \d+ mandatory violations?, \d+ advisory findings?, "
        r"1 exempt finding \(exemptions used: EX-7\)",
        last,
    ), last
