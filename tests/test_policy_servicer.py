"""The pack's own Analyze / AnalyzeStack loops (issue 18) answer exactly as pulumi_policy's do.

pack.py replaces pulumi_policy 1.21.0's loops with ones that skip what the hk-mail rules never read
(the converted properties, options and provider; resource policies whose rule does not judge the
type). Here both loops judge every resource of real plans (an example stack and corpus leaks),
and the responses must be byte-identical; the shortcuts they rest on (the Struct converter, the
zone lookup, the walks kept for one AnalyzeStack) are checked against the code they replace.
"""

from __future__ import annotations

import json
import math
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pulumi_policy.policy as _pp
import pytest
from google.protobuf import json_format, struct_pb2  # type: ignore[import-untyped]
from hypothesis import given
from hypothesis import strategies as st
from pulumi.runtime.proto import analyzer_pb2
from pulumi_policy import EnforcementLevel
from pulumi_policy.deserialize import deserialize_properties

from toolchain.engine.model import Plan
from toolchain.engine.run import run_program
from toolchain.gate.core import _stack_properties
from toolchain.gate.pack import analyze_request, stack_resource_message

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "policies"))

from hkmail_policy import pack, values  # noqa: E402
from hkmail_policy.rules.mailflows import _in_zones  # noqa: E402

# the example stack with the most resource types (server, disks, buckets, records, commands), one
# whose mail flows draw stack-level findings (no exemptions loaded here), and corpus leaks that
# draw resource-level findings of several rules
CORPUS = REPO / "tests" / "corpus"
PROGRAMS = (
    (REPO, "private-tencent"),
    (REPO, "tencent-exmail"),
    (CORPUS / "leak-c1-autoconfig-apigw-guangzhou", "dev"),
    (CORPUS / "leak-c1-oss-replication-location", "dev"),
    (CORPUS / "leak-c2-b64-userdata-ses-singapore", "dev"),
    (CORPUS / "leak-c5-waf-logs-default-shanghai", "dev"),
)


@pytest.fixture(scope="module")
def plans() -> list[Plan]:
    return [run_program(project, stack, timeout=600) for project, stack in PROGRAMS]


@pytest.fixture(scope="module")
def plan(plans: list[Plan]) -> Plan:
    return plans[0]


@pytest.fixture(scope="module")
def servicer() -> Iterator[Any]:
    s = pack._Servicer(pack.PACK_NAME, "0.1.0", pack.build_policies(()), EnforcementLevel.MANDATORY)
    yield s


def _requests(plan: Plan) -> list[Any]:
    known = {r.urn: r for r in plan.resources}
    return [
        analyze_request(r, known.get(r.provider_urn or ""))
        for r in plan.resources
        if not r.external
    ]


def _pulumi_policy_analyze(servicer: Any, request: Any) -> Any:
    """pulumi_policy's own loop, the request captured as pack.Analyze captures it."""
    pack._local.resource = pack._from_request(request)
    try:
        return _pp._PolicyAnalyzerServicer.Analyze(servicer, request, None)  # type: ignore[no-untyped-call]
    finally:
        pack._local.resource = None


def _pulumi_policy_analyze_stack(servicer: Any, request: Any) -> Any:
    pack._local.stack = tuple(pack._from_request(r) for r in request.resources)
    try:
        return _pp._PolicyAnalyzerServicer.AnalyzeStack(servicer, request, None)  # type: ignore[no-untyped-call]
    finally:
        pack._local.stack = None


def test_analyze_answers_as_pulumi_policy_does(plans: list[Plan], servicer: Any) -> None:
    requests = [r for plan in plans for r in _requests(plan)]
    judged = 0
    for request in requests:
        ours = servicer.Analyze(request, None)
        theirs = _pulumi_policy_analyze(servicer, request)
        assert ours.SerializeToString(deterministic=True) == theirs.SerializeToString(
            deterministic=True
        ), f"{request.urn}:\nours {ours}\npulumi_policy {theirs}"
        judged += len(ours.diagnostics)
    assert len(requests) >= 60
    assert judged >= 3, "too few resource findings: the comparison would prove little"


def test_analyze_stack_answers_as_pulumi_policy_does(plans: list[Plan], servicer: Any) -> None:
    judged = 0
    for plan in plans:
        known = {r.urn: r for r in plan.resources}
        request = analyzer_pb2.AnalyzeStackRequest(
            resources=[
                stack_resource_message(r, known.get(r.provider_urn or ""), _stack_properties(r))
                for r in plan.resources
                if not r.external
            ]
        )
        ours = servicer.AnalyzeStack(request, None)
        theirs = _pulumi_policy_analyze_stack(servicer, request)
        assert ours.SerializeToString(deterministic=True) == theirs.SerializeToString(
            deterministic=True
        ), f"{plan.project}/{plan.stack}:\nours {ours}\npulumi_policy {theirs}"
        judged += len(ours.diagnostics)
    assert judged > 0, "no stack-level finding: the comparison would prove little"


def test_lazy_args_convert_as_pulumi_policy_does(plan: Plan, servicer: Any) -> None:
    """A policy that does read its args (not ours) gets what pulumi_policy would have built."""
    request = next(r for r in _requests(plan) if r.HasField("provider") and r.properties.fields)
    args = pack._LazyArgs(servicer, request, {"x": 1}, {})
    assert args.get_config() == {"x": 1}
    assert (args.resource_type, args.urn, args.name) == (request.type, request.urn, request.name)
    expected = deserialize_properties(json_format.MessageToDict(request.properties))
    assert json.dumps(_plain(args.props), sort_keys=True) == json.dumps(expected, sort_keys=True)
    assert args.provider is not None and args.provider.urn == request.provider.urn
    assert args.opts.protect == request.options.protect


def test_lazy_stack_args_link_parents_and_dependencies(plan: Plan, servicer: Any) -> None:
    known = {r.urn: r for r in plan.resources}
    messages = [
        stack_resource_message(r, known.get(r.provider_urn or ""), _stack_properties(r))
        for r in plan.resources
        if not r.external
    ]
    request = analyzer_pb2.AnalyzeStackRequest(resources=messages)
    resources = pack._LazyStackArgs(servicer, request, None, {}).resources
    assert [r.urn for r in resources] == [m.urn for m in messages]
    by_urn = {r.urn: r for r in resources}
    for m in messages:
        r = by_urn[m.urn]
        assert (r.parent.urn if r.parent else "") == (m.parent if m.parent in by_urn else "")
        assert [d.urn for d in r.dependencies] == [d for d in m.dependencies if d in by_urn]


def _plain(value: Any) -> Any:
    """pulumi_policy's read-only proxies back to plain dicts and lists."""
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if hasattr(value, "keys"):
        return {k: _plain(value[k]) for k in value.keys()}  # noqa: SIM118
    return [_plain(v) for v in value]


json_values = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(st.dictionaries(st.text(), json_values, max_size=6))
def test_struct_converter_matches_json_format(doc: dict[str, Any]) -> None:
    message = struct_pb2.Struct()
    json_format.ParseDict(doc, message)
    ours, theirs = pack._struct(message), json_format.MessageToDict(message)
    assert ours == theirs and repr(ours) == repr(theirs)  # repr: floats stay floats


def test_struct_converter_refuses_what_json_format_refuses() -> None:
    for bad in (math.inf, -math.inf, math.nan):
        message = struct_pb2.Struct()
        message.fields["n"].number_value = bad
        with pytest.raises(ValueError):
            json_format.MessageToDict(message)
        with pytest.raises(ValueError):
            pack._struct(message)


name_part = st.sampled_from(["a", "b", "mail", "hk", ""])
names = st.lists(name_part, max_size=4).map(".".join)


@given(names, st.frozensets(names, max_size=5))
def test_zone_lookup_matches_the_scan_it_replaces(name: str, zones: frozenset[str]) -> None:
    scanned = any(name == z or name.endswith("." + z) for z in zones)
    assert _in_zones(name, zones) == scanned


def test_walks_kept_for_one_block_only() -> None:
    a = {"x": {"y": [1, {"z": "v"}]}}
    b = {"x": "w"}
    with values.walks_kept():
        first_a = values.leaves(a)
        values.leaves(b)
        assert values.leaves(a) is first_a  # kept while the block lasts, not only the last
    assert values.leaves(a) == first_a
    assert [leaf.shape for leaf in first_a] == ["x.y[]", "x.y[].z"]

    seen: list[object] = []

    def other_thread() -> None:  # the block is this thread's: another walks as before
        seen.append(getattr(values._last, "kept", None))

    with values.walks_kept():
        t = threading.Thread(target=other_thread)
        t.start()
        t.join()
    assert seen == [None]
