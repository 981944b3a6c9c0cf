"""journal-archive-retention through the pack's gRPC server, on user-data the library renders."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from hkmail.mailserver import MailServerConfig, SecretRefs, user_data
from tests.policy_fixtures import Diag, PackClient, Res

RULE = "journal-archive-retention"
BUCKET_TC = "hk-archive-1250000000"
HK_ALI = Res("pulumi:providers:alicloud", "hk-ali", {"region": "cn-hongkong", "version": "4.0.0"})
HK_TC = Res("pulumi:providers:tencentcloud", "hk-tc", {"region": "ap-hongkong"})


def _config(cloud: str, bucket: str | None) -> MailServerConfig:
    refs = SecretRefs(
        cloud=cloud,  # type: ignore[arg-type]
        role_name="hkmail-mail",
        dkim_private_key="d",
        mailbox_hashes="m",
        relay_credentials="r",
        backup_password="b" if bucket else None,
    )
    return MailServerConfig(
        domain="example.hk",
        hostname="mail.example.hk",
        dkim_selector="hk1",
        admin_cidr="203.0.113.0/24",
        users=("ops",),
        mta_sts_policy="version: STSv1\r\nmode: enforce\r\nmx: mail.example.hk\r\nmax_age: 1\r\n",
        secrets=refs,
        archive_bucket=bucket,
    )


def _ali(bucket: str | None, worm_days: int | None, bucket_name: str = "hk-archive") -> list[Res]:
    ud = user_data(_config("alicloud", bucket))
    out = [
        Res("alicloud:ecs/instance:Instance", "mx", {"userData": ud}, provider=HK_ALI),
        Res("alicloud:oss/bucket:Bucket", "archive", {"bucket": bucket_name}, provider=HK_ALI),
    ]
    if worm_days is not None:
        worm = {"bucket": bucket_name, "retentionPeriodInDays": worm_days}
        out.append(Res("alicloud:oss/bucketWorm:BucketWorm", "worm", worm, provider=HK_ALI))
    return out


def _tc() -> list[Res]:
    ud = user_data(_config("tencentcloud", BUCKET_TC))
    return [
        Res("tencentcloud:Instance/instance:Instance", "mx", {"userDataRaw": ud}, provider=HK_TC),
        Res(
            "tencentcloud:Cos/bucket:Bucket",
            "a",
            {"bucket": "hk-archive-1250000000"},
            provider=HK_TC,
        ),
    ]


@pytest.fixture(scope="module")
def pack() -> Iterator[PackClient]:
    client = PackClient()
    yield client
    client.close()


def _findings(pack: PackClient, resources: list[Res], **config: Any) -> list[Diag]:
    pack.configure({RULE: config} if config else None)
    return [d for d in pack.analyze_stack(resources) if d.policy == RULE]


def test_a_journaling_server_with_its_bucket_passes(pack: PackClient) -> None:
    assert _findings(pack, _ali("hk-archive", 2557)) == []
    assert _findings(pack, _tc()) == []  # no retention declared


def test_a_server_without_the_journal_fails(pack: PackClient) -> None:
    [d] = _findings(pack, _ali(None, None))
    assert "journals no message to an archive bucket" in d.message and d.level == "mandatory"


def test_a_journal_bucket_outside_the_stack_fails(pack: PackClient) -> None:
    [d] = _findings(pack, _ali("elsewhere-bucket", None))
    assert "'elsewhere-bucket', which this stack does not create" in d.message
    assert "['hk-archive']" in d.message


@pytest.mark.parametrize(
    ("worm", "needle"),
    [(2555, "an OSS retention policy of 2555 days"), (None, "no retention policy (WORM)")],
)
def test_a_retention_shorter_than_declared_fails(
    pack: PackClient, worm: int | None, needle: str
) -> None:
    [d] = _findings(pack, _ali("hk-archive", worm), minimumRetentionDays=2557)
    assert needle in d.message and "declared retention of 2557 days" in d.message
    assert _findings(pack, _ali("hk-archive", 2557), minimumRetentionDays=2557) == []


def test_cos_cannot_meet_a_declared_retention(pack: PackClient) -> None:
    [d] = _findings(pack, _tc(), minimumRetentionDays=2557)
    assert "no object lock" in d.message
