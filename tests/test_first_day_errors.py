"""Mistakes a new user makes in a stack file, each answered by one clear error under the config
path to edit, before any resource is registered."""

from __future__ import annotations

import copy
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from hkmail.errors import SpecErrors
from hkmail.spec import read_stack
from tests.conftest import stack_config
from tests.support import REPO

ED25519 = (
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBmV0n3rJ7xq9y2k3n4m5p6q7r8s9t0u1v2w3x4y5z6A ops@x.hk"
)


def errors(cfg: dict[str, Any]) -> list[str]:
    with pytest.raises(SpecErrors) as caught:
        read_stack(cfg)
    return [str(e) for e in caught.value.errors]


def test_an_unknown_suite_is_one_error_without_follow_ons() -> None:
    cfg = copy.deepcopy(stack_config("alibaba-mail"))
    cfg["hkmail:domains"][0]["mail"]["suite"] = "alibaba"
    assert errors(cfg) == [
        "hkmail:domains[0].mail.suite: 'alibaba' is not valid; allowed: tencent-exmail | "
        "alibaba-mail | alibaba-mail-hk | custom | private | none"
    ]


def test_a_custom_suite_with_a_bad_mx_entry_is_one_error() -> None:
    cfg = copy.deepcopy(stack_config("alibaba-mail"))
    cfg["hkmail:domains"][0]["mail"] = {"suite": "custom", "mx": [{"host": "mx..x", "priority": 5}]}
    found = errors(cfg)
    assert len(found) == 1 and found[0].startswith("hkmail:domains[0].mail.mx[0]"), found


def test_a_mailbox_user_is_a_local_part() -> None:
    cfg = copy.deepcopy(stack_config("private-tencent"))
    cfg["hkmail:privateServer"]["users"] = ["ops@example.hk", "compliance"]
    assert errors(cfg) == [
        "hkmail:privateServer.users[0]: 'ops@example.hk' is not valid (give the part before the "
        "@ only: 'ops'); allowed: a mailbox local part: letters, digits and . _ - inside "
        "(e.g. ops)"
    ]


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("ssh-dss AAAAB3NzaC1kc3MAAACBAP" + "A" * 80, "DSA (ssh-dss) keys are disabled"),
        ("ssh-ed25519 short", "not a complete key line"),
        ("pgp-sign AAAA" + "A" * 80, "key type 'pgp-sign' is not accepted"),
    ],
)
def test_ssh_key_checked_with_the_stack_under_its_config_path(key: str, reason: str) -> None:
    cfg = copy.deepcopy(stack_config("private-tencent"))
    cfg["hkmail:privateServer"]["sshPublicKey"] = key
    [error] = errors(cfg)
    assert error.startswith("hkmail:privateServer.sshPublicKey: ") and reason in error
    assert "one OpenSSH public key line: ssh-ed25519, ecdsa-sha2-nistp256/384/521" in error


def test_an_accepted_ssh_key_reads() -> None:
    cfg = copy.deepcopy(stack_config("private-tencent"))
    cfg["hkmail:privateServer"]["sshPublicKey"] = ED25519
    spec = read_stack(cfg)
    assert spec.private_server is not None and spec.private_server.ssh_public_key == ED25519


def _project(tmp_path: Path, stack_text: bytes) -> Path:
    project = tmp_path / "project"
    (project / "stacks").mkdir(parents=True)
    doc = yaml.safe_load((REPO / "Pulumi.yaml").read_text())
    doc["main"] = str(REPO)
    doc["runtime"]["options"]["virtualenv"] = str(REPO / ".venv")
    (project / "Pulumi.yaml").write_text(yaml.safe_dump(doc))
    (project / "stacks" / "Pulumi.s.yaml").write_bytes(stack_text)
    return project


def _plan(project: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(REPO / "scripts" / "plan"), "--project", str(project), "--stack", "s"],
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_ssh_dss_stops_the_plan_before_any_resource(tmp_path: Path) -> None:
    text = (REPO / "stacks" / "Pulumi.private-tencent.yaml").read_text(encoding="utf-8")
    dss = "      sshPublicKey: ssh-dss AAAAB3NzaC1kc3MAAACBAP" + "A" * 80 + "\n"
    text = text.replace("  hkmail:privateServer:\n", "  hkmail:privateServer:\n" + dss)
    out = _plan(_project(tmp_path, text.encode()))
    assert out.returncode == 2 and out.stdout == ""
    assert "hkmail:privateServer.sshPublicKey: 'ssh-dss" in out.stderr
    assert "deploy.py" not in out.stderr and "Traceback" not in out.stderr


def test_a_stack_file_that_is_not_utf8_names_line_and_byte(tmp_path: Path) -> None:
    text = (REPO / "stacks" / "Pulumi.tencent-exmail.yaml").read_bytes()
    lines = text.split(b"\n")
    lines[2] = lines[2] + " 香港".encode("big5")  # a comment saved in Big5 by an old editor
    out = _plan(_project(tmp_path, b"\n".join(lines)))
    assert out.returncode == 2 and "Traceback" not in out.stderr
    column = len(lines[2]) - len(" 香港".encode("big5")) + 2
    offset = len(b"\n".join(lines[:2])) + 1 + column - 1
    assert (
        f"must be UTF-8 text: byte 0x{'香'.encode('big5')[0]:02x} at line 3, column {column} "
        f"(byte offset {offset}) is not UTF-8"
    ) in out.stderr
    assert "save the file as UTF-8" in out.stderr


@pytest.mark.parametrize(
    ("stack", "key", "value", "owner"),
    [
        ("private-tencent", "retentionDays", 2555, "alicloud"),
        ("private-tencent", "retentionLocked", True, "alicloud"),
        ("private-alicloud", "appId", "1250000000", "tencentcloud"),
    ],
)
def test_the_other_clouds_fields_are_refused(stack: str, key: str, value: Any, owner: str) -> None:
    cfg = copy.deepcopy(stack_config(stack))
    cfg["hkmail:privateServer"][key] = value
    [error] = errors(cfg)
    assert error.startswith(f"hkmail:privateServer.{key}: ") and f"({owner} only)" in error


def test_a_server_component_refuses_the_other_clouds_field() -> None:
    import pulumi
    import pulumi_alicloud as alicloud

    from hkmail.components.private_alicloud import AlicloudMailServer
    from tests.support import Run, private_args, run_program

    def program() -> None:
        provider = alicloud.Provider("ali-hk", region="cn-hongkong")
        AlicloudMailServer(
            "mx",
            private_args("alicloud", app_id="1250000000"),  # type: ignore[arg-type]
            pulumi.ResourceOptions(providers=[provider]),
        )

    run = Run([], [])
    with pytest.raises(SpecErrors, match=r"args\.appId: '1250000000' is not valid .*tencentcloud"):
        run_program(program, run=run)
    assert [r.type for r in run.resources if not r.type.startswith("pulumi:providers:")] == []
