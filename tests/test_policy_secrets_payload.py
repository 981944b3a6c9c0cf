"""secrets-no-plaintext reads payloads: credentials inside decoded user data (secret or not),
environment maps and file contents are found with detect-secrets (and its plugins for Alibaba,
Tencent, bearer and webhook tokens); placeholders and secret references pass. Through the real
pack process."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest

from tests.policy_fixtures import PackClient, Res, secret

HK = Res("pulumi:providers:alicloud", "hk", {"region": "cn-hongkong"})
RULE = "secrets-no-plaintext"


@pytest.fixture(scope="module")
def pack() -> Iterator[PackClient]:
    client = PackClient()
    client.configure()
    yield client
    client.close()


def cloud_config(*lines: str) -> str:
    body = "#cloud-config\nwrite_files:\n  - path: /etc/app.env\n    content: |\n"
    return body + "".join(f"      {line}\n" for line in lines)


def findings(pack: PackClient, props: dict[str, object]) -> list[str]:
    inst = Res("alicloud:ecs/instance:Instance", "mx", props, provider=HK)
    return [d.message for d in pack.analyze(inst) if d.policy == RULE]


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        ("RELAY_PASSWORD=Tr0ub4dor-and-3", "Secret Keyword"),
        ("ALIBABA_CLOUD_ACCESS_KEY_ID=LTAI5tQwErTyUiOpAsDfGh12", "Alibaba Cloud AccessKey ID"),
        ("TENCENTCLOUD_SECRET_ID=AKIDz8krbsJ5yKBZQpn74WFkmLPx3gnPhESA", "Tencent Cloud SecretId"),
        ("curl -H 'Authorization: Bearer 8f1d3c0b9a7e4f2d6c5b' https://api", "Bearer token"),
        (
            "url: https://oapi.dingtalk.com/robot/send?access_token=0a1b2c3d4e5f60718293a4b5c6d7e8f9",
            "Chat webhook token",
        ),
        ("relayhost_auth: smtp://relay:Tr0ub4dor3x@smtp.example.net:587", "Basic Auth Credentials"),
    ],
)
def test_credentials_in_base64_user_data_fail_even_as_a_secret(
    pack: PackClient, line: str, kind: str
) -> None:
    ud = base64.b64encode(cloud_config(line).encode()).decode()
    for value in (ud, secret(ud)):
        [message] = findings(pack, {"userData": value})
        assert f"user data carries credentials ({kind}" in message or kind in message, message
        assert "metadata service" in message
        secret_part = line.split("=", 1)[-1][-8:]
        assert secret_part not in message  # never echoed


def test_a_credential_in_a_plain_environment_map_fails(pack: PackClient) -> None:
    fc = Res(
        "alicloud:fc/function:Function",
        "notify",
        {"environmentVariables": {"DB_URL": "postgres://app:Pa55w0rd-x@db.internal:5432/mail"}},
        provider=HK,
    )
    [d] = [d for d in pack.analyze(fc) if d.policy == RULE]
    assert "a plain payload carries credentials (Basic Auth Credentials)" in d.message


def test_placeholders_and_secret_references_pass(pack: PackClient) -> None:
    ud = cloud_config(
        "RELAY_PASSWORD=${RELAY_PASSWORD}",
        "api_token: <your token>",
        "secret_name: hkmail/relay-password",
        "DKIM_SELECTOR=mail2026",
    )
    assert findings(pack, {"userData": base64.b64encode(ud.encode()).decode()}) == []
    fc = Res(
        "alicloud:fc/function:Function",
        "notify",
        {"environmentVariables": {"DB_URL": secret("postgres://app:Pa55w0rd-x@db/mail")}},
        provider=HK,
    )
    assert [d for d in pack.analyze(fc) if d.policy == RULE] == []
