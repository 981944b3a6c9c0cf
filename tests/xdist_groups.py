"""Under pytest-xdist, tests that share an expensive fixture run on one worker.

A shared fixture (session, package, module or class scope: a real mail server, a fresh-clone
environment, a module's pack run) is set up once per *worker* that needs it. So every test that
uses one is put in one ``xdist_group``, decided by the fixtures each test uses (their closure,
so a module fixture built on the session's mail server joins the mail server's group), never by a
list of files: tests added later are grouped the same way. Tests that share nothing stay
ungrouped and fill whichever worker is free. pyproject.toml's addopts say ``--dist loadgroup``
(without ``-n`` it does nothing), so ``-n N`` alone distributes this way.

tests/conftest.py imports the hook; a throw-away project's conftest can import it too.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

import pytest

# The scopes whose value outlives one test: setting one up again per worker is the cost.
SHARED_SCOPES = frozenset({"session", "package", "module", "class"})


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Only in a worker of a loadgroup run (xdist sets "loadgroup" there from --dist, which the
    # suite's addopts give): a serial run, or another distribution, is left as it is.
    if not hasattr(config, "workerinput") or not config.getoption("loadgroup", False):
        return
    for item, group in zip(items, groups(shared_fixtures(item) for item in items), strict=True):
        if group is not None:
            item.add_marker(pytest.mark.xdist_group(group))
            _suffix_node_id(item, group)


def _suffix_node_id(item: pytest.Item, group: str) -> None:
    """What xdist's own hook does for an ``xdist_group`` mark, done here: the node id becomes
    ``<id>@<group>``, the loadgroup scheduler's only source of groups. xdist 3.8 assigns
    ``Node._nodeid``, which pytest 9.2 no longer reads (it keeps a structured ``Node._id``), so
    its grouping silently does nothing there (pytest-xdist issue #1386, fix not released)."""
    node_id = f"{item.nodeid}@{group}"
    if hasattr(item, "_id"):
        from _pytest.nodeid import NodeId  # pytest 9.2: parse() keeps the string as given

        item._id = NodeId.parse(node_id)
    else:  # pytest before 9.2
        item._nodeid = node_id
    assert item.nodeid == node_id, (item.nodeid, node_id)


def shared_fixtures(item: pytest.Item) -> list[str]:
    """Keys of the suite's own shared fixtures ``item`` uses: ``tests/conftest.py::mail_server``
    for a session fixture, ``tests/test_x.py::env`` for a module's (one value per module)."""
    info = getattr(item, "_fixtureinfo", None)
    if info is None:  # not a Python test function (a doctest, say): no fixtures of ours
        return []
    keys = []
    for name in info.names_closure:
        defs: Sequence[pytest.FixtureDef[object]] = info.name2fixturedefs.get(name, ())
        if not defs:
            continue  # a parametrize argument, not a fixture
        fixturedef = defs[-1]  # the one this item gets (the closest override)
        if fixturedef.scope not in SHARED_SCOPES:
            continue
        where = _defined_in(fixturedef, item.config.rootpath.resolve())
        if where is None:
            continue  # a plugin's (pytest's tmp_path_factory, xdist's worker_id): cheap
        if fixturedef.scope == "module":
            where = item.nodeid.split("::", 1)[0]
        elif fixturedef.scope == "class":
            where = item.nodeid.rsplit("::", 1)[0]
        keys.append(f"{where}::{name}")
    return keys


def _defined_in(fixturedef: pytest.FixtureDef[object], rootpath: Path) -> str | None:
    """The suite's file defining the fixture, relative to the rootdir; None for a plugin's."""
    module = sys.modules.get(getattr(fixturedef.func, "__module__", ""))
    file = getattr(module, "__file__", None)
    if file is None:
        return None
    path = Path(file).resolve()
    if not path.is_relative_to(rootpath) or "site-packages" in path.parts:
        return None  # (a virtualenv may live in the rootdir)
    return path.relative_to(rootpath).as_posix()


def groups(keys_per_item: Iterable[list[str]]) -> list[str | None]:
    """One group per set of shared fixtures that some test connects (a test using two shared
    fixtures joins their groups); named by its smallest key, so every worker, collecting the same
    tests, names the groups alike. None: the test shares nothing."""
    parent: dict[str, str] = {}

    def find(key: str) -> str:
        parent.setdefault(key, key)
        while parent[key] != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    items = list(keys_per_item)
    for keys in items:
        for key in keys:
            a, b = find(keys[0]), find(key)
            if a != b:
                parent[max(a, b)] = min(a, b)
    return [find(keys[0]) if keys else None for keys in items]
