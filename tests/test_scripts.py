"""scripts/test's Debian step, run as the script runs it, with apt and dpkg stubbed on PATH."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.support import REPO


def _stub(bindir: Path, name: str, body: str) -> None:
    path = bindir / name
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755)


def _run_apt_step(
    tmp_path: Path, policy: Path, *, install_fails: bool = False
) -> subprocess.CompletedProcess[str]:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    log = tmp_path / "apt.log"
    _stub(bindir, "dpkg-query", "exit 1")  # every package missing
    _stub(bindir, "id", "echo 0")  # root
    # apt-get records whether a policy-rc.d denied service starts while it ran
    _stub(
        bindir,
        "apt-get",
        f'echo "$1 $(cat {policy} 2>/dev/null | tail -1)" >> {log}'
        + ('\n[ "$1" = install ] && exit 100' if install_fails else "")
        + "\nexit 0",
    )
    return subprocess.run(
        ["bash", "-c", "set -euo pipefail; source scripts/_apt.sh; echo done"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        env={
            **os.environ,
            "ROOT": str(REPO),
            "PATH": f"{bindir}:{os.environ['PATH']}",
            "HKMAIL_POLICY_RC_D": str(policy),
        },
    )


def test_existing_policy_rc_d_is_kept(tmp_path: Path) -> None:
    policy = tmp_path / "policy-rc.d"
    policy.write_text("#!/bin/sh\n# the machine's own\nexit 101\n")
    out = _run_apt_step(tmp_path, policy)
    assert out.returncode == 0, out.stderr
    assert "keeping the existing" in out.stderr
    assert policy.read_text() == "#!/bin/sh\n# the machine's own\nexit 101\n"


@pytest.mark.parametrize("fail_install", [False, True])
def test_own_policy_rc_d_denies_starts_and_is_removed(tmp_path: Path, fail_install: bool) -> None:
    policy = tmp_path / "policy-rc.d"
    out = _run_apt_step(tmp_path, policy, install_fails=fail_install)
    assert out.returncode == (100 if fail_install else 0), out.stderr
    log = (tmp_path / "apt.log").read_text().splitlines()
    assert log == ["update exit 101", "install exit 101"]
    assert not policy.exists()


def test_says_what_it_installs_and_waits_for_a_held_apt_lock(tmp_path: Path) -> None:
    """apt-get update fails at once when another apt holds the lists lock: the step says what
    it installs and why, and waits for the lock with a message instead of failing."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    count = tmp_path / "updates"
    _stub(bindir, "dpkg-query", "exit 1")
    _stub(bindir, "id", "echo 0")
    _stub(
        bindir,
        "apt-get",
        f'if [ "$1" = update ]; then echo x >> {count}\n'
        f'  if [ "$(wc -l < {count})" -lt 3 ]; then\n'
        '    echo "E: Could not get lock /var/lib/apt/lists/lock. It is held by process 4242" >&2\n'
        "    exit 100\n  fi\nfi\nexit 0",
    )
    out = subprocess.run(
        ["bash", "-c", "set -euo pipefail; source scripts/_apt.sh; echo done"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        env={
            **os.environ,
            "ROOT": str(REPO),
            "PATH": f"{bindir}:{os.environ['PATH']}",
            "HKMAIL_POLICY_RC_D": str(tmp_path / "policy-rc.d"),
            "HKMAIL_APT_RETRY_SECONDS": "0",
        },
    )
    assert out.returncode == 0 and out.stdout.strip() == "done", out.stderr
    assert "Debian packages the tests run for real" in out.stderr
    assert "scripts/ci-apt-packages.txt" in out.stderr and "knot" in out.stderr
    assert out.stderr.count("waiting for another apt to release its lock") == 2
    assert "scripts/test: Debian packages installed" in out.stderr
