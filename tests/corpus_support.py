"""Shared harness of the program corpora (tests/corpus for issue 13, tests/flow_corpus for issue
18): load a program's expect.yaml, judge programs through the real pack via the gate (one pack
process per worker, as `scripts/gate` judges several stacks), and check a verdict."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support import REPO
from toolchain.engine.run import ProgramRun
from toolchain.gate.core import GateResult, _judge_stack, _prepare, run_gate
from toolchain.gate.pack import PolicyPackProcess

PACK = REPO / "policies"
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
    #: when given, exactly the advisory residency rules reported (reported, never blocking)
    advisory: tuple[str, ...] | None = None


def programs(corpus: Path) -> list[str]:
    return sorted(p.parent.name for p in corpus.glob("*/expect.yaml"))


def load_expect(corpus: Path, program: str, classes: Iterable[int]) -> Expect:
    """The expected verdict. `class` is an issue class (1..n) or `compliant`; in a corpus whose
    look-alikes carry the class they mirror, `verdict` alone says leak or look-alike."""
    doc: Any = yaml.safe_load((corpus / program / "expect.yaml").read_text())
    assert isinstance(doc, dict), program
    unknown = set(doc) - {"class", "verdict", "rules", "resource", "why", "env", "advisory"}
    assert not unknown, (program, unknown)
    cls = doc["class"]
    assert cls == "compliant" or cls in set(classes), (program, cls)
    assert doc["verdict"] in ("blocked", "passes"), program
    rules = tuple(doc.get("rules") or ())
    assert (doc["verdict"] == "blocked") == bool(rules), (program, "blocked <=> rules listed")
    if cls == "compliant":
        assert doc["verdict"] == "passes", program
    assert all(r.startswith("residency-") for r in rules), program
    assert str(doc.get("why", "")).strip(), (program, "say why")
    advisory = doc.get("advisory")
    return Expect(
        cls,
        doc["verdict"],
        rules,
        doc.get("resource"),
        doc["why"],
        dict(doc.get("env") or {}),
        None if advisory is None else tuple(advisory),
    )


_ENV_LOCK = threading.Lock()
Verdict = tuple[GateResult | BaseException, float]


def _judge(corpus: Path, program: str, expect: Expect) -> Verdict:
    """One program through `run_gate` with its own pack, as `scripts/gate --project` runs it; the
    program's `env:` is set for it alone and passed through the gate's minimal environment."""
    t0 = time.perf_counter()
    with _ENV_LOCK:
        saved = {k: os.environ.get(k) for k in expect.env}
        os.environ.update(expect.env)
        try:
            result: GateResult | BaseException = run_gate(
                corpus / program, "dev", PACK, pass_env=tuple(expect.env)
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


def _judge_share(corpus: Path, share: list[str]) -> dict[str, Verdict]:
    """Programs one after another through ONE pack process, the way the gate judges several
    stacks (ConfigureStack names each program's project and stack before its resources): each
    program still runs twice (preview, and the update-mode pass) exactly as under run_gate."""
    out: dict[str, Verdict] = {}
    if not share:
        return out
    first = ProgramRun(corpus / share[0], "dev")
    with PolicyPackProcess(PACK, stack_config=first.config) as pack:
        info = _prepare(pack, None)
        for program in share:
            t0 = time.perf_counter()
            try:
                run = ProgramRun(corpus / program, "dev")
                update = ProgramRun(corpus / program, "dev", preview=False)
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


def judge_all(corpus: Path, selected: list[str], classes: Iterable[int]) -> dict[str, Verdict]:
    """Judge the selected programs: those without `env:` in WORKERS shares (one pack each),
    those with `env:` one at a time (environment changes are process-wide)."""
    expects = {p: load_expect(corpus, p, classes) for p in selected}
    plain = [p for p in selected if not expects[p].env]
    with_env = [p for p in selected if expects[p].env]
    shares = [plain[i::WORKERS] for i in range(WORKERS)]
    results: dict[str, Verdict] = {}
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        for part in pool.map(lambda share: _judge_share(corpus, share), shares):
            results.update(part)
    for p in with_env:
        results[p] = _judge(corpus, p, expects[p])
    return results


def check_verdict(program: str, expect: Expect, verdict: Verdict) -> None:
    result, _ = verdict
    if isinstance(result, BaseException):
        raise AssertionError(f"{program}: the gate could not judge it: {result}") from result
    blocking = result.blocking
    shown = [f"{v.policy_name} {v.resource_name}: {v.message.splitlines()[-1]}" for v in blocking]
    if expect.advisory is not None:
        pack_rules = {r.name for r in result.pack.rules}  # not the gate's own state checks
        reported = sorted(
            {
                v.policy_name
                for v in result.violations
                if not v.blocking and v.policy_name in pack_rules
            }
        )
        assert reported == sorted(expect.advisory), (
            program,
            "advisory findings",
            [(v.policy_name, v.resource_name, v.message) for v in result.violations],
        )
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


def judge_selected(
    request: pytest.FixtureRequest, corpus: Path, module: str, classes: Iterable[int]
) -> dict[str, Verdict]:
    """Judge, up front, the programs of ``corpus`` this session selected (pytest -k) among the
    tests of ``module`` (its name's last part), and print how long that took."""
    selected = {
        item.callspec.params["program"]
        for item in request.session.items
        if hasattr(item, "callspec")
        and "program" in item.callspec.params
        and item.module is not None
        and item.module.__name__.endswith(module)
    }
    t0 = time.perf_counter()
    results = judge_all(corpus, [p for p in programs(corpus) if p in selected], classes)
    print(f"\n{module}: {len(results)} programs judged in {time.perf_counter() - t0:.1f} s")
    return results
