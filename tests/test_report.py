"""scripts/report run the way a reviewer runs it (from the plan and from --state), and its HTML
opened in Debian's chromium, headless: it renders, with the key text and the data-flow SVG; the
screenshot is kept in the test's tmp dir and in artifacts/report-screenshots/ (git-ignored)."""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest
import yaml

from tests.support import require_tool
from tests.svg_support import measure_labels
from toolchain import report_archive
from toolchain.engine.model import PlannedResource

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "artifacts" / "report-screenshots"


def report(out: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    env = {k: v for k, v in os.environ.items() if k != "PULUMI_BACKEND_URL"}
    proc = subprocess.run(
        [str(REPO / "scripts" / "report"), "--output-dir", str(out), *args],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    return proc, out


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("reports")
    for stack in ("private-alicloud", "alibaba-directmail"):
        proc, _ = report(out, "--stack", stack)
        assert proc.returncode == 0, proc.stderr
        assert f"report-hk-mail-{stack}.html" in proc.stdout
    return out


def test_private_stack_evidence(reports: Path) -> None:
    md = (reports / "report-hk-mail-private-alicloud.md").read_text(encoding="utf-8")
    assert md.startswith("# Compliance evidence: hk-mail / private-alicloud")
    # the verdict line (this example stack passes when main is green)
    assert re.search(
        r"^\*\*(PASS: no mandatory violation|FAIL: \d+ mandatory violations?) ", md, re.M
    )
    # the mailbox disk: where, key, protection
    disk = next(line for line in md.splitlines() if "ECS disk (mailboxes)" in line)
    assert "| cn-hongkong-c |" in disk and "Key 'mail.wanchaifunds.com.hk-cmk'" in disk
    assert "protect, retainOnDelete" in disk
    assert "snapshots kept 30 days" in disk  # through the snapshot-policy attachment
    assert not [line for line in md.splitlines() if "KMS secret" in line and "snapshots" in line]
    archive = next(line for line in md.splitlines() if "-archive'" in line)
    assert "versioning" in archive and "public access blocked" in archive
    # the example's policy is not locked: shown as what it gives, not as "WORM" protection
    assert "WORM 2555 days, unlocked: lapses after 24 h unless locked" in archive
    assert "retentionPeriod 180" in md  # the audit log store
    # verdicts name their controls, and the control table states them from the pack
    assert "| residency-provider-region | mandatory | pass | PDPO-DPP4" in md
    assert "| PDPO-s65(2) |" in md
    # state, secrets, guardrail, mail authentication
    assert "| State | not declared" in md
    assert "alicloud-ram-deploy.json | fits the documented grammar" in md
    assert "ecs:RunInstances on cn-hangzhou: denied" in md
    for mech in ("SPF", "DKIM", "DMARC", "MTA-STS"):
        assert f"| wanchaifunds.com.hk | {mech} | planned |" in md  # from a plan: not deployed
    assert "published" not in md.split("## Mail authentication", 1)[1]
    assert "None." in md.split("## Cross-border transfers", 1)[1].split("## ", 1)[0]


def test_declared_transfer_with_exemption_and_expiry(reports: Path) -> None:
    md = (reports / "report-hk-mail-alibaba-directmail.md").read_text(encoding="utf-8")
    row = next(
        line for line in md.splitlines() if "DirectMailDomain 'news.kowloonbazaar.hk'" in line
    )
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[1] == "Singapore (ap-southeast-1)"
    assert cells[2].startswith("PCPD Recommended Model Contractual Clauses")
    assert cells[3].startswith("EX-2026-001 (DPA-2026-07")
    assert cells[4] == "2027-06-30"
    assert cells[5].startswith("exempt")
    assert "never been brought into operation" in md  # no invented "legal basis"
    assert "mailboxes are held by the hosted suite (MX mx1.qiye.aliyun.com" in md


def test_report_from_a_stack_export(tmp_path: Path) -> None:
    proc, out = report(
        tmp_path,
        "--state",
        str(REPO / "tests" / "states" / "nc-region.json"),
        "--policy-pack",
        str(REPO / "tests" / "packs" / "residency"),
    )
    assert proc.returncode == 0, proc.stderr
    md = (out / "report-hk-mail-prod.md").read_text(encoding="utf-8")
    assert "from the deployed state (pulumi stack export)" in md
    assert "**FAIL: 2 mandatory violations" in md
    blocked = [line for line in md.splitlines() if "| ap-guangzhou |" in line]
    assert blocked and all("BLOCKED" in line for line in blocked)
    assert "| Secrets | passphrase" in md and "| Hong Kong |" in md
    assert "| State file (pulumi stack export) | sha256:" in md


def test_records_from_a_stack_export_are_deployed_not_planned(tmp_path: Path) -> None:
    import copy
    import json

    doc = json.loads((REPO / "tests" / "states" / "nc-region.json").read_text())
    resources = doc["deployment"]["resources"]
    mx = next(r for r in resources if (r.get("inputs") or {}).get("recordType") == "MX")
    spf = copy.deepcopy(mx)
    spf["urn"] = mx["urn"].rsplit("::", 1)[0] + "::spf"
    spf["id"] = "spf-1"
    for props in (spf["inputs"], spf["outputs"]):
        props.update(recordType="TXT", value="v=spf1 -all")
        props.pop("mx", None)
    resources.append(spf)
    state = tmp_path / "state.json"
    state.write_text(json.dumps(doc))
    proc, out = report(
        tmp_path / "out",
        "--state",
        str(state),
        "--policy-pack",
        str(REPO / "tests" / "packs" / "residency"),
    )
    assert proc.returncode == 0, proc.stderr
    md = (out / "report-hk-mail-prod.md").read_text(encoding="utf-8")
    mail = md.split("## Mail authentication", 1)[1].split("## ", 1)[0]
    assert "| example.hk | SPF | deployed | v=spf1 -all |" in mail
    assert "planned" not in mail.split("|", 1)[1]


def test_provenance_ties_the_evidence_to_its_inputs(reports: Path) -> None:
    import hashlib

    md = (reports / "report-hk-mail-private-alicloud.md").read_text(encoding="utf-8")
    rows = dict(
        re.findall(r"^\| (Git commit|Stack file|Exemptions file|Policy pack|Generated) \| (.*) \|$",
                   md.split("## Provenance", 1)[1], re.M)
    )  # fmt: skip
    assert re.fullmatch(r"[0-9a-f]{40} (\(clean\)|with uncommitted changes \(\d+ files\))",
                        rows["Git commit"]), rows["Git commit"]  # fmt: skip
    stack = REPO / "stacks" / "Pulumi.private-alicloud.yaml"
    digest = hashlib.sha256(stack.read_bytes()).hexdigest()
    assert rows["Stack file"] == f"sha256:{digest} (Pulumi.private-alicloud.yaml)"
    exemptions = hashlib.sha256((REPO / "policies" / "exemptions.yaml").read_bytes()).hexdigest()
    assert rows["Exemptions file"] == f"sha256:{exemptions} (exemptions.yaml)"
    assert re.fullmatch(r"hk-mail-residency \S+", rows["Policy pack"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", rows["Generated"])


def test_a_locked_retention_policy_is_shown_as_locked(tmp_path: Path) -> None:
    import yaml

    project = tmp_path / "project"
    (project / "stacks").mkdir(parents=True)
    doc = yaml.safe_load((REPO / "Pulumi.yaml").read_text())
    doc["main"] = str(REPO)
    doc["runtime"]["options"]["virtualenv"] = str(REPO / ".venv")
    (project / "Pulumi.yaml").write_text(yaml.safe_dump(doc))
    text = (REPO / "stacks" / "Pulumi.private-alicloud.yaml").read_text(encoding="utf-8")
    assert "retentionLocked: false" in text
    (project / "stacks" / "Pulumi.locked.yaml").write_text(
        text.replace("retentionLocked: false", "retentionLocked: true"), encoding="utf-8"
    )
    proc, out = report(tmp_path / "out", "--project", str(project), "--stack", "locked")
    assert proc.returncode == 0, proc.stderr
    md = (out / "report-hk-mail-locked.md").read_text(encoding="utf-8")
    archive = next(line for line in md.splitlines() if "-archive'" in line)
    assert "WORM 2555 days, locked (irreversible" in archive and "lapses" not in archive
    assert f"| Git commit | not a git checkout ({project}) |" in md


def _archive_rows(md: str) -> dict[str, str]:
    """What -> Configuration of the Journal and backups table (one server)."""
    section = md.split("## Journal and backups", 1)[1].split("\n## ", 1)[0]
    cells = [line.split(" | ") for line in section.splitlines() if line.startswith("| ")]
    return {c[1]: c[2].rstrip(" |") for c in cells[1:]}


def test_journal_and_backups_are_shown_as_configured_health_not_observed(reports: Path) -> None:
    md = (reports / "report-hk-mail-private-alicloud.md").read_text(encoding="utf-8")
    rows = _archive_rows(md)
    bucket = "wanchaifunds-com-hk-mail-archive"
    assert rows["Journal"].startswith("on: ") and f"{bucket}/journal/" in rows["Journal"]
    assert rows["Journal bucket"] == f"{bucket} in cn-hongkong, versioned"
    assert rows["Journal retention"] == "WORM 2555 days, unlocked: lapses after 24 h unless locked"
    assert rows["Journal health"].startswith("not observed by a plan (give --archive-health")
    assert rows["Journal spool"].startswith("not observed by a plan (give --archive-health")
    assert rows["Restore drill"].startswith("not observed by a plan (give --archive-health")
    # Under WORM the backup has a bucket of its own (the WORM would refuse restic's deletes).
    assert f"to {bucket}-backup/backup/" in rows["Backup"]
    assert rows["Backup bucket"] == f"{bucket}-backup in cn-hongkong, versioned"
    assert "OnCalendar=*-*-* 02:30:00 Asia/Hong_Kong" in rows["Backup"]
    assert rows["Backup retention"] == (
        "restic forget --prune keeps 14 daily, 12 monthly, 8 weekly snapshots"
    )
    assert (
        "'hkmail-wanchaifunds-com-hk-backup' in the cloud's Hong Kong secret store"
        in (rows["Backup password"])
    )
    assert rows["Backup health"].startswith("not observed by a plan")
    hosted = (reports / "report-hk-mail-alibaba-directmail.md").read_text(encoding="utf-8")
    assert "No private mail server in this stack" in hosted


def test_journal_health_from_the_archive_health_file(tmp_path: Path) -> None:
    health = tmp_path / "health.json"
    health.write_text(
        '{"bucket": "centralclinic-hk-mail-archive-1250000000", "newestObject": '
        '"journal/2026/12/07/m1.eml", "newestReceivedAt": "2026-12-07T09:30:00+00:00", '
        '"messagesPerDay": {"2026-12-07": 4, "2026-12-06": 0}, "backup": {"bucket": '
        '"centralclinic-hk-mail-archive-1250000000", "snapshots": 3, '
        '"newestSnapshotAt": "2026-12-07T02:41:10+00:00"}, '
        '"checkedAt": "2026-12-07T10:00:00+00:00", '
        '"spool": {"host": "mail.centralclinic.hk", "at": "2026-12-07T09:55:00+00:00", '
        '"spoolDepth": 2, "oldestSpooled": "2026-12-07T09:43:00+00:00", "failingSince": null, '
        '"stale": false, "sha256Matches": true, "object": "status/journal-spool/x.json"}, '
        '"drill": {"at": "2026-11-30T08:00:00+00:00", "verdict": "PASS", "restoredMessages": 41, '
        '"snapshot": {"id": "5d1e2f3a", "time": "2026-11-30T02:31:00+00:00"}, '
        '"mailbox": "ceo@centralclinic.hk", "operator": "ops@laptop", "sha256Matches": true, '
        '"scope": ["INBOX", "Sent"], "problemCount": 0, "changedSinceSnapshot": 2, '
        '"newerThanSnapshot": 5, "object": "drills/2026/11/30/d.json", "alarms": []}}'
    )
    proc, out = report(
        tmp_path / "out", "--stack", "private-tencent", "--archive-health", str(health)
    )
    assert proc.returncode == 0, proc.stderr
    rows = _archive_rows((out / "report-hk-mail-private-tencent.md").read_text(encoding="utf-8"))
    assert rows["Journal health"].startswith(
        "newest journaled message received 2026-12-07T09:30:00+00:00 "
        "(journal/2026/12/07/m1.eml); messages per day: 2026-12-07 4, 2026-12-06 0 — from "
        "health.json sha256:"
    ), rows
    assert rows["Journal retention"] == (
        "no object lock (tencentcloud-iac-pulumi has no COS object-lock resource); a bucket "
        "policy denies DeleteObject and DeleteMultipleObjects on journal/* to everyone"
    )
    assert rows["Backup health"].startswith(
        "newest restic snapshot written 2026-12-07T02:41:10+00:00 (3 snapshots in the bucket) "
        "— from health.json sha256:"
    ), rows
    assert rows["Journal spool"].startswith(
        "spool: 2 messages waiting (oldest 12 min) as of 2026-12-07T09:55:00+00:00 from "
        "mail.centralclinic.hk — from health.json sha256:"
    ), rows
    assert rows["Restore drill"].startswith(
        "last restore drill: 2026-11-30T08:00:00+00:00, PASS, 41 messages of mailbox "
        "ceo@centralclinic.hk (a sample: folder(s) INBOX, Sent) restored from snapshot 5d1e2f3a "
        "of 2026-11-30T02:31:00+00:00 and compared with the live mailbox over IMAP (not with "
        "the journal): 0 problem(s), 2 changed since the snapshot, 5 newer than it; run by "
        "ops@laptop (drills/2026/11/30/d.json) — from health.json sha256:"
    ), rows
    # With the backup's rows: a drill proves the backup, not the journal.
    md = (out / "report-hk-mail-private-tencent.md").read_text(encoding="utf-8")
    assert md.index("| Restore drill |") > md.index("| Backup health |"), md


def test_a_stale_spool_and_no_drill_are_said_plainly(tmp_path: Path) -> None:
    health = tmp_path / "health.json"
    health.write_text(
        '{"bucket": "centralclinic-hk-mail-archive-1250000000", "newestObject": null, '
        '"newestReceivedAt": null, "messagesPerDay": {}, "checkedAt": "2026-12-07T10:00:00+00:00",'
        ' "spool": {"host": "mail.centralclinic.hk", "at": "2026-12-06T09:55:00+00:00", '
        '"spoolDepth": 0, "oldestSpooled": null, "stale": true, "alarms": ["the journal spool '
        'status is stale: published 2026-12-06T09:55:00+00:00"]}, "drill": null}'
    )
    proc, out = report(
        tmp_path / "out", "--stack", "private-tencent", "--archive-health", str(health)
    )
    assert proc.returncode == 0, proc.stderr
    rows = _archive_rows((out / "report-hk-mail-private-tencent.md").read_text(encoding="utf-8"))
    assert rows["Journal spool"].startswith(
        "STALE, the spool now is not observed: the newest status is from "
        "2026-12-06T09:55:00+00:00, older than the check's limit at 2026-12-07T10:00:00+00:00"
    ), rows
    assert (
        "; ALARM at the check: the journal spool status is stale: published 2026-12-06"
        in (rows["Journal spool"])
    ), rows
    assert rows["Restore drill"].startswith(
        "last restore drill: none on record in centralclinic-hk-mail-archive-1250000000/drills/"
    ), rows
    html = (out / "report-hk-mail-private-tencent.html").read_text(encoding="utf-8")
    assert "last restore drill: none on record" in html and "STALE, the spool now" in html


def test_the_drill_row_is_shown_with_the_backup_when_the_journal_is_off(tmp_path: Path) -> None:
    """A server with the nightly backup and no journal: the drill checks the backup, so its row
    is there, read against the bucket the backup writes to."""
    user_data = "#cloud-config\n" + yaml.safe_dump(
        {"write_files": [
            {"path": "/etc/postfix/main.cf", "content": "myhostname = mail.example.hk\n"},
            {"path": report_archive.BACKUP_SETTINGS,
             "content": json.dumps({"bucket": "ex-archive", "prefix": "backup/"})},
        ]}
    )  # fmt: skip
    server = PlannedResource(
        urn="urn:pulumi:s::p::tencentcloud:Instance/instance:Instance::mail",
        type="tencentcloud:Instance/instance:Instance",
        name="mail",
        custom=True,
        parent=None,
        provider=None,
        inputs={"userDataRaw": user_data},
    )
    facts = report_archive.ArchiveFacts(
        [server], lambda r: r.inputs, lambda r: "ap-hongkong", lambda r: []
    )
    health = tmp_path / "health.json"
    health.write_text(
        '{"bucket": "ex-archive", "newestObject": null, "newestReceivedAt": null, '
        '"messagesPerDay": {}, "drill": null}'
    )
    rows = {what: text for _, what, text in report_archive.rows(
        facts, report_archive.load_health(health))}  # fmt: skip
    assert rows["Journal"].startswith("off: "), rows
    assert rows["Restore drill"].startswith(
        "last restore drill: none on record in ex-archive/drills/"
    ), rows


def test_a_bucket_with_no_valid_status_or_drill_is_not_trusted(tmp_path: Path) -> None:
    """Only invalid objects under the prefixes: the check's ALARM lines, never a record."""
    health = tmp_path / "health.json"
    health.write_text(
        '{"bucket": "centralclinic-hk-mail-archive-1250000000", "newestObject": null, '
        '"newestReceivedAt": null, "messagesPerDay": {}, "checkedAt": "2026-12-07T10:00:00+00:00",'
        ' "spool": {"object": null, "valid": false, "alarms": ["b/status/journal-spool/x.json is '
        'not a valid hk-mail journal spool status: not JSON"]}, "drill": {"object": null, '
        '"valid": false, "alarms": ["b/drills/y.json is not a valid hk-mail restore drill: '
        'field(s) verdict missing or of the wrong type"]}}'
    )
    proc, out = report(
        tmp_path / "out", "--stack", "private-tencent", "--archive-health", str(health)
    )
    assert proc.returncode == 0, proc.stderr
    rows = _archive_rows((out / "report-hk-mail-private-tencent.md").read_text(encoding="utf-8"))
    assert rows["Journal spool"].startswith(
        "NOT TRUSTED: no valid spool status in centralclinic-hk-mail-archive-1250000000; ALARM "
        "at the check: b/status/journal-spool/x.json is not a valid hk-mail journal spool status"
    ), rows
    assert rows["Restore drill"].startswith(
        "NOT TRUSTED: no valid drill record in centralclinic-hk-mail-archive-1250000000; ALARM"
    ), rows


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "is not JSON"),
        ('{"bucket": "b"}', "is not valid; allowed: the JSON that `scripts/archive health`"),
        (None, "cannot be read"),
        (
            '{"bucket": "b", "newestObject": null, "newestReceivedAt": null, '
            '"messagesPerDay": {}, "backup": {"bucket": "b", "snapshots": "3"}}',
            "backup is not valid",
        ),
        (
            '{"bucket": "b", "newestObject": null, "newestReceivedAt": null, '
            '"messagesPerDay": {}, "drill": {"at": 5}}',
            "drill is not valid",
        ),
        (
            '{"bucket": "b", "newestObject": null, "newestReceivedAt": null, '
            '"messagesPerDay": {}, "spool": {"at": "yesterday"}}',
            "spool.at 'yesterday' is not a time",
        ),
    ],
)
def test_a_bad_archive_health_file_is_refused_before_the_run(
    tmp_path: Path, content: str | None, message: str
) -> None:
    health = tmp_path / "health.json"
    if content is not None:
        health.write_text(content)
    proc, _ = report(tmp_path / "x", "--stack", "private-alicloud", "--archive-health", str(health))
    assert proc.returncode == 2
    assert f"error: --archive-health: {health}: {message}" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "x").exists()


def test_bad_input_writes_nothing(tmp_path: Path) -> None:
    proc, _ = report(tmp_path / "x", "--stack", "no-such-stack")
    assert proc.returncode == 2
    assert "Pulumi.no-such-stack.yaml" in proc.stderr
    assert not (tmp_path / "x").exists()


def _png_pixels(data: bytes) -> tuple[int, int, int, bytes]:
    """(width, height, bytes per pixel, unfiltered pixel rows) of an 8-bit RGB/RGBA PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width, height, bpp = 8, b"", 0, 0, 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and colour in (2, 6)
            bpp = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows, prev = bytearray(), bytearray(stride)
    for y in range(height):
        ftype, line = (
            raw[y * (stride + 1)],
            bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)]),
        )
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if ftype == 1:
                line[i] = (line[i] + a) & 0xFF
            elif ftype == 2:
                line[i] = (line[i] + b) & 0xFF
            elif ftype == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif ftype == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else b if pb <= pc else c
                line[i] = (line[i] + pred) & 0xFF
        rows += line
        prev = line
    return width, height, bpp, bytes(rows)


def test_html_renders_in_headless_chromium(reports: Path, tmp_path: Path) -> None:
    chromium = require_tool("chromium", "chromium")
    page = (reports / "report-hk-mail-alibaba-directmail.html").resolve()
    flags = [
        "--headless",
        "--no-sandbox",  # CI runs as root
        "--disable-gpu",
        "--hide-scrollbars",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-default-apps",
        f"--user-data-dir={tmp_path / 'profile'}",
    ]
    dom = subprocess.run(
        [chromium, *flags, "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    html = dom.stdout
    assert "Compliance evidence: hk-mail / alibaba-directmail" in html
    assert "<svg" in html and "leaves HK: Singapore (ap-southeast-1)" in html
    assert 'id="transfers"' in html and "EX-2026-001" in html

    shot = tmp_path / "report.png"
    out = subprocess.run(
        [chromium, *flags, "--window-size=1280,1600", f"--screenshot={shot}", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert out.returncode == 0 and shot.exists(), out.stderr[-2000:]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(shot, ARTIFACTS / "report-hk-mail-alibaba-directmail.png")
    width, height, bpp, pixels = _png_pixels(shot.read_bytes())
    assert (width, height) == (1280, 1600)
    # not blank: a real share of non-white pixels, and the SVG's red "leaves HK" arrow is drawn
    n = width * height
    non_white = sum(1 for i in range(0, len(pixels), bpp) if pixels[i : i + 3] != b"\xff\xff\xff")
    assert non_white / n > 0.03, non_white / n
    red = sum(
        1
        for i in range(0, len(pixels), bpp)
        if pixels[i] > 180 and pixels[i + 1] < 80 and pixels[i + 2] < 80
    )
    assert red > 100, red


@pytest.mark.parametrize("stack", ["private-alicloud", "alibaba-directmail"])
def test_svg_labels_fit_their_boxes_in_chromium(reports: Path, tmp_path: Path, stack: str) -> None:
    text = (reports / f"report-hk-mail-{stack}.html").read_text(encoding="utf-8")
    overflow, cut = measure_labels(text, tmp_path)
    assert overflow == []
    assert cut, "these example stacks have labels too long for their boxes"
    for label, tooltip in cut:
        # the full text is in the box's tooltip
        assert label[:-1] in tooltip and len(tooltip) > len(label)


def test_mail_data_flows_show_where_the_mailboxes_go_and_who_declared_it(reports: Path) -> None:
    # issue 25: the hosted suite's mailboxes are a flow with a status, not "per the suite"
    md = (reports / "report-hk-mail-alibaba-directmail.md").read_text(encoding="utf-8")
    assert "Mail data flows (MX, SPF, DMARC, TLS-RPT)" in md
    row = next(
        line for line in md.splitlines() if "MX kowloonbazaar.hk -> mx1.qiye.aliyun.com" in line
    )
    assert "Alibaba Mail (China site) (mx1.qiye.aliyun.com) (storage location not published)" in row
    assert "declared cross-border by exemption EX-2026-003 until 2027-06-30" in row
    html = (reports / "report-hk-mail-alibaba-directmail.html").read_text(encoding="utf-8")
    box = html.split("Mailboxes: hosted suite", 1)[1][:900]
    assert "declared cross-border" in box  # the data-flow picture shows the mailboxes' status


_ANYONE = {"qcs": ["qcs::cam::anyone:anyone"]}
_BOTH = ["name/cos:DeleteObject", "name/cos:DeleteMultipleObjects"]
_JOURNAL = ["qcs::cos:ap-hongkong:uid/1:b-1/journal/*"]


@pytest.mark.parametrize(
    ("statement", "denied"),
    [
        ({"effect": "deny", "principal": _ANYONE, "action": _BOTH, "resource": _JOURNAL}, True),
        ({"Effect": "Deny", "Principal": "*", "Action": _BOTH, "Resource": _JOURNAL}, True),
        # the whole bucket, every COS action: covers journal/* too
        ({"effect": "deny", "principal": "*", "action": "name/cos:*", "resource": "*"}, True),
        ({"effect": "allow", "principal": _ANYONE, "action": _BOTH, "resource": _JOURNAL}, False),
        (
            {
                "effect": "deny",
                "principal": {"qcs": ["qcs::cam::uin/1:uin/2"]},
                "action": _BOTH,
                "resource": _JOURNAL,
            },
            False,
        ),
        # DeleteObject alone: DeleteMultipleObjects still deletes the journal
        (
            {
                "effect": "deny",
                "principal": _ANYONE,
                "action": ["name/cos:DeleteObject"],
                "resource": _JOURNAL,
            },
            False,
        ),
        # a narrower resource than journal/*
        (
            {
                "effect": "deny",
                "principal": _ANYONE,
                "action": _BOTH,
                "resource": ["qcs::cos:ap-hongkong:uid/1:b-1/journal/2026/*"],
            },
            False,
        ),
        # a condition: deletes stay open to whoever does not meet it
        (
            {
                "effect": "deny",
                "principal": _ANYONE,
                "action": _BOTH,
                "resource": _JOURNAL,
                "condition": {"ip_equal": {"qcs:ip": ["10.0.0.0/8"]}},
            },
            False,
        ),
    ],
)
def test_a_delete_denial_counts_only_for_both_deletes_by_everyone_on_the_journal(
    statement: dict[str, object], denied: bool
) -> None:
    import json

    from toolchain.report_archive import _denies_delete

    policy = json.dumps({"statement": [statement]})
    assert _denies_delete(policy, "journal/") is denied
    # backup/ stays prunable: only a whole-bucket denial covers it
    assert _denies_delete(policy, "backup/") is (denied and statement.get("resource") == "*")


def test_the_components_own_journal_policy_counts_as_protecting() -> None:
    """The report's two delete actions are the ones the Tencent component denies."""
    import json

    from hkmail.components.private_tencent import JOURNAL_DELETES, journal_delete_denial
    from toolchain.report_archive import COS_DELETES, _denies_delete

    assert {a.rpartition(":")[2] for a in JOURNAL_DELETES} == set(COS_DELETES)
    policy = json.dumps(journal_delete_denial("1250000000", "hkmail-archive-1250000000"))
    assert _denies_delete(policy, "journal/")
    assert not _denies_delete(policy, "backup/")


def test_the_reports_server_paths_are_the_servers() -> None:
    """The report names the server's paths and bucket prefixes without importing the library's
    server code; they must stay the ones the server renders and writes."""
    from hkmail.mailserver import backup, journal
    from toolchain import report_archive as ra

    assert (ra.JOURNAL_SETTINGS, ra.BACKUP_SETTINGS) == (journal.JOURNAL_CONF, backup.BACKUP_CONF)
    assert (ra.SPOOL_STATUS_PREFIX, ra.DRILL_PREFIX) == (
        journal.SPOOL_STATUS_PREFIX,
        journal.DRILL_PREFIX,
    )
