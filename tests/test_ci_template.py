"""The CI template users copy (.github/workflows/) is safe to copy: zizmor, the GitHub Actions
security linter, finds nothing of medium severity or higher (unpinned actions, template injection,
persisted checkout credentials, secrets outside an approved environment, ...)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
WORKFLOWS = REPO / ".github" / "workflows"
ZIZMOR = Path(sys.executable).parent / "zizmor"  # pinned in requirements-dev.txt


def zizmor(target: Path) -> list[dict[str, Any]]:
    done = subprocess.run(
        [str(ZIZMOR), "--offline", "--format", "json", "--min-severity", "medium", str(target)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    # exit 0: no findings; 10-14: findings by highest severity; anything else is a failure to run
    assert done.returncode == 0 or 10 <= done.returncode <= 14, done.stderr
    findings: list[dict[str, Any]] = json.loads(done.stdout or "[]")
    return findings


def test_zizmor_finds_nothing_of_medium_severity_or_higher() -> None:
    findings = zizmor(WORKFLOWS)
    assert findings == [], [(f["ident"], f["determinations"]["severity"]) for f in findings]


def test_zizmor_does_flag_the_old_template_shape(tmp_path: Path) -> None:
    # the same checks on the shape the template had before (tag-pinned actions, a PR-derived
    # name expanded into run:, persisted credentials): the linter must see them
    bad = tmp_path / ".github" / "workflows"
    bad.mkdir(parents=True)
    (bad / "old.yml").write_text(
        "on: pull_request\n"
        "permissions:\n  contents: read\n"
        "jobs:\n  gate:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - uses: actions/checkout@v4\n"
        '      - run: scripts/gate --stack "${{ github.head_ref }}"\n'
    )
    idents = {f["ident"] for f in zizmor(bad)}
    assert {"unpinned-uses", "template-injection", "artipacked"} <= idents


def test_the_preview_job_never_gets_cloud_keys_on_a_pull_request() -> None:
    doc = yaml.safe_load((WORKFLOWS / "policy-gate.yml").read_text())
    preview = doc["jobs"]["preview"]
    assert "github.event_name != 'pull_request'" in preview["if"]
    assert preview["environment"] == "cloud-preview"
    gate = doc["jobs"]["gate"]
    text = yaml.safe_dump(gate)
    assert "secrets." not in text  # the gate runs the PR's code: it holds no secret
    assert "scripts/gate --all-stacks" in text  # one invocation for every stack
