"""The offline engine on small fixture projects (tests/projects/): registrations and failures."""

from __future__ import annotations

from pathlib import Path

import pytest

from toolchain.engine.model import (
    UNKNOWN,
    DefaultProviderDisabledError,
    Plan,
    ProgramError,
    ProjectError,
    Secret,
)
from toolchain.engine.project import SECRET_PLACEHOLDER, load_project, load_stack_config
from toolchain.engine.run import ProgramRun, default_provider_name, into_qname, run_program

PROJECTS = Path(__file__).resolve().parent / "projects"
UNKNOWN_ID = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


@pytest.fixture(scope="module")
def explicit() -> Plan:
    return run_program(PROJECTS / "tc_explicit", "hk")


@pytest.fixture(scope="module")
def default() -> Plan:
    return run_program(PROJECTS / "tc_default", "dev")


def test_urns_and_parents_follow_the_engine(explicit: Plan) -> None:
    stack_urn = "urn:pulumi:hk::tc-explicit::pulumi:pulumi:Stack::tc-explicit-hk"
    urns = [r.urn for r in explicit.resources]
    assert urns == [
        stack_urn,
        "urn:pulumi:hk::tc-explicit::pulumi:providers:tencentcloud::hk",
        "urn:pulumi:hk::tc-explicit::hkmail:test:MailDomain::example",
        "urn:pulumi:hk::tc-explicit::hkmail:test:MailDomain$tencentcloud:Dnspod/record:Record::example-mx",
        "urn:pulumi:hk::tc-explicit::hkmail:test:MailDomain$tencentcloud:Dnspod/record:Record::example-dkim",
        "urn:pulumi:hk::tc-explicit::hkmail:test:MailDomain$tencentcloud:Dnspod/record:Record::example-note",
    ]
    stack, provider, component, mx, _, _ = explicit.resources
    assert stack.parent is None and not stack.custom
    assert provider.parent == stack_urn and provider.custom and provider.provider is None
    assert component.parent == stack_urn and not component.custom
    assert mx.parent == component.urn


def test_provider_inherited_from_component_providers(explicit: Plan) -> None:
    provider_urn = "urn:pulumi:hk::tc-explicit::pulumi:providers:tencentcloud::hk"
    component = explicit.by_urn("urn:pulumi:hk::tc-explicit::hkmail:test:MailDomain::example")
    assert component is not None
    assert component.providers == {"tencentcloud": f"{provider_urn}::{UNKNOWN_ID}"}
    for record in explicit.of_type("tencentcloud:Dnspod/record:Record"):
        # in preview a new provider's id is unknown, so the reference carries the unknown id
        assert record.provider == f"{provider_urn}::{UNKNOWN_ID}"
        assert explicit.region_of(record) == "ap-hongkong"
    provider = explicit.by_urn(provider_urn)
    assert provider is not None
    # the engine records the plugin version (and download URL) among a provider's inputs
    assert provider.inputs["region"] == "ap-hongkong"
    assert provider.inputs["version"] == "0.2.3"
    assert provider.inputs["pluginDownloadURL"] == "github://api.github.com/tencentcloudstack"


def test_inputs_config_secrets_and_unknowns(explicit: Plan) -> None:
    records = {r.name: r for r in explicit.of_type("tencentcloud:Dnspod/record:Record")}
    mx = records["example-mx"]
    assert mx.inputs == {
        "domain": "example.hk",
        "subDomain": "@",
        "recordType": "MX",
        "recordLine": "默认",
        "value": "mxbiz1.qq.com.",
        "mx": 5,
        "ttl": 600,  # the project-level config default from Pulumi.yaml
    }
    dkim = records["example-dkim"].inputs["value"]
    assert isinstance(dkim, Secret)
    assert repr(dkim) == str(dkim) == "[secret]"
    assert dkim.reveal() == SECRET_PLACEHOLDER
    note = records["example-note"]
    assert note.inputs["value"] is UNKNOWN  # built from an id: unknown during preview
    assert note.inputs["remark"] == "mxbiz1.qq.com."  # preview echoes the checked inputs
    assert note.dependencies == (mx.urn,)
    assert note.property_dependencies["value"] == (mx.urn,)
    assert note.property_dependencies["domain"] == ()


def test_options_are_captured(explicit: Plan) -> None:
    records = {r.name: r for r in explicit.of_type("tencentcloud:Dnspod/record:Record")}
    assert records["example-dkim"].options.protect is True
    assert records["example-dkim"].options.ignore_changes == ("remark",)
    assert records["example-mx"].options.protect is False
    assert records["example-note"].options.custom_timeouts.create == 300.0
    assert records["example-note"].options.delete_before_replace is None


def test_stack_and_component_outputs(explicit: Plan) -> None:
    assert explicit.outputs["domain"] == "example.hk"
    assert explicit.outputs["team"] == "mail"  # structured config arrives JSON-encoded
    assert isinstance(explicit.outputs["dkim"], Secret)
    component = explicit.of_type("hkmail:test:MailDomain")[0]
    assert component.outputs == {"mx_value": "mxbiz1.qq.com."}


def test_default_provider_is_synthesized_from_stack_config(default: Plan) -> None:
    name = "default_0_2_3_github_/api.github.com/tencentcloudstack"
    provider_urn = f"urn:pulumi:dev::tc-default::pulumi:providers:tencentcloud::{name}"
    provider = default.resources[1]
    assert provider.urn == provider_urn and provider.synthetic and provider.parent is None
    assert provider.inputs["region"] == "ap-hongkong"
    assert isinstance(provider.inputs["secret_key"], Secret)
    assert provider.inputs["version"] == "0.2.3"
    records = default.of_type("tencentcloud:Dnspod/record:Record")
    assert [r.name for r in records] == ["spf", "dmarc"]
    # one default provider per package and version, shared by every resource using it
    assert len(default.of_type("pulumi:providers:tencentcloud")) == 1
    assert all(r.provider == f"{provider_urn}::{UNKNOWN_ID}" for r in records)
    assert default.region_of(records[0]) == "ap-hongkong"


def test_default_provider_names() -> None:
    assert default_provider_name("") == "default"
    assert default_provider_name("4.0.0") == "default_4_0_0"
    assert default_provider_name("1.2.3-alpha.1+build.7") == "default_1_2_3_alpha_1_build_7"
    assert into_qname("github://api.github.com/x-y") == "github_/api.github.com/x_y"


def test_disabled_default_provider_fails_like_the_engine() -> None:
    with pytest.raises(DefaultProviderDisabledError) as info:
        run_program(PROJECTS / "tc_denied", "dev")
    urn = "urn:pulumi:dev::tc-denied::tencentcloud:Dnspod/record:Record::mx"
    assert str(info.value) == (
        f"Default provider for 'tencentcloud' disabled. '{urn}' must use an explicit provider."
    )


def test_resources_stream_before_the_program_ends() -> None:
    with ProgramRun(PROJECTS / "tc_explicit", "hk") as run:
        stream = run.resources()
        first = next(stream)
        assert first.type == "pulumi:pulumi:Stack"
        with pytest.raises(RuntimeError):
            _ = run.plan  # not finished yet
        rest = list(stream)
    assert len(rest) == 5 and len(run.plan) == 6


def test_program_exception_carries_location_and_traceback() -> None:
    with pytest.raises(ProgramError) as info:
        run_program(PROJECTS / "raises", "dev")
    err = info.value
    assert "ZeroDivisionError" in str(err)
    assert err.where == f"{PROJECTS / 'raises' / 'helper.py'}:2"
    assert "helper.build(3)" in err.traceback_tail


def test_run_error_message_is_verbatim() -> None:
    with pytest.raises(ProgramError) as info:
        run_program(PROJECTS / "run_error", "dev")
    assert str(info.value) == "region: 'ap-guangzhou' is not valid; allowed: ap-hongkong"
    assert info.value.traceback_tail == ""


def test_program_that_prints_its_error_and_exits() -> None:
    with pytest.raises(ProgramError) as info:
        run_program(PROJECTS / "run_error", "exit")
    assert str(info.value) == (
        "error: domains[0].name: 'bad..name' is not valid; allowed: a DNS name"
    )


def test_hanging_program_times_out(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.yaml").write_text("name: hangs\nruntime: python\n")
    (tmp_path / "Pulumi.dev.yaml").write_text("config: {}\n")
    (tmp_path / "__main__.py").write_text("import time\ntime.sleep(60)\n")
    with pytest.raises(ProgramError, match="did not finish within 1 seconds"):
        run_program(tmp_path, "dev", timeout=1)


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({}, "Pulumi project file not found"),
        ({"Pulumi.yaml": "name: [x\n"}, "is not valid YAML"),
        ({"Pulumi.yaml": "runtime: python\n"}, "has no 'name'"),
        ({"Pulumi.yaml": "name: p\nruntime: nodejs\n"}, "only Python programs"),
        ({"Pulumi.yaml": "name: p\nruntime: python\n"}, "no __main__.py"),
        (
            {"Pulumi.yaml": "name: p\nruntime: python\n", "__main__.py": ""},
            "stack config file not found",
        ),
        (
            {
                "Pulumi.yaml": "name: p\nruntime: python\n",
                "__main__.py": "",
                "Pulumi.dev.yaml": "config: [1, 2]\n",
            },
            "'config' must be a mapping",
        ),
    ],
)
def test_project_errors_name_the_file(tmp_path: Path, files: dict[str, str], message: str) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    with pytest.raises(ProjectError, match=message) as info:
        run_program(tmp_path, "dev")
    assert str(tmp_path) in info.value.where


def test_stack_config_like_the_cli(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.yaml").write_text(
        "name: proj\nruntime:\n  name: python\n  options:\n    virtualenv: venv\n"
        "stackConfigDir: cfg\nconfig:\n  size: {type: integer, default: 3}\n"
        "  aws:region: {value: us-east-1}\n"
    )
    (tmp_path / "__main__.py").write_text("")
    (tmp_path / "cfg").mkdir()
    (tmp_path / "cfg" / "Pulumi.prod.yaml").write_text(
        "config:\n  size: 5\n  when: 2026-01-01\n  flag: true\n  word: yes\n"
        "  proj:list: [b, a]\n  pw:\n    secure: v1:abc\n  other:obj: {k: {secure: x}}\n"
    )
    project = load_project(tmp_path)
    assert project.virtualenv == tmp_path / "venv"
    config = load_stack_config(project, "org/proj/prod")
    assert config.values == {
        "proj:size": "5",
        "aws:region": "us-east-1",
        # yaml.v3 decodes the date as a time.Time; the CLI's config.Value hands the program its
        # Go String() form (workspace/loaders.go re-marshals, config/object.go unmarshalObject)
        "proj:when": "2026-01-01 00:00:00 +0000 UTC",
        "proj:flag": "true",
        "proj:word": "yes",
        "proj:list": '["b","a"]',
        "proj:pw": SECRET_PLACEHOLDER,
        "other:obj": '{"k":"' + SECRET_PLACEHOLDER + '"}',
    }
    assert config.secret_keys == {"proj:pw", "other:obj"}
    env = config.env()
    assert env["PULUMI_STACK"] == "prod" and env["PULUMI_PROJECT"] == "proj"
    assert env["PULUMI_DRY_RUN"] == "true"
    assert config.package_config("aws") == {"region": "us-east-1"}


def test_main_may_name_a_file_and_logs_come_through(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.yaml").write_text("name: filemain\nruntime: python\nmain: app.py\n")
    (tmp_path / "Pulumi.dev.yaml").write_text("config:\n  tencentcloud:region: ap-hongkong\n")
    (tmp_path / "app.py").write_text(
        "import pulumi\n"
        "import tencentcloud_iac_pulumi as tc\n"
        "pulumi.log.warn('about to plan')\n"
        "tc.dnspod.Record('a', domain='x.hk', sub_domain='@', record_type='A',\n"
        "                 record_line='默认', value='203.0.113.1')\n"
    )
    plan = run_program(tmp_path, "dev")
    assert [r.name for r in plan.resources][-1] == "a"
    assert [(d.severity, d.message) for d in plan.diagnostics] == [("warning", "about to plan")]


def test_logged_error_fails_the_run(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.yaml").write_text("name: logs\nruntime: python\n")
    (tmp_path / "Pulumi.dev.yaml").write_text("config: {}\n")
    (tmp_path / "__main__.py").write_text("import pulumi\npulumi.log.error('quota check failed')\n")
    with pytest.raises(ProgramError, match="quota check failed"):
        run_program(tmp_path, "dev")


def test_esc_environments_are_flagged(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.yaml").write_text("name: esc\nruntime: python\n")
    (tmp_path / "Pulumi.dev.yaml").write_text("environment:\n  - myorg/prod\nconfig: {}\n")
    (tmp_path / "__main__.py").write_text("")
    (warning,) = run_program(tmp_path, "dev").diagnostics
    assert warning.severity == "warning" and "cannot be opened offline" in warning.message


def test_update_mode_has_deterministic_ids() -> None:
    # not what the gate uses (it previews), but programs can be run as `pulumi up` would see them
    first = run_program(PROJECTS / "tc_explicit", "hk", preview=False)
    again = run_program(PROJECTS / "tc_explicit", "hk", preview=False)
    records = {r.name: r for r in first.of_type("tencentcloud:Dnspod/record:Record")}
    mx_id = records["example-mx"].id
    assert mx_id and [r.id for r in first] == [r.id for r in again]
    assert records["example-note"].inputs["value"] == f"mx-id={mx_id}"  # applies ran
    provider = first.by_urn("urn:pulumi:hk::tc-explicit::pulumi:providers:tencentcloud::hk")
    assert (
        provider is not None and records["example-mx"].provider == f"{provider.urn}::{provider.id}"
    )


def test_the_runner_does_not_lend_the_program_its_import_path() -> None:
    # the runner is imported from this repository; a program elsewhere must not see it
    with pytest.raises(ProgramError, match="No module named 'toolchain'"):
        run_program(PROJECTS / "imports_repo", "dev")
