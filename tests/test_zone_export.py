"""scripts/plan --format zone as a user runs it: every example stack's export passes Knot's own
zone checker (kzonecheck), loads into a real Knot server, and no in-zone target dangles; values
known only after apply are marked, and filled in from a `pulumi stack export` with --state."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import dns.message
import dns.query
import dns.rdatatype
import pytest

from tests.support import REPO, knot, require_tool
from tests.test_plan_cli import plan
from toolchain.zone import dangling_targets

STACKS = sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in (REPO / "stacks").glob("*.yaml"))


def export(tmp_path: Path, stack: str, *args: str) -> dict[str, str]:
    target = tmp_path / f"{stack}.zone"
    out = plan("--stack", stack, "--format", "zone", "--output", str(target), *args)
    assert out.returncode == 0, out.stderr
    text = target.read_text(encoding="utf-8")
    zones = {}
    for chunk in re.split(r"\n(?=; zone )", text):
        match = re.match(r"; zone (\S+) ", chunk)
        assert match, chunk[:200]
        zones[match.group(1)] = chunk
    # each zone's header once
    assert len(re.findall(r"^; zone ", text, flags=re.M)) == len(zones)
    return zones


def _dir(tmp_path: Path) -> Path:
    path = tmp_path / "knot"
    path.mkdir(exist_ok=True)
    return path


def kzonecheck(tmp_path: Path, zone: str, text: str) -> subprocess.CompletedProcess[str]:
    binary = require_tool("kzonecheck", "knot-dnssecutils")
    path = tmp_path / f"{zone}.check"
    path.write_text(text, encoding="utf-8")
    return subprocess.run(
        [binary, "-v", "-o", zone, str(path)], capture_output=True, text=True, timeout=60
    )


def query(port: int, name: str, rdtype: str) -> set[str]:
    response = dns.query.tcp(
        dns.message.make_query(name, rdtype), "127.0.0.1", port=port, timeout=5
    )
    return {
        rd.to_text()
        for rrset in response.answer
        if rrset.rdtype == dns.rdatatype.from_text(rdtype)
        for rd in rrset
    }


def test_kzonecheck_is_a_real_judge(tmp_path: Path) -> None:
    bad = (
        "$ORIGIN example.hk.\nexample.hk. 600 IN SOA ns. h. 1 3600 180 1209600 600\n"
        "example.hk. 600 IN NS ns.example.hk.\nwww.example.hk. 600 IN CNAME a.example.hk.\n"
        'www.example.hk. 600 IN TXT "x"\n'
    )
    assert kzonecheck(tmp_path, "example.hk", bad).returncode != 0


@pytest.mark.parametrize("stack", STACKS)
def test_every_zone_passes_kzonecheck_and_serves_its_targets(tmp_path: Path, stack: str) -> None:
    zones = export(tmp_path, stack)
    for zone, text in zones.items():
        checked = kzonecheck(tmp_path, zone, text)
        assert checked.returncode == 0, (zone, checked.stdout + checked.stderr)
    pending = {
        m.group(1)
        for text in zones.values()
        for m in re.finditer(r"^; NOT YET KNOWN .*?: (\S+) A ", text, flags=re.M)
    }
    with knot(_dir(tmp_path), zones) as server:
        for zone in zones:
            targets: set[str] = set()
            for rdtype in ("MX", "CNAME"):
                for value in query(
                    server.port, zone if rdtype == "MX" else f"mta-sts.{zone}", rdtype
                ):
                    targets.add(value.split()[-1])
            for service in ("_submission._tcp", "_submissions._tcp", "_imaps._tcp"):
                targets |= {v.split()[-1] for v in query(server.port, f"{service}.{zone}", "SRV")}
            for target in targets:
                if target == "." or not target.rstrip(".").endswith(zone):
                    continue
                if target in pending:
                    continue  # the private server's address: only known after apply
                assert query(server.port, target, "A") | query(server.port, target, "AAAA"), (
                    f"{target} (in {zone}) has no address"
                )


def test_tencent_exmail_mta_sts_cname_resolves(tmp_path: Path) -> None:
    zones = export(tmp_path, "tencent-exmail")
    with knot(_dir(tmp_path), zones) as server:
        assert query(server.port, "mta-sts.harbourtrading.com.hk", "CNAME") == {
            "mta-sts-hk.harbourtrading.com.hk."
        }
        assert query(server.port, "mta-sts-hk.harbourtrading.com.hk", "A") == {"203.0.113.80"}


def test_unknown_until_apply_marked_then_filled_from_state(tmp_path: Path) -> None:
    zones = export(tmp_path, "private-tencent")
    text = zones["centralclinic.hk"]
    assert re.search(r"^; NOT YET KNOWN .*: mail\.centralclinic\.hk\. A ", text, flags=re.M)
    assert "mail.centralclinic.hk. 600 IN A" not in text
    # a `pulumi stack export` of the deployed stack: the record resource with its real value
    doc = json.loads(plan("--stack", "private-tencent", "--format", "json").stdout)
    [record] = [
        r
        for r in doc["resources"]
        if r["type"].endswith("Record") and r["inputs"].get("subDomain") == "mail"
    ]
    state = {
        "version": 3,
        "deployment": {
            "manifest": {"time": "2026-11-29T00:00:00Z", "magic": "", "version": "v3.272.0"},
            "resources": [
                {
                    "urn": record["urn"],
                    "custom": True,
                    "id": "1234567",
                    "type": record["type"],
                    "inputs": {**record["inputs"], "value": "198.51.100.7"},
                    "outputs": {**record["inputs"], "value": "198.51.100.7"},
                }
            ],
        },
    }
    state_file = tmp_path / "state.json"
    state_file.write_text(json.dumps(state), encoding="utf-8")
    filled = export(tmp_path, "private-tencent", "--state", str(state_file))["centralclinic.hk"]
    assert "NOT YET KNOWN" not in filled
    assert "; from the deployed stack's state: " in filled
    assert kzonecheck(tmp_path, "centralclinic.hk", filled).returncode == 0
    with knot(_dir(tmp_path), {"centralclinic.hk": filled}) as server:
        assert query(server.port, "mail.centralclinic.hk", "A") == {"198.51.100.7"}


def test_state_only_with_zone_format(tmp_path: Path) -> None:
    out = plan("--stack", "tencent-ses", "--state", str(tmp_path / "x.json"))
    assert out.returncode == 2 and "use it with --format zone" in out.stderr


def test_dangling_target_is_found() -> None:
    text = (
        "$ORIGIN example.hk.\nexample.hk. 600 IN SOA ns. h. 1 3600 180 1209600 600\n"
        "example.hk. 600 IN NS ns.dnspod.net.\nexample.hk. 600 IN MX 10 mx1.example.hk.\n"
        "mta-sts.example.hk. 600 IN CNAME web.example.hk.\n"
    )
    problems = dangling_targets("example.hk", text)
    assert problems == [
        "example.hk. MX points at mx1.example.hk., which has no address in the zone",
        "mta-sts.example.hk. CNAME points at web.example.hk., which has no address in the zone",
    ]
