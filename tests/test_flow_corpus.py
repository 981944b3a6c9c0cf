"""The flow corpus (issue 18, tests/flow_corpus): for each class of the issue, a leak and its
compliant twin, judged by the real pack through the gate. A flow out of Hong Kong is blocked; a
flow in, a read, a routing label or a host only read from is not."""

from __future__ import annotations

import pytest

from tests.corpus_support import Verdict, check_verdict, judge_selected, load_expect, programs
from tests.support import REPO

CORPUS = REPO / "tests" / "flow_corpus"
PROGRAMS = programs(CORPUS)
# 1 direction, 2 reads, 3 hosts without a region, 4 MIME multipart user data, 5 unknown
# destinations, 6 region fields named *Name, 7 DNS routing lines, 8 environments given as one
# JSON string (SAE envs)
CLASSES = {1, 2, 3, 4, 5, 6, 7, 8}


@pytest.fixture(scope="session")
def flow_verdicts(request: pytest.FixtureRequest) -> dict[str, Verdict]:
    return judge_selected(request, CORPUS, "test_flow_corpus", CLASSES)


def test_every_class_has_a_leak_and_its_compliant_twin() -> None:
    seen: dict[int | str, set[str]] = {}
    for program in PROGRAMS:
        d = CORPUS / program
        for name in ("Pulumi.yaml", "Pulumi.dev.yaml", "__main__.py"):
            assert (d / name).is_file(), (program, name)
        expect = load_expect(CORPUS, program, CLASSES)
        prefix = f"{'leak' if expect.verdict == 'blocked' else 'ok'}-c{expect.cls}-"
        assert program.startswith(prefix), (program, prefix)
        seen.setdefault(expect.cls, set()).add(expect.verdict)
    for cls in CLASSES:
        assert seen.get(cls) == {"blocked", "passes"}, (cls, seen.get(cls))


@pytest.mark.parametrize("program", PROGRAMS)
def test_flow_program_is_judged_as_expected(
    program: str, flow_verdicts: dict[str, Verdict]
) -> None:
    check_verdict(program, load_expect(CORPUS, program, CLASSES), flow_verdicts[program])


@pytest.mark.parametrize(
    "program", ["ok-c2-get-beijing-bucket-read-only", "leak-c2-get-beijing-bucket-then-written"]
)
def test_resource_get_is_a_read_not_a_placement(
    program: str, flow_verdicts: dict[str, Verdict]
) -> None:
    """Bucket.get() through a Beijing provider: as in Pulumi's engine, the read reaches no
    analyzer (the gate keeps it apart), and its provider, which creates nothing, is advisory."""
    result, _ = flow_verdicts[program]
    assert not isinstance(result, BaseException), (program, result)
    assert [r.name for r in result.reads] == ["geo-public"], (program, result.reads)
    assert "geo-public" not in {r.name for r in result.resources}, program
    assert not [v for v in result.violations if v.resource_name == "geo-public"], program
    read_elsewhere = [v for v in result.violations if v.policy_name == "residency-read-elsewhere"]
    assert [(v.resource_name, v.blocking) for v in read_elsewhere] == [("bj", False)], (
        program,
        [(v.policy_name, v.resource_name, v.message) for v in result.violations],
    )
