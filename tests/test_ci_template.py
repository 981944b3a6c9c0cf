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
    assert "--all-stacks" in text  # one invocation for every stack


def _workflow() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((WORKFLOWS / "policy-gate.yml").read_text())
    return doc


def _runs(job: dict[str, Any]) -> str:
    return "\n".join(str(step.get("run", "")) for step in job["steps"])


def test_the_gate_judges_a_pull_request_with_the_base_branch_copies() -> None:
    gate = _workflow()["jobs"]["gate"]
    base = [s for s in gate["steps"] if (s.get("with") or {}).get("path") == "base"]
    assert len(base) == 1 and "pull_request.base.sha" in base[0]["with"]["ref"]
    runs = _runs(gate)
    # the gate's code, the pack, its exemptions/approvers/downgrades: all the base branch's
    assert "base/scripts/gate --project . --policy-pack base/policies --all-stacks" in runs
    assert "scripts/gate --all-stacks" not in runs.replace("base/scripts/gate", "")
    # and it says so when the change edits them
    for path in ("policies", "scripts/gate", "toolchain/gate", ".github"):
        assert path in runs
    assert "judged by the base branch's" in runs
    assert "check-reviews" in runs and "--file policies/exemptions.yaml" in runs


def test_codeowners_example_covers_what_judges() -> None:
    text = (REPO / ".github" / "CODEOWNERS.example").read_text()
    owned = {line.split()[0] for line in text.splitlines() if line.strip() and line[0] != "#"}
    for path in (
        "/policies/",
        "/policies/exemptions.yaml",
        "/policies/approvers.yaml",
        "/scripts/gate",
        "/toolchain/gate/",
        "/.github/",
    ):
        assert path in owned, path
    assert "Require review from Code Owners" in text and "required status check" in text


def test_preview_logs_in_to_the_hong_kong_backend_with_a_pinned_cli() -> None:
    text = (WORKFLOWS / "policy-gate.yml").read_text()
    assert "PULUMI_ACCESS_TOKEN" not in text  # no Pulumi Cloud (state outside Hong Kong)
    preview = _workflow()["jobs"]["preview"]
    runs = _runs(preview)
    assert 'pulumi login "$HKMAIL_BACKEND_URL"' in runs
    assert "s3.oss-cn-hongkong.aliyuncs.com" in runs and "cos.ap-hongkong.myqcloud.com" in runs
    cli = next(s for s in preview["steps"] if "pulumi/actions@" in str(s.get("uses")))
    pinned = next(
        line.split("==")[1]
        for line in (REPO / "requirements.txt").read_text().splitlines()
        if line.startswith("pulumi==")
    )
    assert cli["with"]["pulumi-version"] == pinned


def test_reports_are_kept_and_signed_outside_the_job_that_runs_pr_code() -> None:
    jobs = _workflow()["jobs"]
    uploads = [
        s for job in jobs.values() for s in job["steps"] if "upload-artifact@" in str(s.get("uses"))
    ]
    assert uploads and all(s["with"].get("retention-days") for s in uploads)
    attest = jobs["attest"]
    assert attest["permissions"] == {"id-token": "write"}
    assert "pull_request" in attest["if"] and attest["needs"] == "gate"
    assert not any("checkout@" in str(s.get("uses")) for s in attest["steps"])  # no PR code
    assert "sigstore sign --bundle" in _runs(attest)
    assert "id-token" not in str(jobs["gate"]["permissions"])
