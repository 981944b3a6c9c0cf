"""No silent downgrade: a policy config that sets a residency-* or secrets-* rule below mandatory
needs an approved record (policies/downgrades.yaml), else the pack's Configure and the gate refuse
it (exit 2, naming the rule); every headline counts what was lowered."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.policy_fixtures import PackClient, PackError
from tests.support import REPO
from toolchain.governance import hong_kong_today

sys.path.insert(0, str(REPO / "policies"))
from hkmail_policy import downgrades
from hkmail_policy.approvals import RecordError

TODAY = hong_kong_today()
APPROVERS = {"approvers": ["dpo@example.com"]}
STACK = "tencent-ses"  # passes the gate with the default config


def record(**over: Any) -> dict[str, Any]:
    base = {
        "id": "DG-2026-001",
        "rule": "residency-global-edge",
        "level": "disabled",
        "requester": "ops@example.com",
        "approver": "dpo@example.com",
        "approvedOn": (TODAY - timedelta(days=3)).isoformat(),
        "reason": "CDN for the public MTA-STS file only during the move; reviewed by the DPO.",
        "reference": "SEC-2001",
        "expires": (TODAY + timedelta(days=30)).isoformat(),
    }
    base.update(over)
    return base


def write(tmp: Path, records: list[dict[str, Any]]) -> Path:
    path = tmp / "downgrades.yaml"
    path.write_text(yaml.safe_dump({"downgrades": records}))
    (tmp / "approvers.yaml").write_text(yaml.safe_dump(APPROVERS))
    return path


def test_judge_needs_a_record_for_the_level(tmp_path: Path) -> None:
    recs = downgrades.load(write(tmp_path, [record(level="advisory")]), TODAY)
    defaults = {"residency-global-edge": "mandatory", "durability-protect-data": "mandatory"}
    ok, low = downgrades.judge({"residency-global-edge": "advisory"}, defaults, recs, TODAY, "c")
    assert ok == [] and low[0].record == "DG-2026-001"
    problems, _ = downgrades.judge(
        {"residency-global-edge": "disabled"}, defaults, recs, TODAY, "c.json"
    )
    assert problems[0].startswith(
        "c.json: residency-global-edge: enforcementLevel 'disabled' lowers a mandatory residency "
        "rule and no downgrade record allows it; allowed: 'mandatory', or an approved record"
    )
    # a rule outside residency-*/secrets-* is lowered without a record, but still counted
    ok, low = downgrades.judge({"durability-protect-data": "advisory"}, defaults, (), TODAY, "c")
    assert ok == [] and [(x.rule, x.level, x.record) for x in low] == [
        ("durability-protect-data", "advisory", "")
    ]
    later = TODAY + timedelta(days=31)
    problems, _ = downgrades.judge(
        {"residency-global-edge": "advisory"}, defaults, recs, later, "c"
    )
    assert "DG-2026-001 expired on" in problems[0]


@pytest.mark.parametrize(
    ("over", "needle"),
    [
        ({"rule": "durability-protect-data"}, "rule: 'durability-protect-data' is not a residency"),
        ({"level": "mandatory"}, "level: 'mandatory' is not a lower level"),
        ({"approver": "ops+dpo@example.com"}, "approver: ops+dpo@example.com is the requester"),
        ({"approvedOn": None}, "approvedOn: None is not a date"),
    ],
)
def test_bad_records_are_named(tmp_path: Path, over: dict[str, Any], needle: str) -> None:
    with pytest.raises(RecordError) as err:
        downgrades.load(write(tmp_path, [record(**over)]), TODAY)
    assert "downgrades[0] (DG-2026-001)" in str(err.value) and needle in str(err.value)


def test_the_pack_refuses_a_lowered_residency_rule_without_a_record() -> None:
    client = PackClient()  # the repo's pack: no downgrades file
    try:
        with pytest.raises(PackError) as err:
            client.configure({"residency-provider-region": {"enforcementLevel": "advisory"}})
        assert "residency-provider-region: enforcementLevel 'advisory' lowers a mandatory" in str(
            err.value
        )
        client.configure({"durability-protect-data": {"enforcementLevel": "advisory"}})
    finally:
        client.close()


def gate(config: Path, *args: str, env: dict[str, str] | None = None):
    return subprocess.run(
        [str(REPO / "scripts" / "gate"), "--stack", STACK, "--policy-config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, **(env or {})},
    )


def test_the_gate_refuses_then_counts_an_approved_downgrade(tmp_path: Path) -> None:
    config = tmp_path / "policy-config.json"
    config.write_text(json.dumps({"residency-global-edge": "disabled"}))
    out = gate(config)
    assert out.returncode == 2 and out.stdout == ""
    assert "residency-global-edge: enforcementLevel 'disabled' lowers a mandatory" in out.stderr
    assert "Traceback" not in out.stderr
    path = write(tmp_path, [record()])
    env = {
        "HKMAIL_DOWNGRADES_FILE": str(path),
        "HKMAIL_APPROVERS_FILE": str(tmp_path / "approvers.yaml"),
    }
    md, sarif, junit = tmp_path / "gate.md", tmp_path / "gate.sarif", tmp_path / "gate.xml"
    out = gate(
        config,
        "--pass-env", "HKMAIL_DOWNGRADES_FILE",
        "--report", f"markdown={md}",
        "--report", f"sarif={sarif}",
        "--report", f"junit={junit}",
        "--report", "text=-",
        env=env,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    headline = (
        "PASS: no mandatory violation; 1 rule disabled by policy-config.json "
        "(residency-global-edge disabled under DG-2026-001)"
    )
    assert headline in out.stdout
    assert headline in md.read_text()
    # SARIF: the run's configuration notification and its verdict; JUnit: the suite's properties
    run = json.loads(sarif.read_text())["runs"][0]
    assert run["properties"]["verdict"] == headline
    [note] = run["invocations"][0]["toolConfigurationNotifications"]
    assert note["descriptor"]["id"] == "residency-global-edge" and note["level"] == "warning"
    assert "disabled (default mandatory)" in note["message"]["text"]
    assert "DG-2026-001" in note["message"]["text"]
    props = {p.get("name"): p.get("value") for p in ET.parse(junit).getroot().iter("property")}
    assert props["hkmail.verdict"] == headline
    assert "DG-2026-001" in props["hkmail.lowered.residency-global-edge"]
