"""The provider-neutral records model against the RFC rules it implements."""

from __future__ import annotations

import base64
from typing import Any

import dns.rdtypes.ANY.TXT
import pytest

from hkmail.components.dns_providers import ALIDNS, DNSPOD, provider_records
from hkmail.errors import ProviderLimitError, RecordError
from hkmail.records import Record, domain_records, stack_records, txt_record
from hkmail.records import spf as spf_
from hkmail.records.dkim import DkimKeyRecord
from hkmail.records.dmarc import DmarcRecord
from hkmail.records.mtasts import MtaStsPolicy, policy_for
from hkmail.spec import read_stack
from tests.conftest import ed25519_key_b64, public_key_b64, stack_config


def spec_of(*domains: dict[str, Any], provider: str = "dnspod") -> Any:
    region = {
        "dnspod": ("tencentcloud:region", "ap-hongkong"),
        "alidns": ("alicloud:region", "cn-hongkong"),
    }[provider]
    return read_stack(
        {region[0]: region[1], "hkmail:dnsProvider": provider, "hkmail:domains": list(domains)}
    )


def by_purpose(rs: Any, purpose: str) -> list[Record]:
    return [r for r in rs.records if r.purpose == purpose]


# --- SPF -------------------------------------------------------------------------------------


def test_spf_counts_lookup_terms_and_refuses_more_than_ten() -> None:
    includes = [f"spf{i}.example.net" for i in range(9)]
    record = spf_.build(includes=includes, mx=True, ip4=["192.0.2.1"])
    assert len(record.lookup_terms) == 10  # ip4 and all cost nothing
    with pytest.raises(RecordError, match=r"11 DNS-lookup terms.*RFC 7208 4.6.4"):
        spf_.build(includes=includes, mx=True, a=True)


def test_spf_round_trips_through_text() -> None:
    text = "v=spf1 a mx/24 ip4:192.0.2.0/24 include:spf.mail.qq.com ~all redirect=_spf.example.net"
    parsed = spf_.SpfRecord.from_text(text)
    assert parsed.to_text() == text
    assert [t.name for t in parsed.lookup_terms] == ["a", "mx", "include", "redirect"]
    with pytest.raises(RecordError):
        spf_.SpfRecord.from_text("v=spf1 include spf.example.net -all")


def test_spf_evaluation_counts_nested_and_void_lookups() -> None:
    zone = {
        ("example.hk", "TXT"): ["v=spf1 include:a.example.net include:gone.example.net mx -all"],
        ("a.example.net", "TXT"): ["v=spf1 include:b.example.net a:host.example.net -all"],
        ("b.example.net", "TXT"): ["v=spf1 ip4:192.0.2.0/24 -all"],
        ("gone.example.net", "TXT"): [],
        ("host.example.net", "A"): [],
        ("example.hk", "MX"): ["10 mx.example.hk."],
    }
    cost = spf_.evaluate("example.hk", lambda n, t: zone.get((n, t)))
    assert cost.lookups == 5  # include a, include gone, mx, include b, a:host
    assert cost.void_lookups == 2  # gone.example.net has no SPF, host.example.net no A
    assert cost.within_limits
    zone[("b.example.net", "TXT")] = [
        "v=spf1 " + " ".join(f"a:h{i}.example.net" for i in range(7)) + " -all"
    ]
    over = spf_.evaluate("example.hk", lambda n, t: zone.get((n, t)))
    assert over.lookups == 12 and not over.within_limits
    assert "unknown" not in over.chain and over.unknown  # h0.. are not served by this resolver


def test_spf_include_loop_is_an_error() -> None:
    zone = {
        ("x.hk", "TXT"): ["v=spf1 include:y.hk -all"],
        ("y.hk", "TXT"): ["v=spf1 include:x.hk -all"],
    }
    with pytest.raises(RecordError, match="loop"):
        spf_.evaluate("x.hk", lambda n, t: zone.get((n, t)))


def test_suite_includes_and_stack_includes_merge_once() -> None:
    spec = spec_of(
        {
            "name": "a.hk",
            "mail": {"suite": "tencent-exmail"},
            "spf": {"include": ["spf.mail.qq.com", "_spf.crm.example.net"], "all": "~all"},
        }
    )
    [record] = by_purpose(domain_records(spec.domains[0]), "spf")
    assert record.txt == "v=spf1 include:spf.mail.qq.com include:_spf.crm.example.net ~all"


# --- DKIM ------------------------------------------------------------------------------------


def test_rsa_2048_dkim_is_split_into_255_byte_strings() -> None:
    key = public_key_b64(2048)
    spec = spec_of(
        {
            "name": "a.hk",
            "mail": {"suite": "tencent-exmail"},
            "dkim": [{"selector": "s1", "publicKey": key}],
        }
    )
    [record] = by_purpose(domain_records(spec.domains[0]), "dkim:s1")
    assert record.name == "s1._domainkey"
    assert isinstance(record.rdata, dns.rdtypes.ANY.TXT.TXT)
    strings = record.rdata.strings
    assert len(strings) == 2 and len(strings[0]) == 255 and len(strings[1]) <= 255
    assert record.txt == f"v=DKIM1; k=rsa; p={key}"
    assert DkimKeyRecord.from_text(record.txt).public_key == key


def test_ed25519_dkim_fits_one_string() -> None:
    key = ed25519_key_b64()
    spec = spec_of(
        {
            "name": "a.hk",
            "mail": {"suite": "tencent-exmail"},
            "dkim": [{"selector": "ed", "keyType": "ed25519", "publicKey": key}],
        }
    )
    [record] = by_purpose(domain_records(spec.domains[0]), "dkim:ed")
    assert isinstance(record.rdata, dns.rdtypes.ANY.TXT.TXT)
    assert len(record.rdata.strings) == 1
    assert record.txt == f"v=DKIM1; k=ed25519; p={key}"
    assert len(base64.b64decode(DkimKeyRecord.from_text(record.txt).public_key)) == 32


# --- DMARC -----------------------------------------------------------------------------------


def test_dmarc_record_and_external_report_authorisation() -> None:
    spec = spec_of(
        {
            "name": "a.hk",
            "mail": {"suite": "tencent-exmail"},
            "dmarc": {
                "policy": "reject",
                "pct": 50,
                "rua": ["r@a.hk", "agg@b.hk", "x@vendor.net"],
                "ruf": ["f@a.hk"],
                "adkim": "s",
            },
        },
        {"name": "b.hk", "mail": {"suite": "tencent-exmail"}},
    )
    sets = stack_records(spec)
    [dmarc] = by_purpose(sets["a.hk"], "dmarc")
    assert dmarc.txt == (
        "v=DMARC1; p=reject; pct=50; rua=mailto:r@a.hk,mailto:agg@b.hk,"
        "mailto:x@vendor.net; ruf=mailto:f@a.hk; fo=1; adkim=s"
    )
    assert DmarcRecord.from_text(dmarc.txt).rua == (
        "mailto:r@a.hk",
        "mailto:agg@b.hk",
        "mailto:x@vendor.net",
    )
    # b.hk is in the stack: it publishes the authorisation itself (RFC 7489 7.1) ...
    [auth] = by_purpose(sets["b.hk"], "dmarc-report-auth:a.hk")
    assert auth.fqdn == "a.hk._report._dmarc.b.hk" and auth.txt == "v=DMARC1"
    # ... vendor.net is not: the plan tells the user what vendor.net must publish.
    assert any("a.hk._report._dmarc.vendor.net" in n for n in sets["a.hk"].notes)


def test_no_mail_domain_gets_null_mx_spf_fail_and_dmarc_reject() -> None:
    spec = spec_of({"name": "parked.hk", "mail": {"suite": "none"}})
    rs = domain_records(spec.domains[0])
    assert [r.to_text() for r in rs.records] == [
        "parked.hk. 600 IN MX 0 .",
        'parked.hk. 600 IN TXT "v=spf1 -all"',
        '_dmarc.parked.hk. 600 IN TXT "v=DMARC1; p=reject; sp=reject; adkim=s; aspf=s"',
    ]


# --- MTA-STS, TLS-RPT, SRV, CAA ------------------------------------------------------------


def test_mta_sts_id_changes_when_and_only_when_the_policy_changes() -> None:
    base = policy_for("enforce", ["mx1.a.hk", "mx2.a.hk"], 604800)
    assert policy_for("enforce", ["mx2.a.hk", "mx1.a.hk"], 604800).policy_id == base.policy_id
    assert policy_for("testing", ["mx1.a.hk", "mx2.a.hk"], 604800).policy_id != base.policy_id
    assert policy_for("enforce", ["mx1.a.hk"], 604800).policy_id != base.policy_id
    assert policy_for("enforce", ["mx1.a.hk", "mx2.a.hk"], 86400).policy_id != base.policy_id
    text = base.to_text()
    assert text == (
        "version: STSv1\r\nmode: enforce\r\nmx: mx1.a.hk\r\nmx: mx2.a.hk\r\nmax_age: 604800\r\n"
    )
    assert MtaStsPolicy.from_text(text) == base


def test_mail_records_of_a_full_domain() -> None:
    spec = spec_of(
        {
            "name": "a.hk",
            "mail": {"suite": "tencent-exmail"},
            "mtaSts": {"mode": "enforce", "policyHost": {"cname": "sts.host.example.net"}},
            "tlsRpt": {"rua": ["tls@a.hk", "https://r.example.net/v1"]},
            "autodiscovery": True,
            "caa": {"issue": ["letsencrypt.org"], "iodef": "sec@a.hk"},
        }
    )
    rs = domain_records(spec.domains[0])
    text = {r.to_text() for r in rs.records}
    policy = policy_for("enforce", ["mxbiz1.qq.com", "mxbiz2.qq.com"], 604800)
    assert f'_mta-sts.a.hk. 600 IN TXT "v=STSv1; id={policy.policy_id}"' in text
    assert "mta-sts.a.hk. 600 IN CNAME sts.host.example.net." in text
    assert (
        '_smtp._tls.a.hk. 600 IN TXT "v=TLSRPTv1; rua=mailto:tls@a.hk,https://r.example.net/v1"'
        in text
    )
    assert "_submissions._tcp.a.hk. 600 IN SRV 0 1 465 smtp.exmail.qq.com." in text
    assert "_imaps._tcp.a.hk. 600 IN SRV 0 1 993 imap.exmail.qq.com." in text
    assert "_imap._tcp.a.hk. 600 IN SRV 0 0 0 ." in text  # cleartext IMAP: not offered
    assert 'a.hk. 600 IN CAA 0 issue "letsencrypt.org"' in text
    assert 'a.hk. 600 IN CAA 0 iodef "mailto:sec@a.hk"' in text
    assert "a.hk. 600 IN MX 5 mxbiz1.qq.com." in text


def test_malformed_records_cannot_be_made() -> None:
    with pytest.raises(RecordError, match="malformed"):
        Record("a.hk", "@", "MX", "ten mx.a.hk.", 600, "mx")
    with pytest.raises(RecordError, match="malformed"):
        Record("a.hk", "_imaps._tcp", "SRV", "0 1 99999 mail.a.hk.", 600, "srv")
    with pytest.raises(RecordError, match="outside zone"):
        Record("a.hk", "www.b.hk.", "A", "192.0.2.1", 600, "a")
    with pytest.raises(RecordError, match="ASCII"):
        txt_record("a.hk", "@", "v=spf1 include:例子.hk -all", 600, "spf")


# --- provider spelling, both ways ------------------------------------------------------------


@pytest.mark.parametrize("profile", [DNSPOD, ALIDNS], ids=["dnspod", "alidns"])
def test_provider_inputs_read_back_to_the_same_records(profile: Any) -> None:
    key = public_key_b64(2048)
    spec = spec_of(
        {
            "name": "a.hk",
            "mail": {"suite": "alibaba-mail"},
            "autodiscovery": True,
            "dkim": [{"selector": "s1", "publicKey": key}],
            "mtaSts": {"mode": "enforce", "policyHost": {"ipv4": ["192.0.2.7"]}},
            "caa": {"issue": ["letsencrypt.org"]},
            "dmarc": {"policy": "reject"},
        }
    )
    rs = domain_records(spec.domains[0])
    planned, warnings = provider_records(profile, rs.records)
    assert not warnings
    for p in planned:
        camel = {
            k.replace("_d", "D").replace("_t", "T").replace("_n", "N"): v
            for k, v in p.inputs.items()
        }
        back = profile.from_inputs("a.hk", camel)
        assert back.to_text() == p.record.to_text()
    mx = [p for p in planned if p.record.rdtype == "MX"]
    priority_field = "mx" if profile is DNSPOD else "priority"
    assert sorted(p.inputs[priority_field] for p in mx) == [5, 10, 15]
    assert all("qiye.aliyun.com" in p.inputs["value"] for p in mx)


def test_null_mx_is_not_publishable_on_either_provider_and_says_so() -> None:
    spec = spec_of({"name": "parked.hk", "mail": {"suite": "none"}})
    for profile in (DNSPOD, ALIDNS):
        planned, warnings = provider_records(profile, domain_records(spec.domains[0]).records)
        assert [p.record.purpose for p in planned] == ["spf", "dmarc"]
        [warning] = warnings
        assert "null MX" in warning and "parked.hk" in warning


def test_alidns_refuses_txt_over_512_bytes_with_the_reason() -> None:
    spec = spec_of(
        {
            "name": "a.hk",
            "mail": {"suite": "alibaba-mail"},
            "dkim": [{"selector": "big", "publicKey": public_key_b64(4096)}],
        },
        provider="alidns",
    )
    records = domain_records(spec.domains[0]).records
    with pytest.raises(ProviderLimitError, match="under 512 bytes"):
        provider_records(ALIDNS, records)
    planned, _ = provider_records(DNSPOD, records)  # DNSPod takes it
    assert any(p.record.purpose == "dkim:big" for p in planned)


def test_unverified_provider_figures_warn_instead_of_refusing() -> None:
    # DNSPod: TTL 120 on the free plan and MX priority 30 are accepted (the provider's own figures
    # are unverified or contradicted), and the plan says what may still be rejected at apply.
    spec = spec_of(
        {
            "name": "example.com.hk",
            "ttl": 120,
            "mail": {"suite": "custom", "mx": [{"host": "mx.example.net", "priority": 30}]},
        }
    )
    notes = stack_records(spec)["example.com.hk"].notes
    [ttl] = [n for n in notes if "TTL 120" in n]
    assert "below 600" in ttl and "unverified" in ttl and "may reject it" in ttl
    [mx] = [n for n in notes if "MX priority 30" in n]
    assert "above 20" in mx and "Terraform docs" in mx
    [record] = [r for r in stack_records(spec)["example.com.hk"].records if r.rdtype == "MX"]
    [planned], _ = provider_records(DNSPOD, [record])
    assert planned.inputs["mx"] == 30
    # Within the assumed figures: no warning.
    quiet = spec_of({"name": "example.com.hk", "mail": {"suite": "tencent-exmail"}})
    assert not [n for n in stack_records(quiet)["example.com.hk"].notes if "may reject" in n]


def test_an_unlocked_archive_retention_is_said_plainly() -> None:
    config = stack_config("private-alicloud")
    assert config["hkmail:privateServer"]["retentionLocked"] is False
    [note] = [
        n for n in stack_records(read_stack(config))["wanchaifunds.com.hk"].notes if "WORM" in n
    ]
    assert "UNLOCKED" in note and "24 hours" in note and "retentionLocked: true" in note
    config["hkmail:privateServer"]["retentionLocked"] = True
    notes = stack_records(read_stack(config))["wanchaifunds.com.hk"].notes
    assert not [n for n in notes if "UNLOCKED" in n]
