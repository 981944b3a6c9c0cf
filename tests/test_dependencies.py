"""One source of dependencies: the environment `pulumi up` builds from requirements.txt runs every
example stack, and holds exactly what requirements.txt pins (nothing unpinned pulled in).

A fresh clone (this checkout's files, no .venv) is planned with scripts/plan as a new user would:
the engine builds the project's .venv the way the CLI does (python -m venv; pip install --upgrade
pip setuptools wheel; pip install -r requirements.txt in the project directory), once per session.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support import REPO
from toolchain import deps

STACKS = sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in (REPO / "stacks").glob("*.yaml"))


@dataclass(frozen=True)
class FreshClone:
    root: Path
    first_run: subprocess.CompletedProcess[str]


def _plan(root: Path, stack: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONHOME")}
    env["PYTHONPATH"] = str(REPO)  # the toolchain only; the program gets the clone's .venv
    return subprocess.run(
        [sys.executable, "-m", "toolchain.plan", "--project", str(root), "--stack", stack, *args],
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
        cwd=root,
    )


@pytest.fixture(scope="session")
def fresh_clone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FreshClone]:
    root = tmp_path_factory.mktemp("clone") / "hk-mail"
    files = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, (f.decode() for f in files)):
        src = REPO / name
        if src.is_file():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, root / name)
    assert not (root / ".venv").exists()
    first = _plan(root, STACKS[0])
    yield FreshClone(root, first)


def test_fresh_clone_builds_its_environment_with_progress(fresh_clone: FreshClone) -> None:
    out = fresh_clone.first_run
    assert out.returncode == 0, out.stderr[-3000:]
    assert "creating the virtualenv" in out.stderr and "as `pulumi up` would" in out.stderr
    assert "hk-mail:   Collecting pulumi==" in out.stderr
    assert "installing requirements.txt: done in" in out.stderr


@pytest.mark.parametrize("stack", STACKS)
def test_every_example_stack_runs_in_the_cli_environment(
    fresh_clone: FreshClone, stack: str
) -> None:
    out = _plan(fresh_clone.root, stack, "--format", "json")
    assert out.returncode == 0, out.stderr[-3000:]
    assert "creating the virtualenv" not in out.stderr  # built once


def test_cli_environment_holds_exactly_requirements_txt(fresh_clone: FreshClone) -> None:
    python = fresh_clone.root / ".venv" / "bin" / "python"
    freeze = subprocess.run(
        [str(python), "-m", "pip", "freeze", "--exclude-editable", "--disable-pip-version-check"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    installed = {deps.normalise(line.split("==")[0]): line.split("==")[1] for line in freeze}
    for tool in ("pip", "setuptools", "wheel"):  # the CLI upgrades these itself
        installed.pop(tool, None)
    installed.pop("hkmail", None)  # -e ./components (a PEP 660 editable install freezes by name)
    pinned = deps.read(REPO / "requirements.txt")
    assert pinned.problems == ()
    want = {name: pin.split("==")[1] for name, pin in pinned.pins.items()}
    assert installed == want, "requirements.txt must pin the complete runtime set exactly"
    check = subprocess.run(
        [str(python), "-m", "pip", "check"], capture_output=True, text=True, check=False
    )
    assert check.returncode == 0, check.stdout
    # what the program imports is there, from the clone's own checkout
    probe = subprocess.run(
        [
            str(python),
            "-c",
            "import cryptography, idna, dns, yaml, pulumi_alicloud, tencentcloud_iac_pulumi, "
            "hkmail.spec; print(hkmail.spec.__file__)",
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd="/",
        env={"PATH": os.environ["PATH"]},
    )
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.startswith(str(fresh_clone.root / "components" / "hkmail"))


def test_lock_is_generated_from_the_requirements_files() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "toolchain.deps"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert deps.read(REPO / "requirements-dev.txt").problems == ()


def test_lock_check_names_the_fix(tmp_path: Path) -> None:
    for name in ("requirements.txt", "requirements-tools.txt", "requirements-dev.txt"):
        shutil.copy(REPO / name, tmp_path / name)
    (tmp_path / "requirements.lock").write_text(
        (REPO / "requirements.lock").read_text() + "extra==1.0\n"
    )
    out = subprocess.run(
        [sys.executable, "-m", "toolchain.deps", "--root", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 1 and "python -m toolchain.deps --write" in out.stderr
    (tmp_path / "requirements-dev.txt").write_text("-r requirements.txt\nloose>=1\n")
    out = subprocess.run(
        [sys.executable, "-m", "toolchain.deps", "--root", str(tmp_path), "--write"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 2 and "'loose>=1' is not an exact pin" in out.stderr


def test_dev_environment_is_the_lock() -> None:
    """The environment these tests run in (scripts/_venv.sh) is what the lock says."""
    freeze = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "freeze",
            "--exclude-editable",
            "--disable-pip-version-check",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    installed = {deps.normalise(line.split("==")[0]): line.split("==")[1] for line in freeze}
    want = {
        name: pin.split("==")[1]
        for name, pin in deps.read(REPO / "requirements-dev.txt").pins.items()
    }
    missing = {k: v for k, v in want.items() if installed.get(k) != v}
    assert not missing, f"not installed as pinned: {missing}"


DEV_TOOLS = ("mypy", "ruff", "zizmor", "hypothesis", "pytest")


def test_the_tools_need_only_the_runtime_and_the_pack() -> None:
    """scripts/plan and the other tools build the environment from requirements.txt and the
    pack's requirements, without the test tools; scripts/test builds the whole lock."""
    tools = deps.read(REPO / "requirements-tools.txt")
    assert tools.problems == () and not [t for t in DEV_TOOLS if t in tools.pins]
    lock = deps.read(REPO / "requirements.lock").pins
    assert {n: p for n, p in tools.pins.items() if lock.get(n) != p} == {}, "as in the lock"
    # the pack's own requirements (what `pulumi preview --policy-pack` installs) agree with it,
    # but for the setuptools that Python 3.11's venv ships (pip freeze does not list it)
    pack = deps.read(REPO / "policies" / "requirements.txt").pins
    assert {n: p for n, p in pack.items() if tools.pins.get(n) != p} in (
        {},
        {"setuptools": pack.get("setuptools")},
    )
    for script in (
        "plan",
        "gate",
        "report",
        "verify",
        "migrate",
        "inventory",
        "exemption",
        "archive",
    ):
        text = (REPO / "scripts" / script).read_text()
        assert 'source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh" tools' in text, script
    assert "source scripts/_venv.sh dev" in (REPO / "scripts" / "test").read_text()


def test_a_tool_on_the_cli_environment_adds_only_the_pack(fresh_clone: FreshClone) -> None:
    """Last in this module: scripts/plan --gate in the fresh clone, on the environment `pulumi up`
    built, installs what the pack needs and nothing of the test tools."""
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    out = subprocess.run(
        [str(fresh_clone.root / "scripts" / "plan"), "--stack", "tencent-exmail", "--gate"],
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
        cwd=fresh_clone.root,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert "what the tools run on" in out.stderr and "PASS: no mandatory violation" in out.stdout
    freeze = subprocess.run(
        [str(fresh_clone.root / ".venv" / "bin" / "python"), "-m", "pip", "freeze"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.lower()
    assert "pulumi-policy==" in freeze or "pulumi_policy==" in freeze
    assert [t for t in DEV_TOOLS if f"\n{t}==" in "\n" + freeze] == []
