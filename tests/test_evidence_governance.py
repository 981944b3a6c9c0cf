"""What a reviewer files with the evidence report: the rules the config lowered, the whole
exemption register, what the run could not see, the CI run and actor, and a detached signature
that verifies (with the toolchain and with openssl) and fails once the report is changed."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.support import REPO, require_tool

STACK = "alibaba-directmail"
CI_ENV = {
    "GITHUB_ACTIONS": "true",
    "GITHUB_SERVER_URL": "https://github.com",
    "GITHUB_REPOSITORY": "acme/hk-mail",
    "GITHUB_RUN_ID": "4242",
    "GITHUB_RUN_ATTEMPT": "1",
    "GITHUB_WORKFLOW": "policy-gate",
    "GITHUB_EVENT_NAME": "push",
    "GITHUB_ACTOR": "alice-ops",
    "GITHUB_SHA": "0123abcd",
    "GITHUB_REF": "refs/heads/main",
}


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    tmp = tmp_path_factory.mktemp("evidence")
    key = ec.generate_private_key(ec.SECP256R1())  # a throw-away test key
    (tmp / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    (tmp / "key.pub").write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    config = tmp / "policy-config.json"
    config.write_text(json.dumps({"durability-protect-data": "advisory"}))
    env = {k: v for k, v in os.environ.items() if k != "PULUMI_BACKEND_URL"} | CI_ENV
    out = tmp / "out"
    proc = subprocess.run(
        [str(REPO / "scripts" / "report"), "--stack", STACK, "--output-dir", str(out),
         "--policy-config", str(config), "--sign-key", str(tmp / "key.pem")],
        capture_output=True, text=True, timeout=600, env=env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    md = (out / f"report-hk-mail-{STACK}.md").read_text(encoding="utf-8")
    return tmp, out, md


def _rows(md: str, title: str) -> list[list[str]]:
    section = md.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]
    return [
        [c.strip() for c in line.strip().strip("|").split("|")]
        for line in section.splitlines()
        if line.startswith("| ") and "---" not in line
    ][1:]


def test_headline_and_lowered_rules(made: tuple[Path, Path, str]) -> None:
    _, _, md = made
    assert "; 1 rule lowered by policy-config.json (durability-protect-data advisory)" in md
    [row] = _rows(md, "Rules run below their default level")
    assert row[:3] == ["durability-protect-data", "mandatory", "advisory"]


def test_exemption_register_is_complete(made: tuple[Path, Path, str]) -> None:
    _, _, md = made
    rows = _rows(md, "Exemption register")
    committed = (REPO / "policies" / "exemptions.yaml").read_text()
    assert len(rows) == committed.count("\n  - id: EX-")  # every entry, not only this stack's
    [row] = [r for r in rows if r[0] == "EX-2026-001"]
    assert row[3:7] == [
        "marketing-ops@kowloonbazaar.hk",
        "dpo@kowloonbazaar.hk",
        "2026-07-01",
        "2027-06-30",
    ]
    assert row[2].startswith("stack alibaba-directmail; types alicloud:directmail/domain:Domain")
    assert row[8].startswith("DPA-2026-07") and row[10] == "used"


def test_limitations_come_from_the_run(made: tuple[Path, Path, str]) -> None:
    _, _, md = made
    rows = _rows(md, "What this run could not see")
    assert any("judged from the plan under mocks" in r[2] for r in rows)
    assert any("not located" in r[2] for r in rows)


def test_ci_run_and_actor_in_provenance(made: tuple[Path, Path, str]) -> None:
    _, _, md = made
    rows = {r[0]: r[1] for r in _rows(md, "Provenance")}
    assert rows["CI run"].startswith("https://github.com/acme/hk-mail/actions/runs/4242")
    assert rows["CI actor"] == "alice-ops"


def test_signature_verifies_and_fails_when_changed(made: tuple[Path, Path, str]) -> None:
    tmp, out, _ = made
    openssl = require_tool("openssl", "openssl")
    for name in (f"report-hk-mail-{STACK}.md", f"report-hk-mail-{STACK}.html"):
        signed = out / name
        ok = subprocess.run(
            [sys.executable, "-m", "toolchain.signature", "verify", "--key",
             str(tmp / "key.pub"), str(signed)],
            capture_output=True, text=True, cwd=REPO,
        )  # fmt: skip
        assert ok.returncode == 0 and "signature OK" in ok.stdout, ok.stderr
        der = tmp / f"{name}.der"
        der.write_bytes(base64.b64decode((out / f"{name}.sig").read_text()))
        independent = subprocess.run(
            [openssl, "dgst", "-sha256", "-verify", str(tmp / "key.pub"), "-signature",
             str(der), str(signed)],
            capture_output=True, text=True,
        )  # fmt: skip
        assert independent.returncode == 0 and "Verified OK" in independent.stdout
    changed = tmp / "changed.md"
    changed.write_text((out / f"report-hk-mail-{STACK}.md").read_text().replace("PASS", "FAIL"))
    bad = subprocess.run(
        [sys.executable, "-m", "toolchain.signature", "verify", "--key", str(tmp / "key.pub"),
         "--signature", str(out / f"report-hk-mail-{STACK}.md.sig"), str(changed)],
        capture_output=True, text=True, cwd=REPO,
    )  # fmt: skip
    assert bad.returncode == 1 and "SIGNATURE DOES NOT MATCH" in bad.stdout


def test_a_bad_signing_key_is_exit_2_before_anything_is_written(tmp_path: Path) -> None:
    (tmp_path / "key.pem").write_text("not a key")
    proc = subprocess.run(
        [str(REPO / "scripts" / "report"), "--stack", "tencent-ses", "--output-dir",
         str(tmp_path / "out"), "--sign-key", str(tmp_path / "key.pem")],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 2 and "--sign-key" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
