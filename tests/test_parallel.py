"""The suite under pytest-xdist: scripts/test's worker count (tests/workers.py), each shared
fixture's tests on one worker (tests/xdist_groups.py, run for real on a throw-away project with
two workers), and what keeps workers apart: port slices and the account-database lock."""

from __future__ import annotations

import collections
import fcntl
import os
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

from tests import workers
from tests.support import HOST_ACCOUNTS_LOCK, PORT_RANGE, REPO, host_accounts
from tests.xdist_groups import groups


@pytest.mark.parametrize(
    ("env", "ncores", "want"),
    [
        ({}, 1, 0),  # one core: serial
        ({}, workers.MIN_CORES, workers.MIN_CORES),
        ({}, 8, 8),
        ({workers.ENV: "0"}, 8, 0),
        ({workers.ENV: "1"}, 8, 0),
        ({workers.ENV: "3"}, 1, 3),
        ({workers.ENV: "auto"}, 2, 2),
        ({workers.ENV: "auto"}, 1, 0),
        ({workers.ENV: " "}, 1, 0),  # blank: as unset
    ],
)
def test_worker_count(env: dict[str, str], ncores: int, want: int) -> None:
    assert workers.workers(env, ncores) == want
    args = workers.pytest_args(["-k", "zone"], env, ncores)
    assert args == (["-n", str(want), "--dist", "loadgroup"] if want else [])


@pytest.mark.parametrize(
    "args",
    [["-n", "4"], ["-n4"], ["-nauto"], ["--numprocesses=2"], ["--dist", "load"], ["--pdb"],
     ["-k", "zone", "-d"]],
)  # fmt: skip
def test_arguments_that_choose_a_distribution_are_left_alone(args: list[str]) -> None:
    assert workers.pytest_args(args, {}, 8) == []


@pytest.mark.parametrize("args", [["-k", "no_xdist"], ["--no-header"], ["-p", "no:cacheprovider"]])
def test_other_arguments_keep_the_default(args: list[str]) -> None:
    assert workers.pytest_args(args, {}, 8) == ["-n", "8", "--dist", "loadgroup"]


@pytest.mark.parametrize("value", ["two", "-1", "2.5", "auto4"])
def test_a_bad_override_is_exit_2_naming_the_variable_and_the_allowed_values(value: str) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "tests.workers"],
        cwd=REPO,
        env={**os.environ, workers.ENV: value},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2, out.stderr
    assert out.stdout == ""
    assert f"error: {workers.ENV}={value!r}: allowed values are a whole number" in out.stderr
    assert "Traceback" not in out.stderr


def test_the_cli_prints_the_arguments_scripts_test_adds() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "tests.workers", "-k", "zone"],
        cwd=REPO,
        env={**os.environ, workers.ENV: "3"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["-n", "3", "--dist", "loadgroup"]
    assert "3 xdist workers" in out.stderr


def test_groups_join_the_fixtures_a_test_shares() -> None:
    keys = [
        ["tests::mail_server"],
        [],
        ["tests/test_b.py::testssl", "tests::mail_server"],  # a module fixture on the server
        ["tests/test_c.py::env"],
        ["tests/test_b.py::testssl"],
        [],
    ]
    assert groups(keys) == [
        "tests/test_b.py::testssl",  # the smallest key of the joined group names it
        None,
        "tests/test_b.py::testssl",
        "tests/test_c.py::env",
        "tests/test_b.py::testssl",
        None,
    ]
    assert groups([]) == []


# A throw-away suite: a session "server" (two modules use it, one through a module fixture of its
# own), a module fixture "env", and tests sharing nothing. Every test logs its worker and pid.
_CONFTEST = """
import os, pytest
from tests.xdist_groups import pytest_collection_modifyitems  # noqa: F401

def log(what):
    with open(os.environ["LOG"], "a") as f:
        f.write(f"{what} {os.environ.get('PYTEST_XDIST_WORKER', 'serial')} {os.getpid()}\\n")

@pytest.fixture(scope="session")
def server():
    log("setup server")
    yield "server"
"""
_MODULES = {
    "test_a.py": """
import pytest
from conftest import log

@pytest.mark.parametrize("i", range(4))
def test_uses_server(server, i, request):
    log(request.node.nodeid)

@pytest.mark.parametrize("i", range(6))
def test_shares_nothing(i, request):
    log(request.node.nodeid)
""",
    "test_b.py": """
import pytest
from conftest import log

@pytest.fixture(scope="module")
def client(server):
    log("setup client")
    return server

@pytest.mark.parametrize("i", range(3))
def test_uses_client(client, i, request):
    log(request.node.nodeid)
""",
    "test_c.py": """
import pytest
from conftest import log

@pytest.fixture(scope="module")
def env():
    log("setup env")
    return 1

@pytest.mark.parametrize("i", range(3))
def test_uses_env(env, i, request):
    log(request.node.nodeid)

@pytest.mark.parametrize("i", range(4))
def test_shares_nothing_either(i, request):
    log(request.node.nodeid)
""",
}


def _run_suite(tmp_path: Path, *args: str) -> list[tuple[str, str, str]]:
    project = tmp_path / "suite"
    project.mkdir()
    (project / "conftest.py").write_text(_CONFTEST)
    # the suite's own addopts (--dist loadgroup among them)
    addopts = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    (project / "pytest.ini").write_text(f"[pytest]\naddopts = {addopts['addopts']}\n")
    for name, text in _MODULES.items():
        (project / name).write_text(textwrap.dedent(text))
    log = tmp_path / "log"
    # not this run's own worker identity, when the suite itself runs under xdist
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_XDIST_")}
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args, str(project)],
        cwd=project,
        env={
            **env,
            "LOG": str(log),
            "PYTHONPATH": os.pathsep.join(
                [str(REPO), str(project), *filter(None, [os.environ.get("PYTHONPATH")])]
            ),
        },
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "20 passed" in out.stdout, out.stdout
    return [tuple(line.rsplit(" ", 2)) for line in log.read_text().splitlines()]  # type: ignore[misc]


def test_two_workers_set_each_shared_fixture_up_once_and_both_run_tests(tmp_path: Path) -> None:
    # -n 2 alone, with the suite's addopts (xdist's own default distribution would set each
    # shared fixture up on every worker that runs one of its tests)
    entries = _run_suite(tmp_path, "-n", "2")
    setups = collections.Counter(what for what, _, _ in entries if what.startswith("setup "))
    assert setups == {"setup server": 1, "setup client": 1, "setup env": 1}, entries
    where: dict[str, set[str]] = collections.defaultdict(set)
    for what, worker, _pid in entries:
        # "setup env", or a node id (under loadgroup with "@<group>" after it)
        test = what.split("@", 1)[0].split("::")[-1].split("[")[0]
        where[test.removeprefix("setup ")].add(worker)
    assert all(where[t] for t in ("test_uses_server", "test_uses_client", "test_uses_env")), where
    # the server's tests, through the fixture or through the module's client, on one worker
    assert len(where["test_uses_server"] | where["test_uses_client"] | where["server"]) == 1
    assert where["test_uses_env"] == where["env"] and len(where["env"]) == 1
    assert {w for _, w, _ in entries} == {"gw0", "gw1"}, entries


def test_serial_runs_are_unchanged(tmp_path: Path) -> None:
    entries = _run_suite(tmp_path, "-n", "0")
    assert {w for _, w, _ in entries} == {"serial"}
    assert sum(what.startswith("setup ") for what, _, _ in entries) == 3


def test_workers_choose_ports_from_disjoint_slices_below_the_ephemeral_range() -> None:
    code = (
        "from tests.support import free_tcp_ports, free_port\n"
        "print(*free_tcp_ports(40), *(free_port() for _ in range(10)))"
    )
    chosen = {}
    for worker in ("gw0", "gw1"):
        out = subprocess.run(
            [sys.executable, "-c", code],
            cwd=REPO,
            env={**os.environ, "PYTEST_XDIST_WORKER": worker, "PYTEST_XDIST_WORKER_COUNT": "2"},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert out.returncode == 0, out.stderr
        chosen[worker] = [int(p) for p in out.stdout.split()]
    ephemeral_low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    for ports in chosen.values():
        assert len(set(ports)) == 50  # no port twice within a process
        assert all(p in PORT_RANGE and p < ephemeral_low for p in ports)
    assert max(chosen["gw0"]) < min(chosen["gw1"])  # gw0's slice lies wholly below gw1's


def test_the_account_lock_excludes_another_process() -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys\nfrom tests.support import host_accounts\n"
         "with host_accounts():\n    print('held', flush=True)\n    sys.stdin.readline()"],
        cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        with HOST_ACCOUNTS_LOCK.open("a") as f, pytest.raises(BlockingIOError):
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(60)
    with host_accounts():  # released with the holder
        pass
