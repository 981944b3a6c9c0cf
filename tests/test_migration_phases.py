"""hkmail:migration: the records of each phase, and the jumps that are refused because they could
lose mail (a cut-over before the lowered TTL has outlived the old one, or before verify passed)."""

from __future__ import annotations

import copy
import datetime as dt
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from hkmail.errors import RecordError, SpecErrors
from hkmail.records import stack_records
from hkmail.records.migration import records_digest
from hkmail.spec import read_stack
from tests.support import MIGRATION_DOMAIN as DOMAIN
from tests.support import MIGRATION_STACK, REPO, pack_with
from tests.support import migration_config as config
from tests.support import write_migration_project as write_project
from toolchain.governance import hong_kong_today

T0 = dt.datetime(2026, 11, 27, 10, 0, tzinfo=dt.UTC)  # the prepare phase was applied


def records(cfg: dict[str, Any], now: dt.datetime) -> dict[tuple[str, str], set[str]]:
    out: dict[tuple[str, str], set[str]] = {}
    for r in stack_records(read_stack(cfg, now=now))[DOMAIN].records:
        out.setdefault((r.fqdn, r.rdtype), set()).add(f"{r.ttl} {r.rdata.to_text()}")
    return out


def sync_digest(now: dt.datetime) -> str:
    cfg = config("sync", ttlLoweredAt=T0.isoformat())
    return records_digest(stack_records(read_stack(cfg, now=now))[DOMAIN].records)


def problems(cfg: dict[str, Any], now: dt.datetime) -> str:
    with pytest.raises(SpecErrors) as info:
        read_stack(cfg, now=now)
    return str(info.value)


def test_prepare_lowers_ttl_keeps_old_mx_and_authorises_both_senders() -> None:
    recs = records(config("prepare"), T0)
    assert recs[(DOMAIN, "MX")] == {
        "300 5 mx1.qiye.aliyun.com.",
        "300 10 mx2.qiye.aliyun.com.",
        "300 15 mx3.qiye.aliyun.com.",
    }
    [spf] = recs[(DOMAIN, "TXT")]
    assert "include:spf.mail.qq.com" in spf and "include:spf.qiye.aliyun.com" in spf
    assert "ip4:192.0.2.25" in spf and spf.endswith('~all"')
    [dmarc] = recs[(f"_dmarc.{DOMAIN}", "TXT")]
    assert "p=none" in dmarc and "rua=mailto:dmarc-reports@" in dmarc
    assert all(v.startswith("300 ") for vs in recs.values() for v in vs)
    notes = stack_records(read_stack(config("prepare"), now=T0))[DOMAIN].notes
    assert any("ttlLoweredAt" in n for n in notes)


def test_dmarc_monitoring_carries_its_ramp_date_for_the_policy_pack() -> None:
    rs = stack_records(read_stack(config("prepare"), now=T0))[DOMAIN]
    [dmarc] = [r for r in rs.records if r.fqdn == f"_dmarc.{DOMAIN}"]
    assert dmarc.remark == "dmarc-ramp-until=2027-12-31"


def test_cutover_before_the_old_ttl_has_expired_is_refused_with_the_earliest_time() -> None:
    now = T0 + dt.timedelta(minutes=30)
    verified = {"at": (T0 + dt.timedelta(minutes=20)).isoformat(), "digest": sync_digest(now)}
    text = problems(config("cutover", ttlLoweredAt=T0.isoformat(), verified=verified), now)
    assert "hkmail:migration.phase" in text
    assert "Earliest safe cut-over: 2026-11-27T11:00:00Z" in text


def test_cutover_without_a_verify_pass_after_the_lowering_is_refused() -> None:
    now = T0 + dt.timedelta(hours=2)
    text = problems(config("cutover", ttlLoweredAt=T0.isoformat()), now)
    assert "hkmail:migration.verified" in text
    stale = {"at": (T0 - dt.timedelta(hours=1)).isoformat(), "digest": sync_digest(now)}
    text = problems(config("cutover", ttlLoweredAt=T0.isoformat(), verified=stale), now)
    assert "made after ttlLoweredAt" in text


def test_cutover_with_a_verify_of_other_records_is_refused() -> None:
    now = T0 + dt.timedelta(hours=2)
    verified = {"at": (T0 + dt.timedelta(hours=1)).isoformat(), "digest": "0" * 16}
    cfg = config("cutover", ttlLoweredAt=T0.isoformat(), verified=verified)
    with pytest.raises(RecordError, match="is not the digest of the records of phase sync"):
        stack_records(read_stack(cfg, now=now))


def test_cutover_moves_the_mx_once_safe() -> None:
    now = T0 + dt.timedelta(hours=2)
    verified = {"at": (T0 + dt.timedelta(hours=1)).isoformat(), "digest": sync_digest(now)}
    recs = records(config("cutover", ttlLoweredAt=T0.isoformat(), verified=verified), now)
    assert recs[(DOMAIN, "MX")] == {"300 5 mxbiz1.qq.com.", "300 10 mxbiz2.qq.com."}
    [sts] = recs[(f"_mta-sts.{DOMAIN}", "TXT")]
    dual = records(
        config(
            "dual-run",
            ttlLoweredAt=T0.isoformat(),
            verified=verified,
            cutoverAt=(T0 + dt.timedelta(hours=1, minutes=30)).isoformat(),
        ),
        now,
    )
    assert dual[(DOMAIN, "MX")] == {
        "300 5 mxbiz1.qq.com.",
        "300 10 mxbiz2.qq.com.",
        "300 11 mx1.qiye.aliyun.com.",
        "300 12 mx2.qiye.aliyun.com.",
        "300 13 mx3.qiye.aliyun.com.",
    }
    assert dual[(f"_mta-sts.{DOMAIN}", "TXT")] != {sts}  # the policy lists other hosts: new id


def test_done_restores_the_stack_as_configured_and_waits_for_the_new_mx() -> None:
    cut = T0 + dt.timedelta(hours=2)
    cfg = config("done", ttlLoweredAt=T0.isoformat(), cutoverAt=cut.isoformat())
    text = problems(cfg, cut + dt.timedelta(seconds=100))
    assert "the new MX has been live for less than the lowered TTL" in text
    done = records(cfg, cut + dt.timedelta(hours=1))
    plain = copy.deepcopy(cfg)
    del plain["hkmail:migration"]
    assert done == records(plain, cut)
    assert done[(DOMAIN, "MX")] == {"3600 5 mxbiz1.qq.com.", "3600 10 mxbiz2.qq.com."}


def test_phases_after_prepare_need_the_lowering_time_and_dual_run_the_cutover() -> None:
    assert "ttlLoweredAt" in problems(config("sync"), T0)
    assert "cutoverAt" in problems(
        config("dual-run", ttlLoweredAt=T0.isoformat()), T0 + dt.timedelta(hours=5)
    )
    future = problems(config("sync", ttlLoweredAt="2030-01-01T00:00:00Z"), T0)
    assert "a time before now" in future


def test_rollback_returns_the_mx_to_the_old_system() -> None:
    recs = records(config("rollback", ttlLoweredAt=T0.isoformat()), T0 + dt.timedelta(hours=3))
    assert {v.split()[-1] for v in recs[(DOMAIN, "MX")]} == {
        "mx1.qiye.aliyun.com.",
        "mx2.qiye.aliyun.com.",
        "mx3.qiye.aliyun.com.",
    }


def test_bad_migration_settings_name_the_field() -> None:
    cfg = config("launch")
    cfg["hkmail:migration"]["old"] = {"mx": [{"host": "mail.old.example"}]}
    cfg["hkmail:migration"]["domain"] = "harbourtrading.hk"  # receives no mail
    text = problems(cfg, T0)
    assert "hkmail:migration.phase: 'launch'" in text
    assert "prepare | sync | cutover | dual-run | done | rollback" in text
    assert "hkmail:migration.old.mxTtl" in text
    assert "hkmail:migration.old.mx[0].priority" in text
    assert "hkmail:migration.domain: 'harbourtrading.hk'" in text


def test_dual_run_needs_room_below_the_new_mx_in_the_provider_range() -> None:
    cfg = config("dual-run", ttlLoweredAt=T0.isoformat())
    cfg["hkmail:domains"][0]["mail"] = {
        "suite": "custom",
        "mx": [{"host": "mx.harbourtrading.com.hk", "priority": 65535}],
    }
    del cfg["hkmail:domains"][0]["autodiscovery"]
    assert "no lower priority for the old hosts" in problems(cfg, T0 + dt.timedelta(hours=5))


@pytest.mark.integration
def test_scripts_migrate_plan_shows_the_changes_and_refuses_an_early_cutover(
    tmp_path: Path,
) -> None:
    lowered = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=10)
    cfg = config("cutover", ttlLoweredAt=lowered.isoformat())
    project = write_project(tmp_path, cfg)
    done = subprocess.run(
        [
            str(REPO / "scripts" / "migrate"),
            "plan",
            "--stack",
            MIGRATION_STACK,
            "--project",
            str(project),
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "REFUSED: phase cutover could lose mail" in done.stdout
    earliest = (lowered + dt.timedelta(seconds=3600)).isoformat(timespec="seconds")
    assert f"Earliest safe cut-over: {earliest.replace('+00:00', 'Z')}" in done.stdout
    assert "sync -> cutover  <- configured" in done.stdout
    assert f"- {DOMAIN}. MX 300 5 mx1.qiye.aliyun.com." in done.stdout
    assert f"+ {DOMAIN}. MX 300 5 mxbiz1.qq.com." in done.stdout
    # done restores the TTL and drops the old senders from SPF
    as_json = subprocess.run(
        [
            *(str(REPO / "scripts" / "migrate"), "plan", "--stack", MIGRATION_STACK),
            *("--project", str(project), "--format", "json"),
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    doc = json.loads(as_json.stdout)
    done_phase = next(p for p in doc["phases"] if p["phase"] == "done")
    assert any(c.startswith(f"+ {DOMAIN}. MX 3600 5 mxbiz1.qq.com.") for c in done_phase["changes"])
    assert any("spf.qiye.aliyun.com" in c and c.startswith("-") for c in done_phase["changes"])
    assert doc["safe"] is False


def test_unquoted_stack_timestamps_arrive_in_go_form_and_are_read() -> None:
    """The CLI hands a YAML timestamp to the program as Go's time.Time String()."""
    now = T0 + dt.timedelta(minutes=5)
    spec = read_stack(config("sync", ttlLoweredAt="2026-11-27 18:00:00 +0800 +0800"), now=now)
    assert spec.migration is not None and spec.migration.ttl_lowered_at == T0
    utc = read_stack(config("sync", ttlLoweredAt="2026-11-27 10:00:00 +0000 UTC"), now=now)
    assert utc.migration is not None and utc.migration.ttl_lowered_at == T0
    dated = config("prepare")
    dated["hkmail:migration"]["monitorUntil"] = "2026-12-31 00:00:00 +0000 UTC"
    assert read_stack(dated, now=now).migration is not None


@pytest.mark.integration
@pytest.mark.parametrize("phase", ["prepare", "dual-run"])
def test_migration_phases_pass_the_policy_pack(phase: str, tmp_path: Path) -> None:
    """Monitoring DMARC (with its ramp date), ~all and MTA-STS testing are what the real pack
    accepts while migrating; the old hosts as backup MX too."""
    now = dt.datetime.now(dt.UTC)
    lowered = now - dt.timedelta(hours=3)
    verify_at = now - dt.timedelta(hours=2)
    cfg = config(phase, ttlLoweredAt=lowered.isoformat())
    cfg["hkmail:migration"]["monitorUntil"] = (now.date() + dt.timedelta(days=30)).isoformat()
    if phase == "dual-run":
        sync = copy.deepcopy(cfg)
        sync["hkmail:migration"]["phase"] = "sync"
        digest = records_digest(stack_records(read_stack(sync, now=now))[DOMAIN].records)
        cfg["hkmail:migration"]["verified"] = {"at": verify_at.isoformat(), "digest": digest}
        cfg["hkmail:migration"]["cutoverAt"] = (now - dt.timedelta(hours=1)).isoformat()
    project = write_project(tmp_path, cfg)
    # The old suite (Alibaba Mail's China site) still holds the mailboxes and sends the mail while
    # migrating: those flows leave Hong Kong undeclared unless the company files its decision, as
    # any stack on that suite must (residency-mail-storage / -senders).
    today = hong_kong_today()
    declared = {
        "id": f"EX-{today.year}-901",
        "rule": ["residency-mail-storage", "residency-mail-senders"],
        "resources": {
            "stack": MIGRATION_STACK,
            "types": ["tencentcloud:Dnspod/record:Record"],
            "name": f"{DOMAIN}/@/*",
        },
        "requester": f"it@{DOMAIN}",
        "approver": "dpo@kowloonbazaar.hk",
        "approvedOn": (today - dt.timedelta(days=1)).isoformat(),
        "reason": "The old suite keeps the mailboxes until the migration is done.",
        "reference": "DPA-2026-11: processor terms of the old suite",
        "expires": (today + dt.timedelta(days=90)).isoformat(),
    }
    pack = pack_with(tmp_path, [declared])
    done = subprocess.run(
        [
            *(
                str(REPO / "scripts" / "gate"),
                "--project",
                str(project),
                "--stack",
                MIGRATION_STACK,
            ),
            *("--policy-pack", str(pack)),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "PASS: no mandatory violation" in done.stdout
    assert f"[exempt: {declared['id']}]" in done.stdout


def test_settings_a_user_gets_wrong_are_refused_by_the_spec() -> None:
    """A past monitorUntil (the pack would refuse the p=none it publishes) and an old IMAP port
    outside 1-65535 are refused before anything is registered; phase done may keep a past date."""
    late = dt.datetime(2028, 1, 5, tzinfo=dt.UTC)
    text = problems(config("prepare"), late)
    assert "hkmail:migration.monitorUntil: '2027-12-31'" in text
    assert "a date from 2028-01-05 (today in Hong Kong) on" in text
    done = config(
        "done",
        ttlLoweredAt=T0.isoformat(),
        cutoverAt=(T0 + dt.timedelta(hours=2)).isoformat(),
    )
    assert read_stack(done, now=late).migration is not None
    for imap in ("imap.old.example:0", "imap.old.example:99999", "imap.old.example:x"):
        cfg = config("prepare")
        cfg["hkmail:migration"]["old"]["imap"] = imap
        text = problems(cfg, T0)
        assert f"hkmail:migration.old.imap: '{imap}'" in text
        assert "the port from 1 to 65535" in text


@pytest.mark.parametrize(
    ("key", "value", "needle"),
    [
        ("phase", "cut-over", "prepare | sync | cutover | dual-run | done | rollback"),
        ("ttlLoweredAt", "2026-11-27T18:00:00", "a time with its zone"),
        ("monitorUntil", "2026-01-31", "(today in Hong Kong) on"),
    ],
)
def test_migrate_plan_refuses_bad_settings_exactly_as_the_spec(
    key: str, value: str, needle: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from toolchain.migrate import main

    cfg = config("sync", ttlLoweredAt=T0.isoformat())
    cfg["hkmail:migration"][key] = value
    with pytest.raises(SpecErrors) as spec_error:
        read_stack(cfg, now=T0 + dt.timedelta(hours=2))
    project = write_project(tmp_path, cfg)
    now = (T0 + dt.timedelta(hours=2)).isoformat()
    code = main(["plan", "--stack", MIGRATION_STACK, "--project", str(project), "--now", now])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert f"hkmail:migration.{key}: '{value}'" in err and needle in err
    assert f"hkmail:migration.{key}: '{value}'" in str(spec_error.value)
    assert "phase prepare" not in out + err and "Traceback" not in err
