"""The zone export, served by a real authoritative DNS server (Knot, from Debian's packages) on a
loopback port: dnspython queries return exactly the records the plan would create."""

from __future__ import annotations

import subprocess
from pathlib import Path

import dns.message
import dns.query
import dns.rdatatype
import pytest

from hkmail.records import Record
from hkmail.records import spf as spf_
from program import run
from tests.conftest import stack_config
from tests.support import REPO, knot, run_in_process
from toolchain.zone import planned_records, zone_text


def query(port: int, name: str, rdtype: str) -> set[str]:
    request = dns.message.make_query(name, rdtype)
    response = dns.query.tcp(request, "127.0.0.1", port=port, timeout=5)
    out: set[str] = set()
    for rrset in response.answer:
        if rrset.rdtype == dns.rdatatype.from_text(rdtype):
            out |= {rd.to_text() for rd in rrset}
    return out


def planned_zones(stack: str) -> dict[str, tuple[str, list[Record], list[str]]]:
    resources = run_in_process(lambda: run(stack_config(stack)), stack=stack)
    return planned_records(resources)


@pytest.mark.integration
@pytest.mark.parametrize(
    "stack", ["tencent-exmail", "tencent-ses", "alibaba-mail", "alibaba-directmail"]
)
def test_planned_zone_is_served_exactly(stack: str, tmp_path: Path) -> None:
    zones = planned_zones(stack)
    assert zones
    texts = {
        z: zone_text(z, recs, provider, pending) for z, (provider, recs, pending) in zones.items()
    }
    with knot(tmp_path, texts) as server:
        for zone, (_, records, _) in zones.items():
            expected: dict[tuple[str, str], set[str]] = {}
            for r in records:
                expected.setdefault((r.fqdn, r.rdtype), set()).add(r.rdata.to_text())
            assert expected, zone
            for (name, rdtype), values in expected.items():
                assert query(server.port, name, rdtype) == values, (name, rdtype)
            # A DKIM key longer than 255 bytes comes back as the same key, whatever the split.
            for r in records:
                if r.rdtype == "TXT" and "DKIM1" in r.txt:
                    response = dns.query.tcp(
                        dns.message.make_query(r.fqdn, "TXT"),
                        "127.0.0.1",
                        port=server.port,
                        timeout=5,
                    )
                    [rd] = list(response.answer[0])
                    assert b"".join(rd.strings).decode() == r.txt


@pytest.mark.integration
def test_spf_lookup_cost_through_the_served_zone(tmp_path: Path) -> None:
    zones = planned_zones("tencent-exmail")
    provider, records, pending = zones["harbourtrading.com.hk"]
    # Publish the include chain of a CRM vendor next to ours, with one include that is void.
    vendor = [
        Record(
            "vendor.example",
            "_spf",
            "TXT",
            '"v=spf1 include:_a.vendor.example include:_gone.vendor.example -all"',
            600,
            "t",
        ),
        Record(
            "vendor.example",
            "_a",
            "TXT",
            '"v=spf1 ip4:192.0.2.0/24 a:mail.vendor.example -all"',
            600,
            "t",
        ),
    ]
    texts = {
        "harbourtrading.com.hk": zone_text("harbourtrading.com.hk", records, provider, pending),
        "vendor.example": zone_text("vendor.example", vendor, "dnspod"),
    }
    with knot(tmp_path, texts) as server:

        def resolve(name: str, rdtype: str) -> list[str] | None:
            if not (name.endswith("vendor.example") or name.endswith("harbourtrading.com.hk")):
                return None  # spf.mail.qq.com is on the Internet, not on this loopback server
            if rdtype == "TXT":
                response = dns.query.tcp(
                    dns.message.make_query(name, "TXT"), "127.0.0.1", port=server.port, timeout=5
                )
                return [b"".join(rd.strings).decode() for rrset in response.answer for rd in rrset]
            return sorted(query(server.port, name, rdtype))

        ours = spf_.evaluate("harbourtrading.com.hk", resolve)
        assert ours.lookups == 1 and ours.unknown == ("spf.mail.qq.com",)
        theirs = spf_.evaluate("_spf.vendor.example", resolve)
        assert theirs.lookups == 3  # include:_a, include:_gone and, inside _a, a:mail
        assert theirs.void_lookups == 2  # _gone has no SPF, mail.vendor.example has no A
        assert theirs.within_limits


@pytest.mark.integration
def test_scripts_plan_zone_output_loads_into_the_server(tmp_path: Path) -> None:
    """The user's path: `scripts/plan --format zone`, then load the files into a DNS server."""
    done = subprocess.run(
        [str(REPO / "scripts" / "plan"), "--stack", "alibaba-mail", "--format", "zone"],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    files: dict[str, list[str]] = {}
    current = None
    for line in done.stdout.splitlines():
        if line.startswith("; zone "):  # each zone's header, once
            current = line.split()[2]
            files[current] = [line]
        elif current is not None:
            files[current].append(line)
    assert list(files) == ["pedderlaw.com.hk"]
    with knot(tmp_path, {z: "\n".join(lines) + "\n" for z, lines in files.items()}) as server:
        assert query(server.port, "pedderlaw.com.hk", "MX") == {
            "5 mx1.qiye.aliyun.com.",
            "10 mx2.qiye.aliyun.com.",
            "15 mx3.qiye.aliyun.com.",
        }
        assert query(server.port, "_dmarc.pedderlaw.com.hk", "TXT") == {
            '"v=DMARC1; p=reject; sp=reject; rua=mailto:dmarc@pedderlaw.com.hk; adkim=s"'
        }
        assert query(server.port, "_submissions._tcp.pedderlaw.com.hk", "SRV") == {
            "0 1 465 smtp.qiye.aliyun.com."
        }
