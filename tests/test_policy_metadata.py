"""The pack's declarative parts against their sources: the installed SDKs (type tokens, property
paths, the generated region map), the control catalogue, and the generated README."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

POLICIES = Path(__file__).resolve().parent.parent / "policies"
sys.path[:0] = [str(POLICIES), str(POLICIES / "tools")]

import field_roles  # noqa: E402
import gen_readme  # noqa: E402
import region_coverage  # noqa: E402
import service_defaults  # noqa: E402
from hkmail_policy import endpoints, regions  # noqa: E402
from hkmail_policy.config import validate as validate_config  # noqa: E402
from hkmail_policy.controls import CONTROLS  # noqa: E402
from hkmail_policy.rules import RULES, RULES_BY_ID, durability, encryption, exposure, mailauth  # noqa: E402  # noqa: E402

Sdk = tuple[dict[str, object], dict[str, set[str]]]


@pytest.fixture(scope="module")
def sdk() -> Sdk:
    data, _, every = region_coverage.generate()
    return data, every


def test_region_map_is_current_with_the_installed_sdks(sdk: Sdk) -> None:
    data, _ = sdk
    committed = (POLICIES / "hkmail_policy" / "region_properties.json").read_text()
    assert committed == region_coverage.render(data), (
        "stale: run python policies/tools/region_coverage.py"
    )


def test_service_defaults_are_current_with_the_installed_sdks(sdk: Sdk) -> None:
    # regenerated from the same SDK walk as the region map (cached in this process)
    committed = (POLICIES / "hkmail_policy" / "service_defaults.json").read_text()
    assert committed == service_defaults.render(service_defaults.generate()), (
        "stale: run python policies/tools/service_defaults.py"
    )
    assert service_defaults.main(["--check"]) == 0


def test_field_roles_are_current_with_the_installed_sdks(sdk: Sdk) -> None:
    # regenerated from the same SDK walk as the region map (cached in this process)
    committed = (POLICIES / "hkmail_policy" / "field_roles.json").read_text()
    assert committed == field_roles.render(field_roles.generate()), (
        "stale: run python policies/tools/field_roles.py"
    )
    roles = json.loads(committed)["roles"]
    # direction, from the schema and its docs (issue 18, classes 1, 6, 7)
    assert roles["tencentcloud:Mysql/drInstance:DrInstance"]["masterRegion"] == "source"
    assert roles["alicloud:hbr/replicationVault:ReplicationVault"]["replicationSourceRegionId"] == (
        "source"
    )
    assert roles["alicloud:ecs/imageCopy:ImageCopy"] == {"sourceRegionId": "source"}
    assert roles["alicloud:oss/bucketReplication:BucketReplication"]["destination.location"] == (
        "destination"
    )
    assert roles["tencentcloud:Cos/bucket:Bucket"]["originPullRules[].host"] == "source"
    assert roles["alicloud:eci/containerGroup:ContainerGroup"]["containers[].image"] == "source"
    assert roles["tencentcloud:Tcr/instance:Instance"]["replications[].regionName"] == (
        "destination"
    )
    assert roles["alicloud:dns/alidnsRecord:AlidnsRecord"]["line"] == "read"
    assert roles["tencentcloud:Dnspod/record:Record"]["recordLine"] == "read"
    # environment inputs, from the schema's shape (issue 18 class 3): maps and key/value lists;
    # a plain string of that name (API Gateway's deployment stage) is not an environment
    envs = json.loads(committed)["environments"]
    assert envs["alicloud:fc/v3Function:V3Function"] == {"environmentVariables": {"form": "map"}}
    assert envs["tencentcloud:Scf/function:Function"] == {"environment": {"form": "map"}}
    assert envs["alicloud:eci/containerGroup:ContainerGroup"]["containers[].environmentVars[]"] == {
        "form": "pairs",
        "name": "key",
        "value": "value",
    }
    assert envs["tencentcloud:Tsf/deployContainerGroup:DeployContainerGroup"]["envs[]"]["name"] == (
        "name"
    )
    assert "tencentcloud:ApiGateway/apiAppAttachment:ApiAppAttachment" not in envs
    assert roles["alicloud:mns/topicSubscription:TopicSubscription"]["endpoint"] == "destination"
    assert roles["alicloud:vpc/switch:Switch"]["zoneId"] == "placement"
    assert set(json.loads(committed)["counts"]) <= {"placement", "destination", "source",
                                                    "both", "read"}  # fmt: skip


@pytest.mark.parametrize(
    ("doc", "kind", "default"),
    [
        ("The region where the CLS is delivered. The default value is ap-shanghai.", "str",
         "ap-shanghai"),
        ("Purchase order region, only 1 Guangzhou, 9 Singapore is supported here. Default is 1.",
         "int", 1),
        ("Interworking area A. Default value: `China-mainland`.", "str", "China-mainland"),
        ("supports cn-hangzhou and ap-southeast-1, and is cn-hangzhou by default.", "str",
         "cn-hangzhou"),
        ("Load balancer region. Default value is the region of current auto scaling group.",
         "str", None),
        ("Period. Default value: `1`.", "str", None),  # a number is a region id only in an int
    ],
)  # fmt: skip
def test_service_default_extraction(doc: str, kind: str, default: object) -> None:
    found = service_defaults.region_default(doc, kind)
    assert (found[0] if found else None) == default


SDK_HOST = re.compile(
    r"(?<![A-Za-z0-9.-])((?:[A-Za-z0-9-]+\.)+(?:aliyuncs|aliyun|myqcloud|tencentcs|qcloudmail)\.com)",
    re.I,
)
DATA_LABEL = re.compile(r"(?i)(^|[.-])(oss|log|cos|cls|smtp|smtpdm|dm|apigw|mns)([.-]|$)")
SDK_REGION = re.compile(
    r"(?<![A-Za-z0-9_-])((?:cn|ap|us|eu|me|na|sa)-[a-z]+(?:-[a-z]+)*(?:-\d+)?)(?![A-Za-z0-9_-])"
)
# Region-shaped words in the SDK docs that are not regions: typos and placeholders.
SDK_NOT_REGIONS = {"ap-chongiqng", "ap-gaungzhou", "ap-xxx", "ap-southeast", "ap-northeast",
                   "cn-chongqing-11", "cn-shenxxxx-x"}  # fmt: skip


@pytest.fixture(scope="module")
def sdk_sources() -> list[str]:
    texts = []
    for package in region_coverage.SDKS:
        spec = importlib.util.find_spec(package)
        assert spec is not None and spec.origin is not None
        texts += [f.read_text(errors="replace") for f in Path(spec.origin).parent.rglob("*.py")]
    return texts


def test_every_data_service_host_in_the_sdks_is_classified(sdk_sources: list[str]) -> None:
    """Storage, log, queue, mail and gateway hosts the SDKs' own docs use: each one's region is
    known to the pack (a region id in it, or the host table), so none passes unrecognised."""
    hosts = {
        host
        for text in sdk_sources
        for m in SDK_HOST.finditer(text)
        if DATA_LABEL.search((host := m.group(1).lower()).rsplit(".", 2)[0])
    }
    assert len(hosts) > 20, hosts
    unclassified = [
        h
        for h in sorted(hosts)
        if not regions.embedded_regions(h) and not list(endpoints.mentions(h))
    ]
    assert unclassified == []


def test_every_region_id_in_the_sdks_is_known(sdk_sources: list[str]) -> None:
    """The region vocabulary covers every region (and zone) id the providers' docs mention."""
    unknown = {
        m.group(1)
        for text in sdk_sources
        for m in SDK_REGION.finditer(text)
        if regions.region_of(m.group(1)) is None
    }
    assert unknown <= SDK_NOT_REGIONS, sorted(unknown - SDK_NOT_REGIONS)


def test_coverage_script_check_and_report(sdk: Sdk, capsys: pytest.CaptureFixture[str]) -> None:
    # as a user runs it (in-process, reusing the one SDK walk of this module)
    assert region_coverage.main(["--check", "--report"]) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert "alicloud:ecs/snapshotPolicy:SnapshotPolicy\ttargetCopyRegions[]\tcopy-target" in lines
    assert "tencentcloud:Cbs/storage:Storage\tavailabilityZone\tplacement" in lines
    assert "pulumi_alicloud: " in err and "tencentcloud_iac_pulumi: " in err
    assert "region/zone paths" in err


def test_readme_script_check_runs_as_a_user_runs_it() -> None:
    out = subprocess.run(
        [sys.executable, str(POLICIES / "tools" / "gen_readme.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_region_map_covers_the_known_leaks(sdk: Sdk) -> None:
    types = sdk[0]["types"]
    assert isinstance(types, dict)
    assert "targetCopyRegions[]" in types["alicloud:ecs/snapshotPolicy:SnapshotPolicy"]
    assert "destination.location" in types["alicloud:oss/bucketReplication:BucketReplication"]
    assert "replicaRules[].destinationBucket" in types["tencentcloud:Cos/bucket:Bucket"]
    assert "availabilityZone" in types["tencentcloud:Instance/instance:Instance"]
    assert "zoneMappings[].zoneId" in types["alicloud:alb/loadBalancer:LoadBalancer"]
    # not geographic: time zones, DNS zone names, booleans
    flat = {p for paths in types.values() for p in paths}
    assert not {"timeZone", "zoneName", "enableCrossRegionCopy"} & flat
    ali = [t for t in types if t.startswith("alicloud:")]
    tc = [t for t in types if t.startswith("tencentcloud:")]
    assert len(ali) > 150 and len(tc) > 100  # DESIGN.md: about 100 Alibaba, 60 Tencent types


def _referenced() -> dict[str, set[str]]:
    """Every (type token -> property paths) a rule table names."""
    refs: dict[str, set[str]] = {}
    for token, reqs in encryption.REQUIREMENTS.items():
        for r in reqs:
            base = f"{r.each}[]." if r.each else ""
            paths = {base + r.key} | ({base + r.on} if r.on else set())
            refs.setdefault(token, set()).update(paths)
    for token in exposure.ACL_TYPES:
        refs.setdefault(token, set()).add("acl")
    refs.setdefault("tencentcloud:Cos/bucket:Bucket", set()).add("aclBody")
    for token in exposure.POLICY_TYPES:
        refs.setdefault(token, set()).add("policy")
    for token in durability.DATA_BEARING:
        refs.setdefault(token, set())
    for token, shape in mailauth.RECORD_SHAPES.items():
        refs.setdefault(token, set()).update({shape.type, shape.name, shape.domain, shape.value})
    refs.setdefault(encryption.OSS_SSE, set()).add("bucket")
    return refs


def test_rule_tables_name_real_tokens_and_properties(sdk: Sdk) -> None:
    every = sdk[1]
    problems = []
    for token, paths in _referenced().items():
        if token not in every:
            problems.append(f"unknown type {token}")
            continue
        problems += [f"{token}: no input {p}" for p in sorted(paths - every[token])]
    assert problems == []


def test_type_prefix_rules_match_sdk_types(sdk: Sdk) -> None:
    every = sdk[1]
    for rule_id in ("residency-no-hk-service", "residency-global-edge"):
        for prefix in RULES_BY_ID[rule_id].defaults()["typePrefixes"]:
            assert any(t.startswith(prefix) for t in every), (rule_id, prefix)


def test_rules_are_complete_and_cite_controls_in_force() -> None:
    assert not any("s33" in c.replace(".", "") for c in CONTROLS)
    for rule in RULES:
        assert rule.description and rule.remediation and rule.title
        assert rule.controls and all(c in CONTROLS for c in rule.controls), rule.id
        assert rule.severity in ("low", "medium", "high", "critical")
        for key, schema in rule.config_schema.items():
            assert "default" in schema and "description" in schema, (rule.id, key)
    residency = [r for r in RULES if r.id.startswith("residency-")]
    # aggregate mail reports carry no message content: advisory by default (README, "Mail data
    # flows"); reads elsewhere and hosts of unknown location are reported, never blocking (issue
    # 18); every other residency rule blocks
    advisory = {
        "residency-mail-aggregate-reports",
        "residency-read-elsewhere",
        "residency-unknown-recipient",
    }
    assert residency and all(
        r.enforcement == ("advisory" if r.id in advisory else "mandatory") for r in residency
    )
    readme = (POLICIES / "README.md").read_text()
    assert "PDPO s.33" in readme and "never\nbeen brought into operation" in readme


def test_every_control_a_rule_uses_names_its_source() -> None:
    used = {c for rule in RULES for c in rule.controls}
    assert used, "no rule cites a control"
    for cid in sorted(used):
        control = CONTROLS[cid]
        # document, section and date, each stated (or plainly "unverified"), never blank
        for part in (control.document, control.section, control.date):
            assert part.strip() and part.strip() not in ("?", "TBD"), cid
        assert control.document in control.source and control.date in control.source, cid
        assert any(ch.isdigit() for ch in control.date) or "unverified" in control.date, cid


def test_evidence_only_instruments_serve_no_rule() -> None:
    evidence = {c.id for c in CONTROLS.values() if c.evidence_only}
    assert "GBA-SC-2023" in evidence
    for rule in RULES:
        assert not evidence & set(rule.controls), rule.id
    gba = CONTROLS["GBA-SC-2023"]
    for fact in ("voluntary", "nine Mainland cities", "Digital Policy Office", "10 working days"):
        assert fact in gba.title


def test_control_mapping_follows_what_each_control_requires() -> None:
    durable = set(RULES_BY_ID["durability-protect-data"].controls)
    # deletion protection is not a backup (8.13); DPP2(2) is a duty NOT to keep data too long
    assert not durable & {"ISO27001-A.8.13", "PDPO-DPP2", "SFC-EDS-2019"}
    assert {"SFC-KRR", "ISO27001-A.5.33"} <= durable
    for rule in RULES:
        if rule.id.startswith("mailauth-"):
            assert "ISO27001-A.5.14" in rule.controls, rule.id
    assert "ISO27001-A.8.24" in RULES_BY_ID["mailauth-dkim-key-strength"].controls
    # the statements a reviewer relies on, as the issue and DESIGN.md state them
    assert "Guidance on Cloud Computing" in CONTROLS["HKMA-CLOUD-2022"].document
    # B1/15C is the circular's reference; "B9/30C" could not be found (issue 25): unverified
    assert "B1/15C" in CONTROLS["HKMA-CLOUD-2022"].document
    assert "B9/30C" not in CONTROLS["HKMA-CLOUD-2022"].document.replace(
        '"B9/30C" could not be found: unverified', ""
    )
    sfc = CONTROLS["SFC-EDS-2019"].title
    for part in (
        "s.130 SFO",
        "two managers-in-charge",
        "Hong Kong data centre",
        "undertaking",
        "EDSP-countersigned notice",
        "replace both routes",
        "one manager-in-charge",
    ):
        assert part in sfc
    assert CONTROLS["HKMA-SA-2"].date == "V.1, 28 Dec 2001"
    gba = CONTROLS["GBA-SC-2023"]
    assert "2023 No. 3" in gba.date and "1 Nov 2024" in gba.title
    assert "express or implied" in CONTROLS["PDPO-s65(2)"].title
    assert "Cap. 571O" in CONTROLS["SFC-KRR"].document


def test_readme_is_generated_from_the_rules() -> None:
    assert (POLICIES / "README.md").read_text() == gen_readme.render(), (
        "stale: run python policies/tools/gen_readme.py"
    )
    for rule in RULES:
        assert f"### {rule.id}" in gen_readme.render()


def test_example_config_only_names_real_rules_and_settings() -> None:
    example = json.loads((POLICIES / "config.example.json").read_text())
    assert validate_config(example, RULES_BY_ID) == []
    assert validate_config({"residency-typo": {}}, RULES_BY_ID) != []
