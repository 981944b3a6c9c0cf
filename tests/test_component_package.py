"""The component package in-process: type tokens and aliases (no replaced resources for existing
stacks), one validator behind both front doors, and a library that knows nothing of the tools."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from hkmail.components.args import DmarcPolicy, DnsProvider, MailDomainArgs, MailSuite
from hkmail.errors import SpecErrors
from hkmail.spec import read_stack
from program import run
from tests.conftest import stack_config
from tests.support import REPO, Run, match_old_state, run_program

STACKS = sorted(p.stem for p in (REPO / "tests" / "urns").glob("*.txt"))
PROJECT = "hk-mail"


@pytest.mark.parametrize("stack", STACKS)
def test_every_old_urn_is_found_through_the_aliases(stack: str) -> None:
    # tests/urns/<stack>.txt: every URN the program registered for the example stack before the
    # components moved to hkmail:index:<Name> (scripts/plan --format json, taken from main).
    old = set((REPO / "tests" / "urns" / f"{stack}.txt").read_text().split())
    old = {u for u in old if "::pulumi:pulumi:Stack::" not in u}
    resources = run_program(lambda: run(stack_config(stack)), stack=stack).resources
    matched = match_old_state(resources, old, stack=stack, project=PROJECT)
    assert len(matched) == len(resources)
    # Every old resource is claimed by exactly one registered resource: nothing is deleted, so
    # nothing is replaced (resources added to the example stacks since are simply created) ...
    claimed = sorted(o for o in matched.values() if o)
    assert claimed == sorted(old)
    added = [n for n, o in matched.items() if o is None]
    assert not any("hkmail:" in n.split("::")[2].split("$")[-1] for n in added), added
    # ... and that is the aliases' doing: the components' own URNs did change.
    renamed = {n for n, o in matched.items() if o and n != o}
    assert renamed and all("hkmail:index:" in n for n in renamed)
    assert not any(re.search(r"hkmail:(mail|tencent|alicloud|private):", n) for n in matched)


def test_without_aliases_the_old_resources_would_be_replaced() -> None:
    # The check above is a real check: the same matcher finds nothing under the new tokens alone.
    stack = "tencent-exmail"
    old = set((REPO / "tests" / "urns" / f"{stack}.txt").read_text().split())
    resources = run_program(lambda: run(stack_config(stack)), stack=stack).resources
    bare = [dataclass_replace(r, aliases=()) for r in resources]
    matched = match_old_state(bare, old, stack=stack, project=PROJECT)
    created = {n.split("::")[2].split("$")[-1] for n, o in matched.items() if o is None}
    assert created >= {
        "hkmail:index:MailDomain",
        "tencentcloud:Dnspod/record:Record",
    }


def dataclass_replace(obj: Any, **changes: Any) -> Any:
    import dataclasses

    return dataclasses.replace(obj, **changes)


# ------------------------------------------------------------------------------------------------
# One validator, two front doors
# ------------------------------------------------------------------------------------------------

BASE_DOMAIN: dict[str, Any] = {
    "name": "harbour.example.hk",
    "mail": {"suite": "tencent-exmail"},
    "dmarc": {"policy": "reject", "rua": ["dmarc@harbour.example.hk"]},
}
BAD_VALUES = [
    ({"dmarc": {"policy": "strict"}}, "dmarc.policy"),
    ({"ttl": 100000}, "ttl"),
    (
        {"mail": {"suite": "custom", "mx": [{"host": "mx.harbour.example.hk", "priority": 0}]}},
        "mail.mx[0].priority",
    ),
    ({"spf": {"ip4": ["10.0.0.1/8"]}}, "spf.ip4[0]"),
    ({"mtaSts": {"mode": "enforce", "maxAge": 10}}, "mtaSts.maxAge"),
    ({"sending": [{"service": "alibaba-directmail"}]}, "sending[0].crossBorder"),
    ({"colour": "blue"}, "colour"),
]


def _snake(value: Any) -> Any:
    if isinstance(value, dict):
        return {re.sub(r"(?<!^)([A-Z])", r"_\1", k).lower(): _snake(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_snake(v) for v in value]
    return value


def _args_of(domain: dict[str, Any]) -> MailDomainArgs:
    """A stack's domain entry as MailDomain args, values as they are (as a consumer in another
    language sends them: enum values are their text on the wire)."""
    args: MailDomainArgs = {**_snake(domain), "dns_provider": DnsProvider.DNSPOD}
    return args


@pytest.mark.parametrize(("change", "field"), BAD_VALUES)
def test_component_and_stack_report_the_same_problem(change: dict[str, Any], field: str) -> None:
    domain = {**BASE_DOMAIN, **change}
    with pytest.raises(SpecErrors) as stack_err:
        read_stack(
            {
                "tencentcloud:region": "ap-hongkong",
                "hkmail:dnsProvider": "dnspod",
                "hkmail:domains": [domain],
            }
        )
    run_ = Run()
    from hkmail.components.domain import MailDomain

    with pytest.raises(SpecErrors) as comp_err:
        run_program(lambda: MailDomain("d", _args_of(domain)), run=run_)
    stack_errors = {e.field.removeprefix("hkmail:domains[0]."): e for e in stack_err.value.errors}
    comp_errors = {e.field.removeprefix("args."): e for e in comp_err.value.errors}
    assert field in comp_errors, comp_err.value
    assert stack_errors.keys() == comp_errors.keys()
    for key, e in comp_errors.items():
        assert (e.allowed, e.reason) == (stack_errors[key].allowed, stack_errors[key].reason)
    assert "hkmail:index:MailDomain harbour.example.hk has" in str(comp_err.value)
    assert run_.resources == []  # refused before anything was registered


def test_enum_inputs_are_the_readers_choices() -> None:
    # The schema's enums offer exactly what the stack reader accepts.
    from hkmail.presets import SUITES
    from hkmail.spec import DMARC_POLICIES

    assert [p.value for p in DmarcPolicy] == list(DMARC_POLICIES)
    assert {s.value for s in MailSuite} == set(SUITES)
    assert [d.value for d in DnsProvider] == ["dnspod", "alidns"]


def test_a_python_program_gets_the_same_zone_from_typed_args() -> None:
    # The program is one consumer: the component, given the same domain as typed args by
    # another Python program, registers the same children.
    from hkmail.components.domain import MailDomain

    config = stack_config("tencent-ses")
    via_program = run_program(lambda: run(config), stack="s").resources
    domain = config["hkmail:domains"][0]

    def program() -> None:
        import pulumi
        import tencentcloud_iac_pulumi as tencentcloud

        provider = tencentcloud.Provider("tencentcloud-hk", region="ap-hongkong")
        args = _args_of(domain)
        args["dns_plan"] = "professional"
        MailDomain(domain["name"], args, pulumi.ResourceOptions(providers=[provider]))

    direct = run_program(program, stack="s").resources
    assert sorted((r.urn, repr(r.inputs)) for r in direct) == sorted(
        (r.urn, repr(r.inputs)) for r in via_program
    )


# ------------------------------------------------------------------------------------------------
# The library knows nothing of the tools; the plugin's pins are the repo's
# ------------------------------------------------------------------------------------------------


def test_the_library_does_not_know_the_toolchain() -> None:
    library = REPO / "components" / "hkmail"
    offenders = [
        f"{p.relative_to(REPO)}: {needle}"
        for p in library.rglob("*.py")
        for needle in ("toolchain", "hk-mail offline", "SECRET_PLACEHOLDER")
        if needle in p.read_text()
    ]
    assert offenders == []


def test_the_plugin_requirements_pin_what_the_repo_locks() -> None:
    def pins(path: Path) -> dict[str, str]:
        out = {}
        for line in path.read_text().splitlines():
            line = line.split("#")[0].strip()
            if "==" in line:
                name, version = line.split("==")
                out[name.lower().replace("_", "-")] = version
        return out

    plugin = pins(REPO / "components" / "requirements.txt")
    lock = pins(REPO / "requirements.lock")
    assert plugin and {k: lock.get(k) for k in plugin} == plugin


def test_the_typed_args_mirror_the_stack_readers_keys() -> None:
    # The schema and the stack reader describe the same inputs: a key added to one shows here.
    from hkmail import spec
    from hkmail.components import args as a
    from hkmail.components.inputs import camel

    def keys(typ: Any) -> set[str]:
        return {camel(k) for k in typ.__annotations__}

    stack_level = {
        "dnsProvider",
        "dnsPlan",
        "privateServer",
        "dmarcReportSources",
        "migration",
        "dkimPrivateKey",
        "mailboxPasswordHashes",
        "relayPassword",
        "backupPassword",
        "notifyWebhooks",
    }
    assert keys(a.MailDomainArgs) - stack_level == set(spec._DOMAIN_KEYS)
    assert keys(a.PrivateServerArgs) | {"domain"} == set(spec._PRIVATE_KEYS)
    assert keys(a.CrossBorderArgs) == set(spec._DECLARATION_KEYS)
    assert keys(a.MailServerArgs) >= set(spec._PRIVATE_KEYS) - {"cloud"}
