"""What a new user meets first in the command-line tools: every option explained in --help,
`--stack` given as the stack file's path, an unknown stack answered with the stacks that exist,
and an output path that cannot be written refused with exit 2 before anything runs (exit 1 means
a policy violation in this toolchain)."""

from __future__ import annotations

import argparse
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support import REPO
from toolchain import archive, inventory, plan, report, verify
from toolchain.engine.model import ProjectError
from toolchain.gate import cli as gate_cli
from toolchain.stackarg import resolve_stack

PARSERS: dict[str, Callable[[], argparse.ArgumentParser]] = {
    "plan": plan.parser,
    "gate": gate_cli.parser,
    "report": report.parser,
    "verify": verify.parser,
    "inventory": inventory.parser,
    "archive": archive.parser,
}


@pytest.mark.parametrize("tool", sorted(PARSERS))
def test_every_option_has_help_text(tool: str) -> None:
    bare = [
        "/".join(a.option_strings)
        for a in PARSERS[tool]()._actions
        if a.option_strings and not (a.help or "").strip()
    ]
    assert bare == [], f"scripts/{tool}: options without help text: {bare}"


def test_inventory_presets_are_named_as_the_readme_names_them() -> None:
    text = inventory.parser().format_help()
    assert "hkmail:<host>" in text
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "`hkmail:<host>` (our Dovecot)" in readme


def test_stack_given_as_a_path_or_a_name() -> None:
    assert resolve_stack(REPO, "tencent-exmail") == "tencent-exmail"
    assert resolve_stack(REPO, "stacks/Pulumi.tencent-exmail.yaml") == "tencent-exmail"
    assert resolve_stack(REPO, str(REPO / "stacks" / "Pulumi.tencent-exmail.yaml")) == (
        "tencent-exmail"
    )
    assert resolve_stack(REPO, "acme/hk-mail/tencent-exmail") == "acme/hk-mail/tencent-exmail"


@pytest.mark.parametrize(
    ("arg", "says"),
    [
        ("harbour", "no such stack"),
        ("stacks/Pulumi.harbour.yaml", "no such stack"),
        ("stacks/harbour.yaml", "a stack file is named Pulumi.<stack>.yaml"),
        ("stacks/Pulumi.tencent-exmail.yml", "reads only Pulumi.tencent-exmail.yaml"),
        ("tests/projects/multi/Pulumi.hk.yaml", "must be in the project's stackConfigDir"),
    ],
)
def test_unknown_stack_lists_the_stacks_that_exist(arg: str, says: str) -> None:
    old = os.getcwd()
    os.chdir(REPO)
    try:
        with pytest.raises(ProjectError) as caught:
            resolve_stack(REPO, arg)
    finally:
        os.chdir(old)
    message = str(caught.value)
    assert message.startswith(f"--stack {arg}: ") and says in message
    if "no such stack" in says or "named Pulumi" in says:
        assert "stacks in stacks: alibaba-directmail, alibaba-mail," in message


def _run(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(REPO / "scripts" / script), *args],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=REPO,
    )


def test_plan_accepts_the_stack_files_path() -> None:
    project = REPO / "tests" / "projects" / "tc_explicit"
    out = _run("plan", "--project", str(project), "--stack", str(project / "Pulumi.hk.yaml"))
    assert out.returncode == 0, out.stderr
    assert "Pulumi.Pulumi" not in out.stdout + out.stderr


@pytest.mark.parametrize("script", ["plan", "gate", "report", "verify"])
def test_unknown_stack_is_exit_2_with_the_list(script: str) -> None:
    out = _run(script, "--stack", "harbour")
    assert out.returncode == 2, out.stdout + out.stderr
    assert "--stack harbour: no such stack" in out.stderr
    assert "tencent-exmail" in out.stderr and "Traceback" not in out.stderr


def test_report_output_dir_naming_a_file_is_exit_2_before_the_run(tmp_path: Path) -> None:
    afile = tmp_path / "evidence"
    afile.write_text("not a directory\n")
    started = time.monotonic()
    out = _run("report", "--stack", "tencent-exmail", "--output-dir", str(afile))
    took = time.monotonic() - started
    assert out.returncode == 2, out.stdout + out.stderr
    assert out.stderr.startswith(f"error: --output-dir {afile} is a file, not a directory")
    assert "Traceback" not in out.stderr and "FileExistsError" not in out.stderr
    assert "report: not run, nothing written" in out.stderr
    assert afile.read_text() == "not a directory\n"
    # refused before the gate ran: the pack was never started (its name is in every verdict)
    assert "policy pack" not in out.stdout + out.stderr, took
