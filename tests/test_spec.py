"""The stack spec: every bad value is named with its field and what is allowed."""

from __future__ import annotations

import base64
import copy
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hkmail.errors import SpecErrors
from hkmail.spec import HK_REGION, DirectMailSender, read_stack
from tests.conftest import ed25519_key_b64, public_key_b64, stack_config

EXAMPLES = ["tencent-exmail", "tencent-ses"]


def minimal(**domain: Any) -> dict[str, Any]:
    d = {"name": "example.com.hk", "mail": {"suite": "tencent-exmail"}, **domain}
    return {
        "tencentcloud:region": "ap-hongkong",
        "hkmail:dnsProvider": "dnspod",
        "hkmail:domains": [d],
    }


def errors_of(config: dict[str, Any]) -> list[str]:
    with pytest.raises(SpecErrors) as info:
        read_stack(config)
    return [str(e) for e in info.value.errors]


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_stacks_are_valid(name: str) -> None:
    spec = read_stack(stack_config(name))
    assert spec.domains
    assert all(spec.regions[c] == HK_REGION[c] for c in spec.clouds)


def test_missing_region_names_the_key_and_the_mainland_fallback() -> None:
    config = minimal()
    del config["tencentcloud:region"]
    [message] = errors_of(config)
    assert message.startswith("tencentcloud:region: (missing)")
    assert "ap-guangzhou" in message and "allowed: ap-hongkong" in message


@pytest.mark.parametrize(
    ("region", "why"),
    [
        ("ap-guangzhou", "outside Hong Kong (Tencent Cloud's Hong Kong region is `ap-hongkong`)"),
        ("ap-singapore", "outside Hong Kong"),
        ("cn-hongkong", "`cn-hongkong` is Alibaba Cloud's id; Tencent Cloud's Hong Kong region"),
        ("AP-HONGKONG", "region ids are lower-case: 'ap-hongkong'"),
        (" ap-hongkong", "'ap-hongkong' with leading or trailing whitespace"),
    ],
)
def test_non_hong_kong_region_is_refused(region: str, why: str) -> None:
    [message] = errors_of({**minimal(), "tencentcloud:region": region})
    assert f"tencentcloud:region: {region!r}" in message and why in message


def test_alidns_needs_the_alicloud_region() -> None:
    config = {**minimal(), "hkmail:dnsProvider": "alidns", "alicloud:region": "cn-hangzhou"}
    [message] = errors_of(config)
    assert "alicloud:region: 'cn-hangzhou'" in message and "allowed: cn-hongkong" in message


@pytest.mark.parametrize(
    ("domain", "field", "allowed"),
    [
        ({"name": "not a domain"}, "hkmail:domains[0].name", "DNS host name"),
        ({"ttl": 0}, "hkmail:domains[0].ttl", "an integer from 1 to 86400"),
        ({"ttl": True}, "hkmail:domains[0].ttl", "an integer from 1"),
        ({"mail": {"suite": "gmail"}}, "hkmail:domains[0].mail.suite", "tencent-exmail | alibaba"),
        ({"mail": {"suite": "custom"}}, "hkmail:domains[0].mail.mx", "non-empty list"),
        (
            {"mail": {"suite": "custom", "mx": [{"host": "mx.example.net", "priority": 0}]}},
            "hkmail:domains[0].mail.mx[0].priority",
            "an integer from 1 to 65535",
        ),
        ({"spf": {"all": "+all"}}, "hkmail:domains[0].spf.all", "-all | ~all"),
        ({"spf": {"ip4": ["10.0.0.1/8"]}}, "hkmail:domains[0].spf.ip4[0]", "CIDR"),
        ({"spf": {"ip4": ["2001:db8::1"]}}, "hkmail:domains[0].spf.ip4[0]", "IPv4"),
        (
            {"dkim": [{"selector": "s1", "publicKey": "%%%"}]},
            "hkmail:domains[0].dkim[0].publicKey",
            "not base64",
        ),
        (
            {"dkim": [{"selector": "s1", "publicKey": "QUJD", "keyType": "ed25519"}]},
            "hkmail:domains[0].dkim[0].publicKey",
            "32 bytes",
        ),
        (
            {"dkim": [{"selector": "s 1", "publicKey": "QUJD"}]},
            "hkmail:domains[0].dkim[0].selector",
            "DNS host name",
        ),
        (
            {"dmarc": {"policy": "strict"}},
            "hkmail:domains[0].dmarc.policy",
            "none | quarantine | reject",
        ),
        ({"dmarc": {"policy": "reject", "pct": 101}}, "hkmail:domains[0].dmarc.pct", "0 to 100"),
        (
            {"dmarc": {"policy": "reject", "rua": ["not-an-address"]}},
            "hkmail:domains[0].dmarc.rua[0]",
            "e-mail address",
        ),
        (
            {"dmarc": {"policy": "none", "rampUntil": "next year"}},
            "hkmail:domains[0].dmarc.rampUntil",
            "YYYY-MM-DD",
        ),
        ({"mtaSts": {"mode": "strict"}}, "hkmail:domains[0].mtaSts.mode", "enforce | testing"),
        (
            {"mtaSts": {"mode": "enforce", "maxAge": 60}},
            "hkmail:domains[0].mtaSts.maxAge",
            "86400 to 31557600",
        ),
        ({"tlsRpt": {"rua": []}}, "hkmail:domains[0].tlsRpt.rua", "at least one"),
        ({"caa": {"issue": ["not a ca"]}}, "hkmail:domains[0].caa.issue[0]", "DNS host name"),
        (
            {"sending": [{"service": "directmail"}]},
            "hkmail:domains[0].sending[0].service",
            "tencent-ses",
        ),
        (
            {"sending": [{"service": "tencent-ses", "domain": "notify.other.hk"}]},
            "hkmail:domains[0].sending[0].domain",
            "example.com.hk or a subdomain",
        ),
        ({"colour": "blue"}, "hkmail:domains[0].colour", "unknown key"),
    ],
)
def test_bad_domain_values_name_field_value_and_allowed(
    domain: dict[str, Any], field: str, allowed: str
) -> None:
    messages = errors_of(minimal(**domain))
    assert any(m.startswith(f"{field}:") and allowed in m for m in messages), messages


def test_all_errors_are_reported_together() -> None:
    config = minimal(ttl=0, dmarc={"policy": "x"}, spf={"all": "?all"})
    config["hkmail:dnsPlan"] = "gold"
    config["hkmail:colour"] = "blue"
    messages = errors_of(config)
    assert len(messages) == 5, messages
    assert any(
        m.startswith("hkmail:dnsPlan: 'gold'") and "free | professional" in m for m in messages
    )
    assert any(m.startswith("hkmail:colour:") and "unknown key" in m for m in messages)


def test_ttl_floor_follows_the_dns_plan() -> None:
    def alidns(plan: str, ttl: int) -> dict[str, Any]:
        return {
            **minimal(ttl=ttl),
            "hkmail:dnsProvider": "alidns",
            "hkmail:dnsPlan": plan,
            "alicloud:region": "cn-hongkong",
        }

    # Where Alibaba's pages agree, below the floor is refused.
    assert read_stack(alidns("standard", 60)).domains[0].ttl == 60
    assert errors_of(alidns("standard", 59)) and errors_of(alidns("free", 599))
    # Where they disagree (personal: 120 on the current page, 600 on the older one), only what
    # no source allows is refused; the rest is warned in the plan (test_records).
    assert read_stack(alidns("personal", 120)).domains[0].ttl == 120
    assert errors_of(alidns("personal", 119))
    # DNSPod's per-plan floors are unverified: nothing the provider's range allows is refused.
    assert read_stack({**minimal(ttl=120), "hkmail:dnsPlan": "free"}).domains[0].ttl == 120
    # The default stays at the assumed floor, never below it.
    assert read_stack(minimal()).domains[0].ttl == 600


def test_dkim_key_sizes() -> None:
    # 1024 bits is what RFC 8301 still allows, but the policy pack blocks it: refused in its words
    [message] = errors_of(minimal(dkim=[{"selector": "s1", "publicKey": public_key_b64(1024)}]))
    assert message.startswith("hkmail:domains[0].dkim[0].publicKey: '1024-bit RSA key'")
    assert "mailauth-dkim-key-strength: DKIM key at s1._domainkey: RSA key is 1024 bits" in message
    ok = read_stack(minimal(dkim=[{"selector": "s1", "publicKey": public_key_b64(2048)}]))
    assert ok.domains[0].dkim[0].bits == 2048
    [message] = errors_of(minimal(dkim=[{"selector": "s1", "publicKey": public_key_b64(512)}]))
    assert "512-bit RSA" in message and "RFC 8301" in message
    ed = read_stack(
        minimal(dkim=[{"selector": "e", "keyType": "ed25519", "publicKey": ed25519_key_b64()}])
    )
    assert ed.domains[0].dkim[0].key_type == "ed25519"


def test_dkim_accepts_the_whole_console_record() -> None:
    key = public_key_b64(2048)
    spec = read_stack(minimal(dkim=[{"selector": "s1", "publicKey": f"v=DKIM1; k=rsa; p={key}"}]))
    assert spec.domains[0].dkim[0].public_key == key


def test_duplicate_domains_and_selectors() -> None:
    key = public_key_b64(1024)
    config = minimal(dkim=[{"selector": "s1", "publicKey": key}] * 2)
    assert any("duplicate selector" in m for m in errors_of(config))
    config = minimal()
    config["hkmail:domains"].append(dict(config["hkmail:domains"][0]))
    [message] = errors_of(config)
    assert message.startswith("hkmail:domains[1].name: 'example.com.hk'") and "duplicate" in message


# ---------------------------------------------------------------------------------------------
# Property-based: any mutation of a valid config gives a valid spec or SpecErrors, never a
# traceback; and no valid spec is ever pinned outside Hong Kong.
# ---------------------------------------------------------------------------------------------

_ANY_VALUE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-10, 10**7),
    st.text(max_size=30),
    st.sampled_from(
        [
            "ap-hongkong",
            "cn-hongkong",
            "ap-guangzhou",
            "-all",
            "reject",
            "custom",
            "ed25519",
            "mx.example.net",
            "a@b.hk",
            "10.0.0.0/8",
            "2027-01-01",
        ]
    ),
    st.lists(st.text(max_size=10), max_size=3),
    st.dictionaries(
        st.sampled_from(["host", "priority", "mode", "rua"]), st.text(max_size=10), max_size=2
    ),
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


def _set(root: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    node = root
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return root


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), example=st.sampled_from(EXAMPLES))
def test_any_mutation_is_a_spec_or_a_clear_error(data: st.DataObject, example: str) -> None:
    config = copy.deepcopy(stack_config(example))
    for _ in range(data.draw(st.integers(1, 3))):
        paths = _paths(config)[1:]
        path = data.draw(st.sampled_from(paths))
        config = _set(config, path, data.draw(_ANY_VALUE))
    try:
        spec = read_stack(config)
    except SpecErrors as exc:
        assert exc.errors
        for error in exc.errors:
            assert error.field and error.allowed and "allowed:" in str(error)
        return
    for cloud in spec.clouds:
        assert spec.regions[cloud] == HK_REGION[cloud]
        assert config[f"{cloud}:region"] == HK_REGION[cloud]


def test_base64_helper_sanity() -> None:
    # The property test relies on valid keys surviving deep copies of the example stacks.
    key = stack_config("tencent-exmail")["hkmail:domains"][0]["dkim"][0]["publicKey"]
    assert len(base64.b64decode(key)) > 256


_LABELS = st.from_regex(r"[a-z][a-z0-9]{0,8}", fullmatch=True)


@st.composite
def valid_configs(draw: st.DrawFn) -> dict[str, Any]:
    """Stack configs valid by construction, over both clouds and every optional feature."""
    provider = draw(st.sampled_from(["dnspod", "alidns"]))
    config: dict[str, Any] = {"hkmail:dnsProvider": provider}
    config["tencentcloud:region" if provider == "dnspod" else "alicloud:region"] = (
        "ap-hongkong" if provider == "dnspod" else "cn-hongkong"
    )
    names = draw(st.lists(_LABELS, min_size=1, max_size=3, unique=True))
    domains = []
    for label in names:
        name = f"{label}.{draw(st.sampled_from(['hk', 'com.hk', 'org.hk']))}"
        suite = draw(st.sampled_from(["tencent-exmail", "alibaba-mail", "custom", "none"]))
        d: dict[str, Any] = {
            "name": name,
            "ttl": draw(st.integers(600, 86400)),
            "mail": {"suite": suite},
        }
        if suite == "custom":
            d["mail"]["mx"] = [
                {"host": f"mx{i}.{name}", "priority": i + 1} for i in range(draw(st.integers(1, 3)))
            ]
            # in-zone MX hosts need their addresses published
            d["hosts"] = {f"mx{i}": [f"203.0.113.{i + 1}"] for i in range(len(d["mail"]["mx"]))}
        if suite != "none":
            if draw(st.booleans()):
                d["dmarc"] = {
                    "policy": draw(st.sampled_from(["quarantine", "reject"])),
                    "rua": [f"dmarc@{name}"],
                }
            if draw(st.booleans()):
                d["mtaSts"] = {"mode": draw(st.sampled_from(["enforce", "testing"]))}
            if draw(st.booleans()):
                d["tlsRpt"] = {"rua": [f"tls@{name}"]}
            if suite != "custom" and draw(st.booleans()):
                d["autodiscovery"] = True
            sender = draw(st.sampled_from([None, "tencent-ses", "alibaba-directmail"]))
            if sender == "tencent-ses":
                d["sending"] = [{"service": sender, "domain": f"notify.{name}"}]
                config["tencentcloud:region"] = "ap-hongkong"
            elif sender:
                d["sending"] = [
                    {
                        "service": sender,
                        "domain": f"news.{name}",
                        "crossBorder": {
                            "destinationRegion": draw(
                                st.sampled_from(["cn-hangzhou", "ap-southeast-1"])
                            ),
                            "transferSafeguard": "pcpd-model-clauses-2022",
                            "exemption": "EX-2026-001",
                        },
                    }
                ]
        if draw(st.booleans()):
            d["caa"] = {"issue": ["letsencrypt.org"]}
        domains.append(d)
    config["hkmail:domains"] = domains
    return config


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(config=valid_configs())
def test_no_valid_spec_plans_a_resource_outside_hong_kong(config: dict[str, Any]) -> None:
    """Run the program itself on valid stacks: every provider it registers is in Hong Kong,
    except the one a DirectMail cross-border declaration names, for that resource only."""
    from program import run
    from tests.support import run_in_process

    spec = read_stack(config)
    declared = {
        s.cross_border.destination_region
        for d in spec.domains
        for s in d.senders
        if isinstance(s, DirectMailSender)
    }
    resources = run_in_process(lambda: run(config))
    providers = {r.urn: r for r in resources if r.type.startswith("pulumi:providers:")}
    cloud = [r for r in resources if r.custom and not r.type.startswith("pulumi:providers:")]
    assert cloud
    for r in cloud:
        region = providers[r.provider.rsplit("::", 1)[0]].inputs["region"]
        if r.type == "alicloud:directmail/domain:Domain":
            assert region in declared
        else:
            assert region in HK_REGION.values(), (r.type, r.name, region)
