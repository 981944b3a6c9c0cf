"""`scripts/plan` without --gate lists the stack's mail-data flows (the pack's own flow functions on
the planned records, no pack process): where each goes, and whether it is Hong Kong, attested,
declared by an exemption, or what the gate would say of it. Run the way a user runs it."""

from __future__ import annotations

import copy
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import stack_config
from tests.support import REPO


def plan(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(REPO / "scripts" / "plan"), *args],
        capture_output=True, text=True, timeout=600,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip


def flows(*args: str) -> list[dict[str, Any]]:
    out = plan(*args, "--format", "json")
    assert out.returncode == 0, out.stderr[-3000:]
    listed: list[dict[str, Any]] = json.loads(out.stdout)["mailFlows"]
    return listed


def test_the_text_plan_lists_each_flow_with_its_attestation_and_the_actions() -> None:
    out = plan("--stack", "tencent-exmail")
    assert out.returncode == 0, out.stderr[-3000:]
    text = out.stdout.split("\nMail data flows (where the mail itself goes):\n", 1)[1]
    assert "--gate gives the verdict" in text
    assert "via MX harbourtrading.com.hk -> mxbiz1.qq.com; attested (attestation ATT-2026-001)" in (
        " ".join(text.split())
    )
    assert "EXAMPLE, replace with your own evidence" in text
    assert "Action needed (mail data flows):" in text
    assert max(len(line) for line in out.stdout.splitlines()) <= 100


def test_each_status_hong_kong_attested_exempted_and_what_the_gate_would_block(
    tmp_path: Path,
) -> None:
    private = flows("--stack", "private-tencent")
    assert private and all(f["status"] == "Hong Kong" and not f["blocking"] for f in private)
    relay = [f for f in private if f["rule"] == "residency-mail-relay"]
    assert [f["destination"] for f in relay] == ["Tencent SES (smtp.qcloudmail.com) (Hong Kong)"]
    alibaba = {f["via"]: f for f in flows("--stack", "alibaba-mail")}
    mx = alibaba["MX pedderlaw.com.hk -> mx1.qiye.aliyun.com"]
    assert mx["declared_by"] == "exemption EX-2026-002"
    assert mx["status"].startswith("declared cross-border by exemption EX-2026-002 until ")
    # the Exmail stack under another name: its attestation is scoped to stack tencent-exmail
    (tmp_path / "stacks").mkdir()
    project = yaml.safe_load((REPO / "Pulumi.yaml").read_text())
    project["main"] = str(REPO)
    project["runtime"]["options"]["virtualenv"] = str(REPO / ".venv")
    (tmp_path / "Pulumi.yaml").write_text(yaml.safe_dump(project))
    cfg = copy.deepcopy(stack_config("tencent-exmail"))
    cfg.pop("hkmail:mailFlows")
    (tmp_path / "stacks" / "Pulumi.kowloon.yaml").write_text(yaml.safe_dump({"config": cfg}))
    out = plan("--project", str(tmp_path), "--stack", "kowloon")
    assert out.returncode == 0, out.stderr[-3000:]  # a plan lists; only the gate gives a verdict
    text = " ".join(out.stdout.split())
    assert "-> mxbiz1.qq.com; not Hong Kong or not published, and not declared: the gate would " \
        "BLOCK it" in text  # fmt: skip
    assert "Attest or declare: mailboxes of harbourtrading.com.hk" in text
    assert "ATT-2026-001" not in text


def test_a_pack_without_the_flow_table_lists_the_blueprints_own_flows(tmp_path: Path) -> None:
    from toolchain import planflows
    from toolchain.governance import DEFAULT_PACK

    older = tmp_path / "hkmail_policy" / "rules"
    older.mkdir(parents=True)
    (older / "mailflows.py").write_text("RULES = ()\n")  # a base branch's pack from before
    assert planflows._pack_dir(tmp_path) == DEFAULT_PACK
    assert planflows._pack_dir(tmp_path / "elsewhere") == DEFAULT_PACK
    assert planflows._pack_dir(DEFAULT_PACK) == DEFAULT_PACK
