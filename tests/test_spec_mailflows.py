"""hkmail:mailFlows: how a stack declares its mail-data flows out of Hong Kong, checked before any
resource exists (attestation on file, in date, for a system the domain uses; a cross-border
declaration that names a country outside Hong Kong, a safeguard that can cover it, an exemption on
file)."""

from __future__ import annotations

import copy
import datetime as dt
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from hkmail.errors import SpecErrors
from hkmail.spec import AttestationOnFile, read_stack
from hkmail.spec.checks import Exemption
from tests.conftest import stack_config

REPO = Path(__file__).resolve().parent.parent
NOW = dt.datetime(2026, 12, 7, 4, tzinfo=dt.UTC)
ON_FILE = {
    "ATT-1": AttestationOnFile("ATT-1", "tencent-exmail", dt.date(2027, 11, 30)),
    "ATT-OLD": AttestationOnFile("ATT-OLD", "tencent-exmail", dt.date(2026, 11, 30)),
    "ATT-ALI": AttestationOnFile("ATT-ALI", "alibaba-mail", dt.date(2027, 11, 30)),
    "ATT-HK": AttestationOnFile("ATT-HK", "mx?.console-given.example", dt.date(2027, 11, 30)),
    "ATT-KLN": AttestationOnFile(
        "ATT-KLN", "tencent-exmail", dt.date(2027, 11, 30), ("kowloon-*", "other")
    ),
}
EXEMPT = {
    "EX-2026-009": Exemption("EX-2026-009", dt.date(2027, 6, 30), "tencent-exmail"),
    "EX-2026-010": Exemption("EX-2026-010", dt.date(2027, 6, 30), "alibaba-mail"),
}
DOMAIN = "harbourtrading.com.hk"


def exmail(*flows: dict[str, Any]) -> dict[str, Any]:
    cfg = copy.deepcopy(stack_config("tencent-exmail"))
    cfg.pop("hkmail:mailFlows", None)
    if flows:
        cfg["hkmail:mailFlows"] = list(flows)
    return cfg


def read(cfg: dict[str, Any]) -> Any:
    return read_stack(cfg, NOW, attestations=ON_FILE, exemptions=EXEMPT, stack="tencent-exmail")


def errors(cfg: dict[str, Any]) -> list[str]:
    with pytest.raises(SpecErrors) as info:
        read(cfg)
    return [str(e) for e in info.value.errors]


def test_an_attestation_on_file_for_the_suite_the_domain_uses_is_read() -> None:
    spec = read(exmail({"domain": DOMAIN, "system": "tencent-exmail", "attestation": "ATT-1"}))
    [flow] = spec.mail_flows
    assert (flow.domain, flow.system, flow.attestation) == (DOMAIN, "tencent-exmail", "ATT-1")


def cross(country: str, safeguard: str, exemption: str) -> dict[str, Any]:
    return {
        "crossBorder": {
            "destinationCountry": country,
            "transferSafeguard": safeguard,
            "exemption": exemption,
        }
    }


ALLOWED = "pcpd-model-clauses-2022 | processor-contract"


@pytest.mark.parametrize(
    ("flow", "field", "says"),
    [
        ({"attestation": "ATT-9"}, "attestation", "no such attestation on file"),
        ({"attestation": "ATT-OLD"}, "attestation", "it expired on 2026-11-30"),
        ({"attestation": "ATT-ALI"}, "attestation", "attests alibaba-mail, not tencent-exmail"),
        ({"attestation": "ATT-KLN"}, "attestation", "covers stacks kowloon-*, other: the gate"),
        ({"system": "alibaba-mail", "attestation": "ATT-ALI"}, "system", "hands no mail to"),
        ({"attestation": "ATT-1", "crossBorder": {}}, "", "exactly one of attestation or"),
        (
            cross("Hong Kong", "processor-contract", "EX-2026-009"),
            "crossBorder.destinationCountry",
            "file an attestation instead",
        ),
        (
            cross("Mainland China", "gba-standard-contract", "EX-2026-009"),
            "crossBorder.transferSafeguard",
            ALLOWED,
        ),
        (
            cross("Mainland China", "processor-contract", "EX-2026-404"),
            "crossBorder.exemption",
            "no such exemption on file",
        ),
        (
            cross("Mainland China", "processor-contract", "EX-2026-010"),
            "crossBorder.exemption",
            "covers stack 'alibaba-mail' only",
        ),
    ],
)
def test_bad_declarations_are_refused_naming_the_key(
    flow: dict[str, Any], field: str, says: str
) -> None:
    found = errors(exmail({"domain": DOMAIN, "system": "tencent-exmail", **flow}))
    key = "hkmail:mailFlows[0]" + (f".{field}" if field else "")
    assert any(e.startswith(key) and says in e for e in found), found


def test_a_declared_cross_border_flow_is_read() -> None:
    cross = {
        "destinationCountry": "Mainland China",
        "transferSafeguard": "processor-contract",
        "exemption": "EX-2026-009",
        "reference": "DPA-2026-11",
    }
    declared = {"domain": DOMAIN, "system": "spf.mail.qq.com", "crossBorder": cross}
    [flow] = read(exmail(declared)).mail_flows
    assert flow.cross_border is not None
    assert flow.cross_border.destination_country == "Mainland China"


def test_every_hosted_suite_example_declares_its_flows() -> None:
    for stack in ("tencent-exmail", "tencent-ses", "alibaba-mail"):
        assert stack_config(stack)["hkmail:mailFlows"], stack
    # alibaba-directmail keeps one declaration example (DirectMail); its mail flows are covered by
    # the example exemption EX-2026-003 on its records
    assert "EX-2026-003" in (REPO / "stacks" / "Pulumi.alibaba-directmail.yaml").read_text()
    for stack in ("private-alicloud", "private-tencent"):
        assert "hkmail:mailFlows" not in stack_config(stack), stack


def test_a_bad_attestations_file_stops_the_program_before_any_resource(tmp_path: Path) -> None:
    bad = yaml.safe_load((REPO / "policies" / "attestations.yaml").read_text())
    bad["attestations"][0]["document"] = ""
    path = tmp_path / "attestations.yaml"
    path.write_text(yaml.safe_dump(bad))
    shutil.copy(REPO / "policies" / "approvers.yaml", tmp_path / "approvers.yaml")
    out = subprocess.run(
        [
            str(REPO / "scripts" / "gate"),
            "--stack",
            "tencent-exmail",
            "--pass-env",
            "HKMAIL_ATTESTATIONS_FILE",
        ],
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "HKMAIL_ATTESTATIONS_FILE": str(path)},
    )
    assert out.returncode == 2, (out.stdout[-2000:], out.stderr[-2000:])
    assert "attestations[0] (ATT-2026-001): document: '' is too short" in out.stderr
    assert "Traceback" not in out.stderr


@pytest.mark.parametrize("tool", ["plan", "gate"])
def test_an_attestation_glob_beyond_one_domain_stops_plan_and_gate(
    tmp_path: Path, tool: str
) -> None:
    """`*.com.hk` would attest every Hong Kong company's hosts: refused when the file is read,
    naming the file, entry, field and what is allowed, exit 2 before any resource."""
    wide = yaml.safe_load((REPO / "policies" / "attestations.yaml").read_text())
    assert wide["attestations"][1]["id"] == "ATT-2026-002", wide
    wide["attestations"][1]["system"] = "*.com.hk"
    path = tmp_path / "attestations.yaml"
    path.write_text(yaml.safe_dump(wide))
    shutil.copy(REPO / "policies" / "approvers.yaml", tmp_path / "approvers.yaml")
    extra = ["--pass-env", "HKMAIL_ATTESTATIONS_FILE"] if tool == "gate" else []
    out = subprocess.run(
        [str(REPO / "scripts" / tool), "--stack", "tencent-exmail", *extra],
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "HKMAIL_ATTESTATIONS_FILE": str(path)},
    )
    assert out.returncode == 2, (out.stdout[-2000:], out.stderr[-2000:])
    said = f"{path}: attestations[1] (ATT-2026-002): system: the glob '*.com.hk' fixes only"
    assert said in out.stderr, out.stderr[-2000:]
    assert "allowed: a row of the table, or a host glob whose part after" in out.stderr
    assert "Traceback" not in out.stderr, out.stderr[-2000:]


# --- Alibaba Mail's Hong Kong site (presets.py: MX hosts from its console) ------------------

HK_MX = [{"host": "mx1.console-given.example", "priority": 5}]


def alibaba_hk(mail: dict[str, Any], *flows: dict[str, Any]) -> dict[str, Any]:
    cfg = exmail(*flows)
    domain = cfg["hkmail:domains"][0]
    domain["mail"] = mail
    domain["autodiscovery"] = True
    return cfg


def test_the_alibaba_mail_hk_preset_takes_its_mx_from_the_stack_and_its_smtp_from_the_vendor() -> (
    None
):
    domain = read(alibaba_hk({"suite": "alibaba-mail-hk", "mx": HK_MX})).domains[0]
    assert [m.host for m in domain.mx] == ["mx1.console-given.example"]
    assert domain.suite.spf_includes == ()  # not published: spf.include gives it
    ad = domain.autodiscovery
    assert ad is not None and ad.submissions is not None and ad.imaps is None
    assert (ad.submissions.host, ad.submissions.port) == ("smtp.hk.aliyun.com", 465)
    [missing] = errors(alibaba_hk({"suite": "alibaba-mail-hk"}))
    assert "hkmail:domains[0].mail.mx" in missing and "the vendor publishes none" in missing
    [flow] = read(
        alibaba_hk(
            {"suite": "alibaba-mail-hk", "mx": HK_MX},
            {"domain": DOMAIN, "system": "mx1.console-given.example", "attestation": "ATT-HK"},
        )
    ).mail_flows
    assert flow.system == "mx1.console-given.example"


def test_a_declaration_for_the_alibaba_mail_hk_suite_itself_names_the_mx_hosts_instead() -> None:
    [says] = errors(
        alibaba_hk(
            {"suite": "alibaba-mail-hk", "mx": HK_MX},
            {"domain": DOMAIN, "system": "alibaba-mail-hk", "attestation": "ATT-HK"},
        )
    )
    assert "hkmail:mailFlows[0].system" in says and "mx1.console-given.example" in says
    assert "publishes no MX hosts" in says
