"""The residency corpus (tests/corpus, see its README): every program through the real pack via the
gate, each judged as its expect.yaml says."""

from __future__ import annotations

import pytest

from tests.corpus_support import Verdict, check_verdict, judge_selected, load_expect, programs
from tests.support import REPO

CORPUS = REPO / "tests" / "corpus"
PROGRAMS = programs(CORPUS)
CLASSES = {1, 2, 3, 4, 5, 6, 7}


@pytest.fixture(scope="session")
def verdicts(request: pytest.FixtureRequest) -> dict[str, Verdict]:
    return judge_selected(request, CORPUS, "test_residency_corpus", CLASSES)


def test_the_corpus_layout_holds() -> None:
    assert PROGRAMS, "no programs in tests/corpus"
    for program in PROGRAMS:
        d = CORPUS / program
        for name in ("Pulumi.yaml", "Pulumi.dev.yaml", "__main__.py"):
            assert (d / name).is_file(), (program, name)
        expect = load_expect(CORPUS, program, CLASSES)
        prefix = "ok-" if expect.cls == "compliant" else f"leak-c{expect.cls}-"
        assert program.startswith(prefix), (program, prefix)


def test_the_corpus_covers_the_issue() -> None:
    by_class: dict[int | str, int] = {}
    for program in PROGRAMS:
        cls = load_expect(CORPUS, program, CLASSES).cls
        by_class[cls] = by_class.get(cls, 0) + 1
    leaks = sum(n for c, n in by_class.items() if c != "compliant")
    assert leaks >= 40 and by_class.get("compliant", 0) >= 12, by_class
    # classes 1, 2, 5, 6 (the pack's rules); 3, 4, 7 (the gate) are added by their programs
    for cls in (1, 2, 5, 6):
        assert by_class.get(cls, 0) >= 5, (cls, by_class)


@pytest.mark.parametrize("program", PROGRAMS)
def test_program_is_judged_as_expected(program: str, verdicts: dict[str, Verdict]) -> None:
    check_verdict(program, load_expect(CORPUS, program, CLASSES), verdicts[program])
