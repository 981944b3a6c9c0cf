"""The residency corpus (tests/corpus, see its README): every program through the real pack via the
gate, each judged as its expect.yaml says."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest
import yaml

from tests.support import REPO
from toolchain.engine.run import ProgramRun
from toolchain.gate.core import GateResult, _judge_stack, _prepare, run_gate
from toolchain.gate.pack import PolicyPackProcess

CORPUS = REPO / "tests" / "corpus"
PACK = REPO / "policies"
PROGRAMS = sorted(p.parent.name for p in CORPUS.glob("*/expect.yaml"))
CLASSES = {1, 2, 3, 4, 5, 6, 7}
# programs in flight at once (two program runs each, and a pack per worker; CI has two cores)
WORKERS = 2


@dataclass(frozen=True)
class Expect:
    cls: int | str
    verdict: str
    rules: tuple[str, ...]
    resource: str | None
    why: str
    env: Mapping[str, str]


def load_expect(program: str) -> Expect:
    doc: Any = yaml.safe_load((CORPUS / program / "expect.yaml").read_text())
    assert isinstance(doc, dict), program
    unknown = set(doc) - {"class", "verdict", "rules", "resource", "why", "env"}
    assert not unknown, (program, unknown)
    cls = doc["class"]
    assert cls == "compliant" or cls in CLASSES, (program, cls)
    assert doc["verdict"] in ("blocked", "passes"), program
    rules = tuple(doc.get("rules") or ())
    assert (doc["verdict"] == "blocked") == bool(rules), (program, "blocked <=> rules listed")
    assert (cls == "compliant") == (doc["verdict"] == "passes"), program
    assert all(r.startswith("residency-") for r in rules), program
    assert str(doc.get("why", "")).strip(), (program, "say why")
    return Expect(
        cls, doc["verdict"], rules, doc.get("resource"), doc["why"], dict(doc.get("env") or {})
    )


_ENV_LOCK = threading.Lock()
Verdict = tuple[GateResult | BaseException, float]


def _judge(program: str) -> Verdict:
    """One program through `run_gate` with its own pack, as `scripts/gate --project` runs it; the
    program's `env:` is set for it alone and passed through the gate's minimal environment."""
    expect = load_expect(program)
    t0 = time.perf_counter()
    with _ENV_LOCK:
        saved = {k: os.environ.get(k) for k in expect.env}
        os.environ.update(expect.env)
        try:
            result: GateResult | BaseException = run_gate(
                CORPUS / program, "dev", PACK, pass_env=tuple(expect.env)
            )
        except Exception as exc:  # reported by the program's own test
            result = exc
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
    return result, time.perf_counter() - t0


def _judge_share(programs: list[str]) -> dict[str, Verdict]:
    """Programs one after another through ONE pack process, the way the gate judges several
    stacks (ConfigureStack names each program's project and stack before its resources): each
    program still runs twice (preview, and the update-mode pass) exactly as under run_gate."""
    out: dict[str, Verdict] = {}
    if not programs:
        return out
    first = ProgramRun(CORPUS / programs[0], "dev")
    with PolicyPackProcess(PACK, stack_config=first.config) as pack:
        info = _prepare(pack, None)
        for program in programs:
            t0 = time.perf_counter()
            try:
                run = ProgramRun(CORPUS / program, "dev")
                update = ProgramRun(CORPUS / program, "dev", preview=False)
                run.start()
                update.start()
                try:
                    result: GateResult | BaseException = _judge_stack(
                        pack, info, run, update, t0, t0
                    )
                finally:
                    run.close()
                    update.close()
            except Exception as exc:  # reported by the program's own test
                result = exc
            out[program] = (result, time.perf_counter() - t0)
    first.close()
    return out


@pytest.fixture(scope="session")
def verdicts(request: pytest.FixtureRequest) -> Iterator[dict[str, Verdict]]:
    # only the programs this session selected (pytest -k), all of them judged up front
    selected = {
        item.callspec.params["program"]
        for item in request.session.items
        if hasattr(item, "callspec") and "program" in item.callspec.params
    }
    t0 = time.perf_counter()
    plain = [p for p in PROGRAMS if p in selected and not load_expect(p).env]
    with_env = [p for p in PROGRAMS if p in selected and load_expect(p).env]
    shares = [plain[i::WORKERS] for i in range(WORKERS)]
    results: dict[str, Verdict] = {}
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        for part in pool.map(_judge_share, shares):
            results.update(part)
    for p in with_env:  # environment changes are process-wide: one at a time, own gate run
        results[p] = _judge(p)
    total = time.perf_counter() - t0
    print(f"\nresidency corpus: {len(results)} programs judged in {total:.1f} s")
    yield results


def test_the_corpus_layout_holds() -> None:
    assert PROGRAMS, "no programs in tests/corpus"
    for program in PROGRAMS:
        d = CORPUS / program
        for name in ("Pulumi.yaml", "Pulumi.dev.yaml", "__main__.py"):
            assert (d / name).is_file(), (program, name)
        expect = load_expect(program)
        prefix = "ok-" if expect.cls == "compliant" else f"leak-c{expect.cls}-"
        assert program.startswith(prefix), (program, prefix)


def test_the_corpus_covers_the_issue() -> None:
    by_class: dict[int | str, int] = {}
    for program in PROGRAMS:
        cls = load_expect(program).cls
        by_class[cls] = by_class.get(cls, 0) + 1
    leaks = sum(n for c, n in by_class.items() if c != "compliant")
    assert leaks >= 40 and by_class.get("compliant", 0) >= 12, by_class
    # classes 1, 2, 5, 6 (the pack's rules); 3, 4, 7 (the gate) are added by their programs
    for cls in (1, 2, 5, 6):
        assert by_class.get(cls, 0) >= 5, (cls, by_class)


@pytest.mark.parametrize("program", PROGRAMS)
def test_program_is_judged_as_expected(program: str, verdicts: dict[str, Verdict]) -> None:
    expect = load_expect(program)
    result, _ = verdicts[program]
    if isinstance(result, BaseException):
        raise AssertionError(f"{program}: the gate could not judge it: {result}") from result
    blocking = result.blocking
    shown = [f"{v.policy_name} {v.resource_name}: {v.message.splitlines()[-1]}" for v in blocking]
    if expect.verdict == "passes":
        assert result.exit_code == 0, (program, shown)
        assert result.resources, program
        return
    assert result.exit_code == 1, (program, "expected blocked, gate passed it", expect.why)
    for rule in expect.rules:
        hits = [v for v in blocking if v.policy_name == rule]
        assert hits, (program, f"{rule} did not block", shown)
        if expect.resource is not None:
            assert any(v.resource_name == expect.resource for v in hits), (
                program,
                f"{rule} did not name resource {expect.resource!r}",
                shown,
            )
