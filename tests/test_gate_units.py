"""Unit tests of the gate's pieces: wire format, requests, policy config, state, exemptions."""

from __future__ import annotations

from pathlib import Path

import pytest
from google.protobuf import json_format, struct_pb2  # type: ignore[import-untyped]
from hypothesis import given, settings
from hypothesis import strategies as st

from toolchain.engine.model import (
    UNKNOWN,
    CustomTimeouts,
    PlannedResource,
    ResourceOptions,
    ResourceReference,
    Secret,
)
from toolchain.engine.wire import SECRET_SIG, SIG_KEY, UNKNOWN_VALUE, decode, encode, to_display
from toolchain.gate.core import exemption_of
from toolchain.gate.pack import (
    PackError,
    PolicyRule,
    analyze_request,
    load_policy_config,
    reconcile_config,
    stack_resource_message,
)
from toolchain.gate.state import load_state

REPO = Path(__file__).resolve().parent.parent


def test_engine_wire_format_round_trip() -> None:
    wire = {
        "plain": "x",
        "n": 600.0,
        "secret": {SIG_KEY: SECRET_SIG, "value": "k"},
        "unknown": UNKNOWN_VALUE,
        "nested": [{"deep": {SIG_KEY: SECRET_SIG, "value": 1.5}}],
    }
    model = decode(wire)
    assert isinstance(model, dict)
    assert model["n"] == 600 and isinstance(model["n"], int)
    assert isinstance(model["secret"], Secret) and model["secret"].reveal() == "k"
    assert model["unknown"] is UNKNOWN
    assert encode(model) == wire
    assert to_display(model) == {
        "plain": "x",
        "n": 600,
        "secret": "[secret]",
        "unknown": "[unknown]",
        "nested": [{"deep": "[secret]"}],
    }


def test_encode_like_the_engine_for_analyzers() -> None:
    custom = ResourceReference("urn:pulumi:s::p::t:m:T::a", UNKNOWN, "1.0.0")
    component = ResourceReference("urn:pulumi:s::p::my:C::c", None)
    props = {"a": custom, "b": component, "__defaults": ["x"], "obj": {"__internal": 1, "k": 2}}
    # without KeepResources a reference becomes its id (unknown in preview) or, for a
    # component, its URN; SkipInternalKeys drops "__" keys at every level
    assert encode(props) == {
        "a": UNKNOWN_VALUE,
        "b": "urn:pulumi:s::p::my:C::c",
        "obj": {"k": 2.0},
    }


def _resource(**kw: object) -> PlannedResource:
    base: dict[str, object] = {
        "urn": "urn:pulumi:dev::p::tencentcloud:Dnspod/record:Record::mx",
        "type": "tencentcloud:Dnspod/record:Record",
        "name": "mx",
        "custom": True,
        "parent": "urn:pulumi:dev::p::pulumi:pulumi:Stack::p-dev",
        "provider": f"urn:pulumi:dev::p::pulumi:providers:tencentcloud::hk::{UNKNOWN_VALUE}",
        "inputs": {"value": Secret("v=DKIM1"), "ttl": 600},
        "options": ResourceOptions(
            protect=True,
            ignore_changes=("remark",),
            custom_timeouts=CustomTimeouts(create=300.0),
            aliases=("urn:pulumi:dev::p::tencentcloud:Dnspod/record:Record::old",),
        ),
        "property_dependencies": {"value": ("urn:a",), "ttl": ()},
        "dependencies": ("urn:a",),
    }
    base.update(kw)
    return PlannedResource(**base)  # type: ignore[arg-type]


def test_analyze_request_carries_what_the_engine_sends() -> None:
    provider = PlannedResource(
        urn="urn:pulumi:dev::p::pulumi:providers:tencentcloud::hk",
        type="pulumi:providers:tencentcloud",
        name="hk",
        custom=True,
        parent=None,
        provider=None,
        inputs={"region": "ap-hongkong", "secretKey": Secret("s3cr3t")},
    )
    req = analyze_request(_resource(), provider)
    assert req.urn.endswith("::mx") and req.name == "mx"
    props = json_format.MessageToDict(req.properties)
    assert props == {"value": {SIG_KEY: SECRET_SIG, "value": "v=DKIM1"}, "ttl": 600.0}
    assert req.options.protect and list(req.options.ignoreChanges) == ["remark"]
    assert req.options.customTimeouts.create == 300.0
    assert not req.options.deleteBeforeReplaceDefined
    assert req.options.parent.endswith("pulumi:pulumi:Stack::p-dev")
    assert list(req.options.aliases) == [
        "urn:pulumi:dev::p::tencentcloud:Dnspod/record:Record::old"
    ]
    assert req.provider.name == "hk"
    assert json_format.MessageToDict(req.provider.properties)["secretKey"] == {
        SIG_KEY: SECRET_SIG,
        "value": "s3cr3t",
    }
    stack_msg = stack_resource_message(_resource(), provider, {"value": "x"})
    assert stack_msg.parent.endswith("p-dev") and stack_msg.options.parent == ""
    assert dict(stack_msg.propertyDependencies)["value"].urns == ["urn:a"]
    assert "ttl" not in stack_msg.propertyDependencies  # empty dependency lists are dropped


def test_policy_config_file_parsing(tmp_path: Path) -> None:
    f = tmp_path / "c.json"
    f.write_text('{"a": "mandatory", "b": {"enforcementLevel": "disabled", "x": 1}, "c": {}}')
    assert load_policy_config(f) == {
        "a": {"enforcementLevel": "mandatory"},
        "b": {"enforcementLevel": "disabled", "properties": {"x": 1}},
    }
    f.write_text("   ")
    assert load_policy_config(f) == {}
    f.write_text('{"a": 3}')
    with pytest.raises(PackError, match="must be a string or object"):
        load_policy_config(f)
    with pytest.raises(PackError, match="cannot read the policy config"):
        load_policy_config(tmp_path / "missing.json")


def test_reconcile_config_like_the_cli() -> None:
    rules = [
        PolicyRule(
            "ttl",
            "d",
            "advisory",
            config_schema={
                "properties": {
                    "minimum": {"type": "integer", "default": 600},
                    "enforcementLevel": {"type": "string"},
                },
                "required": [],
            },
        ),
        PolicyRule("region", "d", "mandatory"),
    ]
    result = reconcile_config(rules, {"ttl": {"properties": {"minimum": 300}}}, {}, "cfg")
    assert result["ttl"] == {"enforcementLevel": "advisory", "properties": {"minimum": 300}}
    result = reconcile_config(rules, {}, {"all": {"enforcementLevel": "advisory"}}, "cfg")
    assert {k: v["enforcementLevel"] for k, v in result.items()} == {
        "ttl": "advisory",
        "region": "advisory",
        "all": "advisory",
    }
    with pytest.raises(PackError, match="ttl: 'x' is not of type 'integer'"):
        reconcile_config(rules, {}, {"ttl": {"properties": {"minimum": "x"}}}, "cfg")


def test_exemption_markers() -> None:
    assert (
        exemption_of(
            "\n[exempt: EX-2026-001] uses DirectMail. Exempted until 2026-12-31 "
            "(DPA-7; approved by CISO)."
        )
        == "EX-2026-001 (until 2026-12-31)"
    )
    assert exemption_of("exempt: EX-7 (approved)") == "EX-7 (approved)"
    assert exemption_of("[exemption expired: EX-1 (expired 2020-01-01)] bad") is None
    assert exemption_of("Exempted findings are listed") is None


def test_state_secrets_and_pending_deletes() -> None:
    project, stack, resources = load_state(REPO / "tests" / "states" / "nc-region.json")
    assert (project, stack) == ("hk-mail", "prod")
    assert [r.name for r in resources] == ["hk-mail-prod", "gz", "mx"]
    gz = resources[1]
    assert isinstance(gz.inputs["secretKey"], Secret)
    assert "c2VjcmV0" not in repr(gz.inputs)
    mx = resources[2]
    assert mx.options.protect and mx.options.custom_timeouts.create == 300
    assert mx.provider_urn == gz.urn
    assert mx.outputs["status"] == "ENABLE"


def test_a_mandatory_finding_is_never_exempt() -> None:
    from pulumi.runtime.proto import analyzer_pb2

    from toolchain.gate.core import _violations
    from toolchain.gate.pack import PackInfo

    info = PackInfo("p", "1", "", "", "", ())
    urn = "urn:pulumi:s::p::t:m:T::r"
    diags = [
        analyzer_pb2.AnalyzeDiagnostic(
            policyName=name, message="d\n[exempt: EX-1] x", description="d", enforcementLevel=lvl
        )
        for name, lvl in (("a", analyzer_pb2.MANDATORY), ("b", analyzer_pb2.ADVISORY))
    ]
    a, b = _violations(diags, urn, {}, info, None)
    assert a.blocking and not a.exempt
    assert b.exempt and not b.blocking and b.exemption == "EX-1"


def _values() -> st.SearchStrategy[object]:
    """Nested property values as a program produces them, secrets and unknowns included."""
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**52), max_value=2**52),
        st.floats(allow_nan=False, allow_infinity=False).filter(lambda f: not f.is_integer()),
        st.text(max_size=8).filter(lambda s: s != UNKNOWN_VALUE),
        st.just(UNKNOWN),
    )
    return st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=3),
            st.dictionaries(
                st.text(min_size=1, max_size=5).filter(
                    lambda k: not k.startswith("__") and k != SIG_KEY
                ),
                inner,
                max_size=3,
            ),
            inner.map(Secret),
        ),
        max_leaves=10,
    )


def test_wire_round_trip_property() -> None:
    @settings(max_examples=200, deadline=None)
    @given(_values())
    def check(value: object) -> None:
        # through a real protobuf Struct, as the value travels to the pack
        struct = json_format.ParseDict({"v": encode(value)}, struct_pb2.Struct())
        wire = json_format.MessageToDict(struct)["v"]
        assert decode(wire) == value

    check()
