"""`scripts/exemption` (new, status, check-reviews) against the real gate and pack."""

from __future__ import annotations

import shutil
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support import REPO, pack_with
from toolchain.governance import hong_kong_today

STACK = "alibaba-directmail"
TODAY = hong_kong_today()  # exemption dates are Hong Kong calendar days


def tool(*args: str, pack: Path | None = None) -> subprocess.CompletedProcess[str]:
    extra = ["--policy-pack", str(pack)] if pack else []
    return subprocess.run(
        [str(REPO / "scripts" / "exemption"), *extra, *args],
        capture_output=True,
        text=True,
        timeout=600,
    )


def gate(pack: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(REPO / "scripts" / "gate"), "--stack", STACK, "--policy-pack", str(pack), *args],
        capture_output=True,
        text=True,
        timeout=600,
    )


def fill(entry: dict[str, Any]) -> dict[str, Any]:
    return {
        **entry,
        "requester": "marketing-ops@kowloonbazaar.hk",
        "approver": "dpo@kowloonbazaar.hk",
        "approvedOn": (TODAY - timedelta(days=1)).isoformat(),
        "reason": "Marketing mail through DirectMail in Singapore, approved by the DPO.",
        "reference": "DPA-2026-07",
        "expires": (TODAY + timedelta(days=90)).isoformat(),
    }


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    pack = pack_with(tmp_path_factory.mktemp("new"), [])
    out = tool("new", "--stack", STACK, pack=pack)
    assert out.returncode == 0, out.stderr
    return pack, out.stdout


def test_new_prints_entries_scoped_to_the_stack(written: tuple[Path, str]) -> None:
    _, text = written
    entries = yaml.safe_load(text)
    assert {e["resources"]["stack"] for e in entries} == {STACK}
    assert {t for e in entries for t in e["resources"]["types"]} >= {
        "alicloud:directmail/domain:Domain",  # sent from Singapore: residency-provider-region
        "alicloud:dns/alidnsRecord:AlidnsRecord",  # MX/SPF of the China site: residency-mail-*
    }
    assert "one of: dpo@kowloonbazaar.hk, ciso@kowloonbazaar.hk" in text
    ids = [e["id"] for e in entries]
    assert ids == [f"EX-{TODAY.year}-{i:03d}" for i in range(1, len(ids) + 1)]


def test_the_placeholders_do_not_validate(written: tuple[Path, str]) -> None:
    pack, text = written
    pack_with(pack.parent, yaml.safe_load(text))
    out = gate(pack)
    assert out.returncode == 2
    assert "exemptions[0] (EX-" in out.stderr and "is not an e-mail address" in out.stderr


def test_completed_entries_let_the_gate_pass_and_status_reports_use(
    written: tuple[Path, str],
) -> None:
    pack, text = written
    entries = [fill(e) for e in yaml.safe_load(text)]
    unused = fill(
        {
            "id": "EX-2026-900",
            "rule": "residency-global-edge",
            "resources": {"stack": STACK, "types": ["alicloud:cdn/*"]},
        }
    )
    expiring = fill({**entries[1], "id": "EX-2026-901"})
    expiring["expires"] = (TODAY + timedelta(days=3)).isoformat()
    pack_with(pack.parent, [*entries, unused, expiring])
    out = gate(pack, "--format", "json")
    assert out.returncode == 0, out.stdout + out.stderr
    status = tool("status", "--stack", STACK, pack=pack)
    assert status.returncode == 1, status.stderr  # something unused
    lines = {line.split()[0]: line for line in status.stdout.splitlines()}
    assert "UNUSED" in lines["EX-2026-900"]
    assert "UNUSED" not in lines[entries[0]["id"]]
    assert "expires in 3 days" in lines["EX-2026-901"]


def test_status_lists_expired_entries(tmp_path: Path) -> None:
    old = fill({"id": "EX-2025-001", "rule": "residency-global-edge"})
    old["resources"] = {"stack": STACK, "types": ["alicloud:cdn/*"]}
    old["approvedOn"] = (TODAY - timedelta(days=200)).isoformat()
    old["expires"] = (TODAY - timedelta(days=2)).isoformat()
    out = tool("status", pack=pack_with(tmp_path, [old]))
    assert out.returncode == 1
    assert f"EXPIRED on {old['expires']}" in out.stdout


def test_check_reviews_wants_the_approvers_review(tmp_path: Path) -> None:
    entry = fill({"id": "EX-2026-001", "rule": "residency-global-edge"})
    entry["resources"] = {"stack": STACK, "types": ["alicloud:cdn/*"]}
    pack = pack_with(tmp_path, [entry])
    base = tmp_path / "base.yaml"
    base.write_text("exemptions: []\n")
    out = tool("check-reviews", "--base", str(base), "--approved-by", "someone", pack=pack)
    assert out.returncode == 1
    assert "approver dpo@kowloonbazaar.hk (kowloonbazaar-dpo) has not approved" in out.stderr
    ok = tool("check-reviews", "--base", str(base), "--approved-by", "kowloonbazaar-dpo", pack=pack)
    assert ok.returncode == 0, ok.stderr
    shutil.copy(pack / "exemptions.yaml", base)  # unchanged entries need no new review
    same = tool("check-reviews", "--base", str(base), "--approved-by", "", pack=pack)
    assert same.returncode == 0 and "0 added or changed" in same.stdout
