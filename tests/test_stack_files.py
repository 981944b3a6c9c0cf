"""Stack files read as the Pulumi CLI reads them (yaml.v3 through the CLI's config loader), then
validated by the program: driven through scripts/plan on stack files, as a user runs it."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import REPO
from toolchain.engine.project import load_project, load_stack_config, resolve_plain

BASE = """\
config:
  tencentcloud:region: ap-hongkong
  hkmail:dnsProvider: dnspod
  hkmail:dnsPlan: free
  hkmail:domains:
    - name: example.com.hk
      mail:
        suite: tencent-exmail
"""


def make_project(tmp_path: Path, stack_text: str, stack: str = "t") -> Path:
    """A copy of this repo's project (Pulumi.yaml, program, exemptions) with one stack file."""
    root = tmp_path / "proj"
    (root / "stacks").mkdir(parents=True)
    for name in ("__main__.py", "program.py"):
        shutil.copy(REPO / name, root / name)
    # the environment this test runs in stands for the one `pulumi up` builds (test_environment)
    project = (REPO / "Pulumi.yaml").read_text()
    (root / "Pulumi.yaml").write_text(
        project.replace("virtualenv: .venv", f"virtualenv: {sys.prefix}")
    )
    (root / "policies").mkdir()
    for name in ("exemptions.yaml", "approvers.yaml"):
        shutil.copy(REPO / "policies" / name, root / "policies" / name)
    # the pack's record validation, which the program uses for cross-border exemption ids
    (root / "policies" / "hkmail_policy").symlink_to(REPO / "policies" / "hkmail_policy")
    (root / "stacks" / f"Pulumi.{stack}.yaml").write_text(stack_text, encoding="utf-8")
    return root


def plan(root: Path, *args: str, stack: str = "t") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(REPO / "scripts" / "plan"), "--project", str(root), "--stack", stack, *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )


def errors_of(out: subprocess.CompletedProcess[str]) -> list[str]:
    assert out.returncode == 2, out.stdout + out.stderr
    assert "Traceback" not in out.stderr
    lines = [line.strip()[2:] for line in out.stderr.splitlines() if line.strip().startswith("- ")]
    return [re.sub(r" \(at /[^)]*\)$", "", line) for line in lines]


def test_base_stack_plans(tmp_path: Path) -> None:
    out = plan(make_project(tmp_path, BASE))
    assert out.returncode == 0, out.stderr


def test_duplicate_key_is_an_error_naming_both_lines(tmp_path: Path) -> None:
    text = BASE.replace("  hkmail:dnsPlan: free\n", "  hkmail:dnsPlan: free\n  hkmail:dnsPlan: x\n")
    out = plan(make_project(tmp_path, text))
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert 'line 5: mapping key "hkmail:dnsPlan" already defined at line 4' in out.stderr


def test_duplicate_key_inside_a_domain(tmp_path: Path) -> None:
    text = BASE + "      ttl: 600\n      ttl: 900\n"
    out = plan(make_project(tmp_path, text))
    assert out.returncode == 2
    assert 'mapping key "ttl" already defined at line 9' in out.stderr


def test_sexagesimal_reaches_the_program_as_text(tmp_path: Path) -> None:
    # YAML 1.1 (PyYAML) reads 10:00 as 600, a valid TTL; the CLI hands the program "10:00"
    out = plan(make_project(tmp_path, BASE + "      ttl: 10:00\n"))
    assert errors_of(out) == [
        "hkmail:domains[0].ttl: '10:00' is not valid; allowed: an integer from 1 to 86400"
    ]


def test_leading_zero_is_octal_as_in_the_cli_and_warned(tmp_path: Path) -> None:
    # yaml.v3 (resolve.go) still decodes 0777-style octals: the CLI hands the program 8 for 010
    out = plan(make_project(tmp_path, BASE + "      ttl: 0400000\n"))
    assert errors_of(out) == [
        "hkmail:domains[0].ttl: 131072 is not valid; allowed: an integer from 1 to 86400"
    ]
    assert "0400000 has a leading zero, so the Pulumi CLI reads it as the octal number 131072" in (
        out.stderr
    )


@pytest.mark.parametrize("word", ["yes", "no", "on", "off"])
def test_yes_no_on_off_are_strings(tmp_path: Path, word: str) -> None:
    text = BASE + f"      spf:\n        include: [spf.mail.qq.com]\n        a: {word}\n"
    out = plan(make_project(tmp_path, text))
    assert errors_of(out) == [
        f"hkmail:domains[0].spf.a: '{word}' is not valid; allowed: true | false"
    ]


def test_unquoted_date_reaches_the_program_in_go_form_and_is_accepted(tmp_path: Path) -> None:
    text = BASE + "      dmarc:\n        policy: none\n        rampUntil: 2027-01-31\n"
    root = make_project(tmp_path, text)
    config = load_stack_config(load_project(root), "t")
    domains = json.loads(config.values["hkmail:domains"])
    assert domains[0]["dmarc"]["rampUntil"] == "2027-01-31 00:00:00 +0000 UTC"
    out = plan(root, "--format", "json")
    assert out.returncode == 0, out.stderr
    assert "p=none" in out.stdout and "dmarc-ramp-until=2027-01-31" in out.stdout


@pytest.mark.parametrize(
    ("key", "namespace"), [("dnsProvider", "hk-mail"), ("hk-mail:dnsProvider", "hk-mail")]
)
def test_key_outside_the_hkmail_namespace_is_named(
    tmp_path: Path, key: str, namespace: str
) -> None:
    text = BASE.replace("hkmail:dnsProvider: dnspod", f"{key}: dnspod")
    errors = errors_of(plan(make_project(tmp_path, text)))
    assert len(errors) == 1, errors
    assert errors[0].startswith(f"{namespace}:dnsProvider: 'dnspod' is not valid (hk-mail reads")
    assert "pulumi config set hkmail:dnsProvider" in errors[0]


def test_file_without_config_section(tmp_path: Path) -> None:
    text = "".join(line[2:] + "\n" for line in BASE.splitlines()[1:])  # keys at the top level
    out = plan(make_project(tmp_path, text))
    errors = errors_of(out)
    assert len(errors) == 1 and "has no `config:` section" in errors[0], errors
    assert "has no 'config:' section" in out.stderr
    assert (
        "hkmail:domains, tencentcloud:region must be indented under a top-level 'config:' key"
        in out.stderr
    )


def test_empty_stack_file(tmp_path: Path) -> None:
    errors = errors_of(plan(make_project(tmp_path, "# nothing yet\n")))
    assert len(errors) == 1 and "no hkmail:* configuration" in errors[0]


def test_old_config_module_key_form(tmp_path: Path) -> None:
    text = BASE.replace("hkmail:dnsPlan: free", "hkmail:config:dnsPlan: free")
    out = plan(make_project(tmp_path, text))
    assert out.returncode == 0, out.stderr


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("010", 8),
        ("08", 8.0),
        ("0x1F", 31),
        ("1_000", 1000),
        ("10:00", "10:00"),
        ("yes", "yes"),
        ("True", True),
        ("~", None),
        ("1e3", 1000.0),
        ("+.5", 0.5),
        ("2027-3-1T00:00:00", "2027-3-1T00:00:00"),  # a T timestamp needs a zone in yaml.v3
    ],
)
def test_scalar_resolution_table(text: str, value: object) -> None:
    assert resolve_plain(text) == value


def test_an_exemption_of_another_stack_is_named_in_the_plan(tmp_path: Path) -> None:
    # the example stack copied under another name: its exemption is approved for the example only
    text = (REPO / "stacks" / "Pulumi.alibaba-directmail.yaml").read_text()
    [error] = errors_of(plan(make_project(tmp_path, text, stack="copy"), stack="copy"))
    assert error.startswith(
        "hkmail:domains[0].sending[0].crossBorder.exemption: 'EX-2026-001' is not valid "
        "(EX-2026-001 covers stack 'alibaba-directmail' only"
    )
    assert "scripts/exemption new --stack copy" in error
