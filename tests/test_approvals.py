"""The approved-record validation every tool shares (policies/hkmail_policy/approvals.py and
exemptions.py): normalised addresses, the approvers' allow-list, approvedOn, maximum lifetime,
reference pattern, one-stack scope; and `scripts/plan` / `scripts/gate` refusing a bad file
with exit 2 naming the file, the entry and the field."""

from __future__ import annotations

import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from toolchain.governance import hong_kong_today as hk_today

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "policies"))

from hkmail_policy import approvals, exemptions  # noqa: E402
from hkmail_policy.rules import RULES_BY_ID  # noqa: E402

TODAY = date(2026, 12, 7)
GOV = {
    "approvers": [
        {"address": "dpo@firm.hk", "github": "firm-dpo"},
        "ciso@firm.hk",
        "j.doe@gmail.com",
    ],
    "domainAliases": [["firm.hk", "firm.com.hk"]],
}


def entry(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "EX-2026-001",
        "rule": "residency-global-edge",
        "resources": {"stack": "prod", "types": ["alicloud:cdn/*"], "name": "mta-sts*"},
        "requester": "alice@firm.hk",
        "approver": "dpo@firm.hk",
        "approvedOn": "2026-11-01",
        "reason": "Public MTA-STS policy file only; no personal data behind the CDN.",
        "reference": "SEC-1234",
        "expires": "2027-03-31",
    }
    base.update(over)
    return {k: v for k, v in base.items() if v is not None}


def write(tmp: Path, entries: list[Any], gov: dict[str, Any] | None = None) -> Path:
    path = tmp / "exemptions.yaml"
    path.write_text(yaml.safe_dump({"exemptions": entries}))
    (tmp / "approvers.yaml").write_text(yaml.safe_dump(gov or GOV))
    return path


def load(tmp: Path, entries: list[Any], gov: dict[str, Any] | None = None) -> Any:
    return exemptions.load(RULES_BY_ID, write(tmp, entries, gov), TODAY)


def refusal(tmp: Path, entries: list[Any], gov: dict[str, Any] | None = None) -> str:
    with pytest.raises(approvals.RecordError) as err:
        load(tmp, entries, gov)
    return str(err.value)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("alice@firm.hk", "Alice+DPO@Firm.HK"),  # case and plus-tag
        ("alice@firm.hk", "alice@firm.com.hk"),  # the same local part in a domain alias
        ("j.doe@gmail.com", "JDoe+x@googlemail.com"),  # Gmail ignores dots; googlemail = gmail
    ],
)
def test_the_same_person_under_another_spelling(tmp_path: Path, a: str, b: str) -> None:
    write(tmp_path, [])
    g = approvals.load_governance(tmp_path / "approvers.yaml")
    assert g.same_person(a, b)


def test_dots_count_where_the_provider_counts_them(tmp_path: Path) -> None:
    write(tmp_path, [])
    g = approvals.load_governance(tmp_path / "approvers.yaml")
    assert not g.same_person("a.lee@firm.hk", "alee@firm.hk")
    assert not g.same_person("alice@firm.hk", "alice@other.hk")


def test_a_valid_entry(tmp_path: Path) -> None:
    (ex,) = load(tmp_path, [entry(approver="DPO+exemptions@firm.com.hk")])
    assert ex.stack == "prod" and ex.types == ("alicloud:cdn/*",)
    assert ex.approval.approved_on == date(2026, 11, 1)
    assert ex.matches(
        "residency-global-edge",
        "urn:pulumi:prod::p::alicloud:cdn/x:X::mta-sts-a",
        "alicloud:cdn/x:X",
        "mta-sts-a",
    )
    assert not ex.matches(
        "residency-global-edge",
        "urn:pulumi:dev::p::alicloud:cdn/x:X::mta-sts-a",
        "alicloud:cdn/x:X",
        "mta-sts-a",
    )


@pytest.mark.parametrize(
    ("over", "needle"),
    [
        (
            {"approver": "Alice+dpo@firm.com.hk"},
            "exemptions[0] (EX-2026-001): approver: Alice+dpo@firm.com.hk is the requester "
            "alice@firm.hk",
        ),
        ({"approver": "bob@firm.hk"}, "approver: bob@firm.hk is not in the approvers' list"),
        ({"approvedOn": None}, "exemptions[0] (EX-2026-001): approvedOn: missing"),
        ({"approvedOn": "2026-12-08"}, "approvedOn: 2026-12-08 is in the future"),
        (
            {"expires": "9999-12-31"},
            "expires: 9999-12-31 is more than 12 months after approvedOn 2026-11-01",
        ),
        ({"expires": "2026-10-01"}, "expires: 2026-10-01 is before approvedOn 2026-11-01"),
        ({"expires": "soon"}, "expires: 'soon' is not a date; allowed: YYYY-MM-DD"),
        ({"expiry": "2027-01-01"}, "expiry: unknown field (did you mean 'expires'?)"),
        ({"reference": "see e-mail"}, "reference: 'see e-mail' does not name a ticket"),
        (
            {"resources": {"stack": "*", "types": ["alicloud:cdn/*"]}},
            "resources.stack: '*' is not one stack's name",
        ),
        ({"resources": {"types": ["alicloud:cdn/*"]}}, "resources: stack: missing"),
        (
            {"resources": {"stack": "prod", "types": ["alicloud:*"], "urn": "urn:*"}},
            "resources.urn: 'urn:*' is wider than stack 'prod'",
        ),
        (
            {"resources": {"stack": "prod", "types": ["x:y"], "urn": "urn:pulumi:prod*::p::x"}},
            "is wider than stack 'prod'",
        ),
        (
            {"resources": {"stack": "prod", "types": ["x:y"], "urn": "urn:pulumi:prod::*::x"}},
            "is wider than stack 'prod'",
        ),
        ({"resources": {"stack": "prod", "types": ["*:*"]}}, "'*:*' does not name a package"),
        ({"rule": "residency-typo"}, "rule: unknown rule 'residency-typo'"),
        ({"requester": "alice"}, "requester: 'alice' is not an e-mail address"),
        ({"id": "exemption-1"}, "exemptions[0]: id: 'exemption-1' is not a record id"),
    ],
)
def test_bad_entries_are_named(tmp_path: Path, over: dict[str, Any], needle: str) -> None:
    message = refusal(tmp_path, [entry(**over)])
    assert str(tmp_path / "exemptions.yaml") in message
    assert needle in message


def test_lifetime_and_reference_are_configurable(tmp_path: Path) -> None:
    gov = {**GOV, "maxLifetimeMonths": 3, "referencePattern": r"^JIRA-\d+$"}
    assert "more than 3 months after approvedOn" in refusal(tmp_path, [entry()], gov)
    (ex,) = load(tmp_path, [entry(expires="2027-02-01", reference="JIRA-7")], gov)
    assert ex.reference == "JIRA-7"
    assert "does not name a ticket" in refusal(
        tmp_path, [entry(expires="2027-02-01", reference="SEC-1")], gov
    )


def test_the_lifetime_is_counted_in_calendar_months() -> None:
    assert approvals.add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert approvals.add_months(date(2026, 11, 1), 12) == date(2027, 11, 1)


@pytest.mark.parametrize(
    ("gov", "needle"),
    [
        ({"approvers": []}, "approvers: must be a non-empty list"),
        ({"approvers": ["dpo@firm.hk"], "maxLifetime": 12}, "did you mean 'maxLifetimeMonths'"),
        ({"approvers": ["dpo@firm.hk", "DPO+x@firm.hk"]}, "the same person as dpo@firm.hk"),
        ({"approvers": ["dpo@firm.hk"], "referencePattern": "("}, "not a regular expression"),
    ],
)
def test_a_bad_approvers_file_is_named(tmp_path: Path, gov: dict[str, Any], needle: str) -> None:
    message = refusal(tmp_path, [entry()], gov)
    assert str(tmp_path / "approvers.yaml") in message and needle in message


def test_an_empty_exemptions_file_needs_no_approvers_file(tmp_path: Path) -> None:
    path = tmp_path / "exemptions.yaml"
    path.write_text("exemptions: []\n")
    assert exemptions.load(RULES_BY_ID, path, TODAY) == ()


def test_status_and_review_check(tmp_path: Path) -> None:
    (ex,) = load(tmp_path, [entry(expires="2026-12-20")])
    g = approvals.load_governance(tmp_path / "approvers.yaml")
    assert approvals.status(ex.approval, TODAY, g) == "expiring"
    assert approvals.status(ex.approval, date(2026, 12, 21), g) == "expired"
    assert approvals.status(ex.approval, date(2026, 11, 2), g) == "current"
    assert approvals.check_reviewers([(ex.id, ex.approval)], g, ["Firm-DPO"]) == []
    (problem,) = approvals.check_reviewers([(ex.id, ex.approval)], g, ["someone"])
    assert "dpo@firm.hk (firm-dpo) has not approved this pull request" in problem


def test_the_committed_files_agree() -> None:
    # every committed entry validates against the committed approvers file
    found = {
        e.id: e
        for e in exemptions.load(RULES_BY_ID, REPO / "policies" / "exemptions.yaml", hk_today())
    }
    assert found["EX-2026-001"].stack == "alibaba-directmail"


# --- the tools: exit 2, naming the file, the entry and the field, before anything runs ---------


def _bad_pack(tmp: Path, over: dict[str, Any]) -> Path:
    pack = tmp / "pack"
    pack.mkdir()
    (pack / "hkmail_policy").symlink_to(REPO / "policies" / "hkmail_policy")
    today = date.today()
    fresh = {
        "approvedOn": (today - timedelta(days=5)).isoformat(),
        "expires": (today + timedelta(days=30)).isoformat(),
    }
    write(pack, [entry(**{**fresh, **over})])
    return pack


@pytest.mark.parametrize(
    ("tool", "over", "needle"),
    [
        ("plan", {"approver": "alice+dpo@firm.hk"}, "approver: alice+dpo@firm.hk is the requester"),
        ("gate", {"approver": "alice+dpo@firm.hk"}, "approver: alice+dpo@firm.hk is the requester"),
        ("plan", {"expiry": "2027-01-01"}, "expiry: unknown field (did you mean 'expires'?)"),
        ("gate", {"expiry": "2027-01-01"}, "expiry: unknown field (did you mean 'expires'?)"),
        ("gate", {"reference": "none"}, "reference: 'none' does not name a ticket"),
    ],
)
def test_plan_and_gate_refuse_a_bad_file_with_exit_2(
    tmp_path: Path, tool: str, over: dict[str, Any], needle: str
) -> None:
    pack = _bad_pack(tmp_path, over)
    out = subprocess.run(
        [str(REPO / "scripts" / tool), "--stack", "alibaba-directmail", "--policy-pack", str(pack)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 2, out.stderr
    assert f"{pack / 'exemptions.yaml'}: exemptions[0] (EX-2026-001): " in out.stderr
    assert needle in out.stderr
    assert "Traceback" not in out.stderr and out.stdout == ""
