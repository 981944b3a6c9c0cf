"""A helper pack process (issue 18): Analyze calls shared between two processes of the pack give
the verdicts, findings and order of one; a helper still starting is stopped without delay."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from toolchain.engine.model import ROOT_STACK_TYPE
from toolchain.engine.project import load_project, load_stack_config
from toolchain.engine.run import run_program
from toolchain.gate.core import _Analysis, _Helper, _prepare
from toolchain.gate.pack import PolicyPackProcess

REPO = Path(__file__).resolve().parent.parent
PACK = REPO / "policies"
# an example stack with stack-level findings, and a corpus leak with resource-level ones
PROGRAMS = (
    (REPO, "tencent-exmail"),
    (REPO / "tests" / "corpus" / "leak-c2-b64-userdata-ses-singapore", "dev"),
)


def _wait_ready(helper: _Helper, deadline: float = 180.0) -> PolicyPackProcess:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        ready = helper.ready()
        if ready is not None:
            return ready
        time.sleep(0.05)
    raise AssertionError(f"the helper pack did not start within {deadline:g} s")


@pytest.mark.parametrize(("project", "stack"), PROGRAMS, ids=[s for _, s in PROGRAMS])
def test_a_helper_changes_no_finding_nor_its_order(project: Path, stack: str) -> None:
    plan = run_program(project, stack, timeout=600)
    config = load_stack_config(load_project(project), stack)
    stack_urn = next(r.urn for r in plan.resources if r.type == ROOT_STACK_TYPE)
    with PolicyPackProcess(PACK, stack_config=config, timeout=300) as pack:
        info = _prepare(pack, None)
        alone = _Analysis(pack, info, project)
        for resource in plan.resources:
            alone.submit(resource)
        expected = alone.finish(stack_urn)

        helper = _Helper(pack, config)
        try:
            helper.start()
            shared = _Analysis(pack, info, project)
            shared.add_helper(_wait_ready(helper))
            for resource in plan.resources:
                shared.submit(resource)
            got = shared.finish(stack_urn)
        finally:
            helper.close()
    assert shared.helper_calls >= len(plan.resources) // 3, "the helper took too few calls"
    assert got == expected
    assert expected[0], "no finding at all: the comparison would prove little"
    assert any(v.resource_urn != stack_urn for v in expected[0]) or stack == "tencent-exmail"


def test_a_helper_still_starting_is_stopped_at_once() -> None:
    config = load_stack_config(load_project(REPO), "tencent-exmail")
    with PolicyPackProcess(PACK, stack_config=config, timeout=300) as pack:
        _prepare(pack, None)
        helper = _Helper(pack, config)
        helper.start()
        t0 = time.monotonic()
        helper.close()
        assert time.monotonic() - t0 < 15
        process = helper._process._proc
        assert process is None or process.poll() is not None, "the helper's process still runs"
        assert helper.ready() is None
