"""Where the mail itself goes: the pack judges every mail-data flow the DNS records set up (MX,
SPF include, DMARC rua/ruf, TLS-RPT rua) against the mail-systems table and the attestations on
file; the gate blocks undeclared ones and shows declared ones."""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "policies"))

from hkmail_policy import attestations, mail_systems
from hkmail_policy.flows import DECLARED_PREFIX, Attestation
from hkmail_policy.model import ALLOWED_REGIONS_SCHEMA, Context, ProviderRef, Resource
from hkmail_policy.rules import RULES_BY_ID

from hkmail.facts import HONG_KONG_RELAYS, TENCENT_SES_HK_SMTP
from hkmail.presets import (
    ALIBABA_MAIL_HK_SMTP,
    DIRECTMAIL_SPF_INCLUDES,
    SUITES,
    TENCENT_SES_SPF_INCLUDE,
)
from tests.conftest import stack_config

REPO = Path(__file__).resolve().parent.parent
TODAY = date(2026, 12, 7)
HK = ProviderRef("urn:p::hk", "pulumi:providers:tencentcloud", "hk", {"region": "ap-hongkong"})
RECORD = "tencentcloud:Dnspod/record:Record"


def record(name: str, rtype: str, value: str, host: str = "@", zone: str = "example.com.hk",
           deps: dict[str, list[str]] | None = None) -> Resource:  # fmt: skip
    props = {"domain": zone, "subDomain": host, "recordType": rtype, "value": value}
    return Resource(f"urn:r::{name}", RECORD, name, props, False, HK, None, deps or {})


def ctx(*stack: Resource) -> Context:
    cfg = {k: v["default"] for k, v in ALLOWED_REGIONS_SCHEMA.items()}
    return Context(config=cfg, today=TODAY, stack=stack)


@pytest.fixture(autouse=True)
def no_attestations(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(attestations, "on_file", lambda: ())


def messages(rule: str, resource: Resource, c: Context) -> list[str]:
    return [f.message for f in RULES_BY_ID[rule].check(resource, c)]


# --- each flow kind -------------------------------------------------------------------------


def test_mx_to_a_suite_that_publishes_no_location_is_blocked_naming_the_flow() -> None:
    mx = record("mx1", "MX", "mxbiz1.qq.com.")
    [msg] = messages("residency-mail-storage", mx, ctx(mx))
    assert "mailboxes of example.com.hk (all inbound mail)" in msg
    assert "Tencent Exmail (mxbiz1.qq.com) (storage location not published)" in msg
    assert "en.exmail.qq.com" in msg and "checked 2026-12-07" in msg
    assert not msg.startswith(DECLARED_PREFIX)


def test_foreign_custom_mx_is_not_published_and_the_own_server_is_hong_kong() -> None:
    foreign = record("mx", "MX", "mail.example.net")
    [msg] = messages("residency-mail-storage", foreign, ctx(foreign))
    assert "mail.example.net (storage location not published)" in msg
    assert "not in the pack's mail-systems table" in msg
    # an in-zone MX whose A record takes its address from a server made by a Hong Kong provider
    server = Resource("urn:r::cvm", "tencentcloud:Instance/instance:Instance", "cvm", {}, False,
                      HK, None)  # fmt: skip
    a = record("a", "A", "203.0.113.9", host="mail", deps={"value": [server.urn]})
    own = record("mx", "MX", "mail.example.com.hk.")
    assert messages("residency-mail-storage", own, ctx(own, a, server)) == []
    # the same host with a literal address only: the company must say where it stands
    literal = record("a", "A", "203.0.113.9", host="mail")
    [msg] = messages("residency-mail-storage", own, ctx(own, literal))
    assert "the company's to state" in msg


def test_null_mx_sets_up_no_flow() -> None:
    null = record("null", "MX", ".")
    assert messages("residency-mail-storage", null, ctx(null)) == []


def test_spf_senders_third_party_blocked_own_ses_identity_is_hong_kong() -> None:
    spf = record("spf", "TXT", "v=spf1 include:_spf.sender.example include:qcloudmail.com -all")
    found = messages("residency-mail-senders", spf, ctx(spf))
    assert len(found) == 2
    assert any("outgoing mail sent as example.com.hk" in m and "_spf.sender.example" in m
               for m in found)  # fmt: skip
    ses = Resource("urn:r::ses", "tencentcloud:Ses/domain:Domain", "ses",
                   {"emailIdentity": "example.com.hk"}, False, HK, None)  # fmt: skip
    [left] = messages("residency-mail-senders", spf, ctx(spf, ses))
    assert "_spf.sender.example" in left  # Tencent SES of the stack's own identity passes


def test_tencent_ses_include_is_hong_kong_when_the_stack_relays_through_its_hong_kong_host() -> (
    None
):
    import base64

    spf = record("spf", "TXT", "v=spf1 mx include:qcloudmail.com -all")

    def server(relay: str) -> Resource:
        data = base64.b64encode(f"#cloud-config\nrelayhost = [{relay}]:465\n".encode()).decode()
        return Resource("urn:r::cvm", "tencentcloud:Instance/instance:Instance", "cvm",
                        {"userData": data}, False, HK, None)  # fmt: skip

    assert messages("residency-mail-senders", spf, ctx(spf, server("smtp.qcloudmail.com"))) == []
    [msg] = messages("residency-mail-senders", spf, ctx(spf, server("gz-smtp.qcloudmail.com")))
    assert "Tencent SES (qcloudmail.com) (storage location not published)" in msg
    assert mail_systems.TENCENT_SES_HK_RELAY == TENCENT_SES_HK_SMTP  # the library's relay fact


def test_report_flows_failure_mandatory_aggregate_advisory_own_domain_ignored() -> None:
    dmarc = record(
        "dmarc", "TXT",
        "v=DMARC1; p=reject; rua=mailto:agg@reports.example.net,mailto:d@example.com.hk; "
        "ruf=mailto:ruf@reports.example.net",
        host="_dmarc",
    )  # fmt: skip
    tls = record("tls", "TXT", "v=TLSRPTv1; rua=https://tls.example.org/r", host="_smtp._tls")
    c = ctx(dmarc, tls)
    [ruf] = messages("residency-mail-failure-reports", dmarc, c)
    assert "DMARC failure reports" in ruf and "ruf=mailto:ruf@reports.example.net" in ruf
    [rua] = messages("residency-mail-aggregate-reports", dmarc, c)
    assert "agg@reports.example.net" in rua and "d@example.com.hk" not in rua
    [tlsrpt] = messages("residency-mail-aggregate-reports", tls, c)
    assert "TLS-RPT aggregate reports" in tlsrpt and "tls.example.org" in tlsrpt
    assert RULES_BY_ID["residency-mail-failure-reports"].enforcement == "mandatory"
    assert RULES_BY_ID["residency-mail-aggregate-reports"].enforcement == "advisory"


def _server(relay: str) -> Resource:
    import base64

    conf = f"#cloud-config\nwrite_files:\n  - content: |\n      relayhost = [{relay}]:465\n"
    data = {"userData": base64.b64encode(conf.encode()).decode()}
    return Resource("urn:r::ecs", "alicloud:ecs/instance:Instance", "ecs", data, False, HK, None)


def test_the_private_servers_smarthost_is_a_mail_relay_flow_judged_by_the_table() -> None:
    def relay(host: str) -> list[str]:
        server = _server(host)
        return messages("residency-mail-relay", server, ctx(server))

    assert relay("smtp.qcloudmail.com") == []  # Tencent SES's Hong Kong endpoint
    [gz] = relay("gz-smtp.qcloudmail.com")
    assert "Tencent SES outside Hong Kong (gz-smtp.qcloudmail.com) (outside Hong Kong)" in gz
    assert "outgoing mail the server relays (message content and recipients)" in gz
    [hk_site] = relay(ALIBABA_MAIL_HK_SMTP)  # the preset's SMTP host is the table's
    site = "Alibaba Mail (Hong Kong site) (smtp.hk.aliyun.com) (storage location not published)"
    assert site in hk_site
    [dm] = relay("smtpdm-ap-southeast-1.aliyuncs.com")
    assert "Alibaba DirectMail" in dm and "(outside Hong Kong)" in dm
    [other] = relay("203.0.113.5")
    assert "SMTP relay 203.0.113.5 is not in the pack's mail-systems table" in other
    assert "relayhost 203.0.113.5:465 of alicloud:ecs/instance:Instance 'ecs'" in other


def _server_with(relayhost: str) -> Resource:
    import base64

    conf = f"#cloud-config\nwrite_files:\n  - content: |\n      {relayhost}\n      myhostname = m\n"
    data = {"userData": base64.b64encode(conf.encode()).decode()}
    return Resource("urn:r::ecs", "alicloud:ecs/instance:Instance", "ecs", data, False, HK, None)


def test_a_relayhost_list_judges_every_destination_and_an_unreadable_one_fails_closed() -> None:
    def relay(line: str) -> list[str]:
        server = _server_with(line)
        return messages("residency-mail-relay", server, ctx(server))

    # Postfix 3.5+ takes a list (postconf(5)): the Guangzhou host is judged, not hidden
    [gz] = relay("relayhost = [gz-smtp.qcloudmail.com]:465, [smtp.qcloudmail.com]:465")
    assert "relayhost gz-smtp.qcloudmail.com:465" in gz and "(outside Hong Kong)" in gz, gz
    [gz] = relay("relayhost = [smtp.qcloudmail.com]:465 gz-smtp.qcloudmail.com")
    assert "relayhost gz-smtp.qcloudmail.com of" in gz, gz
    # a continuation line (indented deeper) belongs to the value
    [gz] = relay("relayhost = [smtp.qcloudmail.com]:465,\n        [gz-smtp.qcloudmail.com]:465")
    assert "gz-smtp.qcloudmail.com" in gz, gz
    assert relay("relayhost = [smtp.qcloudmail.com]:465, smtp.qcloudmail.com:smtps") == []
    # what is not a destination cannot be placed: not published, blocking
    [param] = relay("relayhost = $smarthost")
    assert "'$smarthost' is not a host this pack can read" in param, param
    assert "not published" in param, param
    [ipv6] = relay("relayhost = [ipv6:2001:db8::25]:465")
    assert "SMTP relay 2001:db8::25 is not in the pack's mail-systems table" in ipv6, ipv6
    assert relay("relayhost =") == []  # Postfix's default: direct delivery, no smarthost


def test_the_ses_include_is_not_hong_kong_when_a_relayhost_list_also_names_another_host() -> None:
    spf = record("spf", "TXT", "v=spf1 mx include:qcloudmail.com -all")
    hk_only = _server_with("relayhost = [smtp.qcloudmail.com]:465")
    assert messages("residency-mail-senders", spf, ctx(spf, hk_only)) == []
    both = _server_with("relayhost = [smtp.qcloudmail.com]:465, [gz-smtp.qcloudmail.com]:465")
    [msg] = messages("residency-mail-senders", spf, ctx(spf, both))
    assert "Tencent SES (qcloudmail.com) (storage location not published)" in msg, msg


# --- declarations -----------------------------------------------------------------------------


def test_an_attestation_in_date_declares_the_flow_and_an_expired_one_blocks_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    att = Attestation("ATT-1", "Tencent Exmail (*)", "Ms Chan, Tencent", "letter 2026-11",
                      date(2026, 11, 1), date(2027, 11, 1))  # fmt: skip
    monkeypatch.setattr(attestations, "on_file", lambda: (att,))
    mx = record("mx1", "MX", "mxbiz1.qq.com.")
    [msg] = messages("residency-mail-storage", mx, ctx(mx))
    assert msg.startswith(f"{DECLARED_PREFIX}attestation ATT-1]")
    assert "attested Hong Kong storage by Ms Chan, Tencent (letter 2026-11" in msg
    assert "until 2027-11-01" in msg
    later = Context(config=ctx().config, today=date(2027, 11, 2), stack=(mx,))
    [blocked] = messages("residency-mail-storage", mx, later)
    assert not blocked.startswith(DECLARED_PREFIX)


def _write(tmp_path: Path, entries: list[dict[str, Any]]) -> Path:
    path = tmp_path / "attestations.yaml"
    path.write_text(yaml.safe_dump({"attestations": entries}))
    # approved like an exemption: by someone in the approvers file beside it
    shutil.copy(REPO / "policies" / "approvers.yaml", tmp_path / "approvers.yaml")
    return path


GOOD = {
    "id": "ATT-2026-009",
    "system": "tencent-exmail",
    "stacks": ["tencent-exmail", "exmail-*"],
    "confirmedBy": "Ms Chan, Tencent Exmail account manager",
    "document": "letter of 2026-11-30, clause 2",
    "confirmedOn": "2026-11-30",
    "requester": "it@example.com.hk",
    "approver": "dpo@kowloonbazaar.hk",
    "approvedOn": "2026-12-01",
    "reason": "Tencent confirmed Hong Kong storage for our tenant in writing",
    "reference": "DPA-2026-12 Exmail storage letter",
    "expires": "2027-11-30",
}


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"document": ""}, "document: '' is too short"),
        ({"confirmedOn": None}, "confirmedOn: None is not a date"),
        ({"confirmedOn": "2026-12-05"}, "is after approvedOn"),
        ({"expires": "2026-11-01"}, "is before approvedOn"),
        ({"expires": "2028-12-01"}, "months after approvedOn"),
        ({"system": "nowhere"}, "neither a row of the mail-systems table"),
        # a glob must fix one organisation's domain after its last wildcard
        ({"system": "*.com"}, "system: the glob '*.com' fixes only 'com' after its last"),
        ({"system": "*.com.hk"}, "the glob '*.com.hk' fixes only 'com.hk'"),
        ({"system": "*lantauretail.hk"}, "fixes only 'hk'"),
        ({"system": "mx.*.hk"}, "fixes only 'hk'"),
        # a row the table documents outside Hong Kong: a crossBorder declaration instead
        (
            {"system": "alibaba-directmail"},
            "system: 'alibaba-directmail' (Alibaba DirectMail) is documented outside Hong Kong",
        ),
        ({"system": "tencent-ses-outside"}, "for tencent-ses-outside, a crossBorder declaration"),
        ({"approver": "it@example.com.hk"}, "nobody approves their own request"),
        ({"approver": "someone@example.com.hk"}, "not in the approvers' list"),
        ({"id": "EX-1"}, "is not a record id"),
        ({"colour": "red"}, "colour: unknown field"),
        ({"stacks": None}, "stacks"),
        ({"stacks": []}, "stacks: [] is not a non-empty list"),
        ({"stacks": "tencent-exmail"}, "is not a non-empty list"),
        ({"stacks": ["ok", "bad name/x"]}, "stacks: 'bad name/x' is not a stack name or glob"),
    ],
)
def test_bad_attestations_stop_the_pack_naming_the_field(
    tmp_path: Path, change: dict[str, Any], says: str
) -> None:
    path = _write(tmp_path, [{**GOOD, **change}])
    with pytest.raises(attestations.AttestationsError) as info:
        attestations.load(path, today=date(2026, 12, 7))
    assert says in str(info.value) and "attestations[0]" in str(info.value)


def test_a_good_attestation_loads_with_its_approval(tmp_path: Path) -> None:
    [att] = attestations.load(_write(tmp_path, [GOOD]), today=date(2026, 12, 7))
    assert att.system == "Tencent Exmail (*)" and att.expires == date(2027, 11, 30)
    assert "approved by dpo@kowloonbazaar.hk on 2026-12-01" in att.document
    assert att.stacks == ("tencent-exmail", "exmail-*")
    assert "for stacks tencent-exmail, exmail-*" in att.document  # shown in every finding
    gone = {k: v for k, v in GOOD.items() if k != "stacks"}
    with pytest.raises(attestations.AttestationsError) as info:
        attestations.load(_write(tmp_path, [gone]), today=date(2026, 12, 7))
    said = str(info.value)
    assert "attestations[0] (ATT-2026-009): stacks: missing: every attestation names" in said


def test_an_attestation_covers_only_the_stacks_it_names(monkeypatch: pytest.MonkeyPatch) -> None:
    att = Attestation("ATT-1", "Tencent Exmail (*)", "Ms Chan, Tencent", "letter 2026-11",
                      date(2026, 11, 1), date(2027, 11, 1), ("harbour-*",))  # fmt: skip
    monkeypatch.setattr(attestations, "on_file", lambda: (att,))

    def mx_in(stack: str) -> Resource:
        urn = f"urn:pulumi:{stack}::hk-mail::{RECORD}::mx1"
        return Resource(urn, RECORD, "mx1", record("mx1", "MX", "mxbiz1.qq.com.").props, False,
                        HK, None)  # fmt: skip

    ours, theirs = mx_in("harbour-prod"), mx_in("kowloon-prod")
    [msg] = messages("residency-mail-storage", ours, ctx(ours))
    assert msg.startswith(f"{DECLARED_PREFIX}attestation ATT-1]")
    [blocked] = messages("residency-mail-storage", theirs, ctx(theirs))
    assert not blocked.startswith(DECLARED_PREFIX) and "not published" in blocked


def test_the_repo_attestations_file_loads_and_marks_its_examples() -> None:
    loaded = attestations.load()
    assert loaded and all(a.document.startswith(attestations.EXAMPLE_MARK) for a in loaded)
    assert attestations.system_glob("tencent-exmail") == "Tencent Exmail (*)"


# --- the facts table and the library agree ---------------------------------------------------


def test_every_host_the_library_presets_name_is_in_the_pack_table() -> None:
    for name in ("tencent-exmail", "alibaba-mail"):
        suite = SUITES[name]
        assert {mail_systems.by_mx(mx.host).id for mx in suite.mx} == {name}  # type: ignore[union-attr]
        for include in suite.spf_includes:
            assert mail_systems.by_spf_include(include).id == name  # type: ignore[union-attr]
    assert mail_systems.by_spf_include(TENCENT_SES_SPF_INCLUDE).id == "tencent-ses"  # type: ignore[union-attr]
    for include in DIRECTMAIL_SPF_INCLUDES.values():
        system = mail_systems.by_spf_include(include)
        assert system is not None and system.jurisdiction == "outside"
    for system in mail_systems.SYSTEMS:
        assert system.fact and ("checked 2026-12-07" in system.fact or system.id == "tencent-ses")
    assert HONG_KONG_RELAYS  # the private server's relay: judged by residency-embedded-region


# --- the real gate --------------------------------------------------------------------------


def _project(tmp: Path, stacks: dict[str, dict[str, Any]]) -> Path:
    (tmp / "stacks").mkdir(parents=True)
    project = yaml.safe_load((REPO / "Pulumi.yaml").read_text())
    project["main"] = str(REPO)
    project["runtime"]["options"]["virtualenv"] = str(REPO / ".venv")
    (tmp / "Pulumi.yaml").write_text(yaml.safe_dump(project))
    for name, cfg in stacks.items():
        (tmp / "stacks" / f"Pulumi.{name}.yaml").write_text(yaml.safe_dump({"config": cfg}))
    return tmp


def test_gate_blocks_undeclared_mail_flows_and_shows_attested_ones(tmp_path: Path) -> None:
    exmail = copy.deepcopy(stack_config("tencent-exmail"))
    exmail.pop("hkmail:mailFlows")  # undeclared: the gate must block
    foreign = copy.deepcopy(exmail)
    domain = foreign["hkmail:domains"][0]
    domain["mail"] = {"suite": "custom", "mx": [{"host": "mail.example.net", "priority": 10}]}
    domain["spf"] = {"include": ["_spf.sender.example"]}
    domain["dmarc"] = {"policy": "reject", "ruf": ["ruf@reports.example.net"],
                       "rua": ["agg@reports.example.net"]}  # fmt: skip
    domain.pop("autodiscovery")
    domain["mtaSts"]["mode"] = "none"
    # Alibaba Mail's Hong Kong site: MX from the console, storage location not published
    alihk = copy.deepcopy(exmail)
    alihk["hkmail:domains"][0]["mail"] = {
        "suite": "alibaba-mail-hk",
        "mx": [{"host": "mx1.console-given.example", "priority": 5}],
    }
    project = _project(tmp_path / "p", {"exmail": exmail, "foreign": foreign, "alihk": alihk})
    # on file: only the foreign MX host, attested by its operator
    path = _write(tmp_path, [{**GOOD, "system": "mail.example.net", "confirmedBy": "Example Net",
                              "stacks": ["foreign"]}])  # fmt: skip
    out = subprocess.run(
        [str(REPO / "scripts" / "gate"), "--project", str(project), "--all-stacks",
         "--pass-env", attestations.ENV_FILE, "--format", "json"],
        capture_output=True, text=True, timeout=900,
        env={**os.environ, attestations.ENV_FILE: str(path)},
    )  # fmt: skip
    assert out.returncode == 1, out.stderr[-3000:]
    stacks = {s["stack"]: s["violations"] for s in json.loads(out.stdout)["stacks"]}

    def blocking(stack: str) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for v in stacks[stack]:
            if v["enforcementLevel"] == "mandatory" and v["policyName"].startswith(
                "residency-mail"
            ):
                found.setdefault(v["policyName"], []).append(v["message"])
        return found

    ex = blocking("exmail")
    assert set(ex) == {"residency-mail-storage", "residency-mail-senders"}
    assert any("Tencent Exmail (mxbiz1.qq.com)" in m for m in ex["residency-mail-storage"])
    hk = blocking("alihk")
    assert list(hk) == ["residency-mail-storage"], hk
    assert (
        "mx1.console-given.example (storage location not published)"
        in hk["residency-mail-storage"][0]
    )
    fo = blocking("foreign")
    assert set(fo) == {"residency-mail-senders", "residency-mail-failure-reports"}
    assert any("_spf.sender.example" in m for m in fo["residency-mail-senders"])
    attested = [v for v in stacks["foreign"] if v["policyName"] == "residency-mail-storage"]
    assert attested and all(v["enforcementLevel"] == "advisory" for v in attested)
    assert "attestation ATT-2026-009" in attested[0]["message"]
    # the JSON says which attestation admitted which flow
    doc = {s["stack"]: s for s in json.loads(out.stdout)["stacks"]}
    by = {f["via"]: f["declaredBy"] for f in doc["foreign"]["mailFlows"]}
    assert by["MX harbourtrading.com.hk -> mail.example.net"] == "attestation ATT-2026-009", by
    assert all(f["declaredBy"] is None for f in doc["exmail"]["mailFlows"])
    aggregate = [v for v in stacks["foreign"]
                 if v["policyName"] == "residency-mail-aggregate-reports"]  # fmt: skip
    assert aggregate and all(v["enforcementLevel"] == "advisory" for v in aggregate)


def test_gate_blocks_a_smarthost_of_unknown_location_unless_attested_for_the_stack(
    tmp_path: Path,
) -> None:
    entry = {**GOOD, "system": "smtp.relay.example.net", "confirmedBy": "Relay Example Ltd"}
    path = _write(tmp_path, [{**entry, "stacks": ["attested"]}])
    out = subprocess.run(
        [str(REPO / "scripts" / "gate"), "--project", str(REPO / "tests/projects/relay_smarthost"),
         "--all-stacks", "--pass-env", attestations.ENV_FILE, "--format", "json"],
        capture_output=True, text=True, timeout=900,
        env={**os.environ, attestations.ENV_FILE: str(path)},
    )  # fmt: skip
    assert out.returncode in (0, 1), out.stderr[-3000:]
    relay = {
        s["stack"]: [v for v in s["violations"] if v["policyName"] == "residency-mail-relay"]
        for s in json.loads(out.stdout)["stacks"]
    }
    [foreign] = relay["foreign"]
    assert foreign["enforcementLevel"] == "mandatory", foreign
    assert (
        "relayhost smtp.relay.example.net:465 of alicloud:ecs/instance:Instance 'mail'"
        in (foreign["message"])
    )
    assert "storage location not published" in foreign["message"]
    [attested] = relay["attested"]  # the same relay, attested for this stack only
    assert attested["enforcementLevel"] == "advisory"
    assert "attestation ATT-2026-009" in attested["message"]
    assert relay["hongkong"] == []  # smtp.qcloudmail.com: Tencent SES Hong Kong


# --- plans and reports read the flows from the pack's findings ------------------------------


def test_report_rows_show_each_flow_with_its_status(monkeypatch: pytest.MonkeyPatch) -> None:
    from toolchain import mailflows as shown
    from toolchain.gate.core import Violation

    att = Attestation("ATT-1", "Tencent Exmail (*)", "Ms Chan, Tencent", "letter 2026-11",
                      date(2026, 11, 1), date(2027, 11, 1))  # fmt: skip
    mx = record("mx1", "MX", "mxbiz1.qq.com.")
    spf = record("spf", "TXT", "v=spf1 include:_spf.sender.example -all")

    def violation(rule: str, resource: Resource, exempt: str = "") -> Violation:
        [msg] = messages(rule, resource, ctx(mx, spf))
        if exempt:
            msg = f"[exempt: {exempt}] {msg} Exempted until 2027-06-30 (DPA-1; approved by dpo)."
        level = "advisory" if msg.startswith(("[declared", "[exempt")) else "mandatory"
        msg = f"{RULES_BY_ID[rule].description}\n{msg}"  # as the gate reports it
        return Violation(rule, "hk-mail-residency", "0.1.0", level, "critical", resource.urn,
                         resource.type, resource.name, msg, exempt=bool(exempt),
                         exemption=exempt)  # fmt: skip

    blocked = [violation("residency-mail-storage", mx), violation("residency-mail-senders", spf)]
    rows = shown.rows(blocked)
    assert [(r.kind, r.blocking, r.needs_declaration) for r in rows] == [
        ("mail-storage", True, True),
        ("mail-relay", True, True),
    ]
    assert rows[0].destination == "Tencent Exmail (mxbiz1.qq.com) (storage location not published)"
    assert rows[0].via == "MX example.com.hk -> mxbiz1.qq.com"
    assert shown.mailbox_status(rows) == "BLOCKED: location not Hong Kong / not published"
    monkeypatch.setattr(attestations, "on_file", lambda: (att,))
    [attested] = shown.rows([violation("residency-mail-storage", mx)])
    assert attested.status.startswith("attested (attestation ATT-1): Hong Kong storage by Ms Chan")
    assert not attested.needs_declaration
    assert attested.declared_by == "attestation ATT-1"
    md = "\n".join(shown.to_markdown([attested, *rows], lambda t: t.replace("|", "\\|")))
    assert "#### Mail data flows" in md and "| attested (attestation ATT-1): Hong Kong" in md
    assert "BLOCKED: not Hong Kong or not published" in md
    [declared] = shown.rows([violation("residency-mail-senders", spf, exempt="EX-2026-002")])
    assert declared.status == (
        "declared cross-border by exemption EX-2026-002 until 2027-06-30 (DPA-1; approved by dpo)"
    )
    assert declared.declared_by == "exemption EX-2026-002"


def test_the_readme_first_command_says_the_suite_storage_must_be_confirmed() -> None:
    out = subprocess.run(
        [str(REPO / "scripts" / "plan"), "--stack", "tencent-exmail", "--gate"],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    flows = out.stdout.split("Mail data flows (where the mail itself goes):", 1)[1]
    flows = flows.split("Policy gate for stack", 1)[0]
    assert "Tencent Exmail (mxbiz1.qq.com) (storage location not published)" in flows
    assert "attested (attestation ATT-2026-001)" in flows
    assert "Action needed (mail data flows):" in flows and "EXAMPLE" in flows
    assert all(len(line) <= 100 for line in flows.splitlines())
    assert out.stdout.rstrip().endswith("PASS: no mandatory violation")
