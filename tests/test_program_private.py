"""The private-deployment stacks through the program: spec -> records -> the server component."""

from __future__ import annotations

import copy
import subprocess
import sys
from typing import Any

import pytest

from hkmail.errors import SpecErrors
from hkmail.spec import read_stack
from program import run
from tests.conftest import stack_config
from tests.support import (
    MOCK_PUBLIC_IP,
    PRIVATE_STACK_HASHES,
    REPO,
    Registered,
    of_type,
    plaintext_hits,
    run_in_process,
    secret_count,
    with_secrets,
)

STACKS = {
    "private-tencent": (
        "centralclinic.hk",
        "hkmail:index:TencentMailServer",
        "tencentcloud:Dnspod/record:Record",
        "subDomain",
        "recordType",
    ),
    "private-alicloud": (
        "wanchaifunds.com.hk",
        "hkmail:index:AlicloudMailServer",
        "alicloud:dns/alidnsRecord:AlidnsRecord",
        "rr",
        "type",
    ),
}
HASHES = PRIVATE_STACK_HASHES


@pytest.mark.parametrize("stack", sorted(STACKS))
def test_private_stack_points_dns_at_the_server(stack: str) -> None:
    domain, server_type, record_type, name_key, type_key = STACKS[stack]
    config, pem = with_secrets(stack)
    resources = run_in_process(lambda: run(config), stack=stack)
    [server] = of_type(resources, server_type)
    [mail_domain] = of_type(resources, "hkmail:index:MailDomain")
    assert server.parent == mail_domain.urn
    records = {
        (r.inputs[name_key], r.inputs[type_key]): r.inputs for r in of_type(resources, record_type)
    }
    assert records[("@", "MX")]["value"].rstrip(".") == f"mail.{domain}"
    assert records[("mail", "A")]["value"] == MOCK_PUBLIC_IP
    # The server's own address, and the SES relay every outbound message leaves through.
    assert records[("@", "TXT")]["value"] == "v=spf1 mx include:qcloudmail.com -all"
    assert records[("mta-sts", "CNAME")]["value"].rstrip(".") == f"mail.{domain}"
    assert records[("_submissions._tcp", "SRV")]["value"].rstrip(".") == f"0 1 465 mail.{domain}"
    # No secret in plain text anywhere the engine would see it: secret values are wrapped.
    needles = (pem.splitlines()[1], "relay-Pa55word-for-tests", *HASHES.values())
    for r in resources:
        assert not list(plaintext_hits(r.inputs, needles)), (r.type, r.name)
    # the DKIM key, the mailbox hashes and the relay credentials
    assert sum(secret_count(r.inputs) for r in resources) >= 3
    providers = {r.urn: r for r in of_type(resources, f"pulumi:providers:{stack.split('-')[1]}")}
    assert {p.inputs["region"] for p in providers.values()} <= {"ap-hongkong", "cn-hongkong"}


def test_a_dkim_private_key_that_does_not_match_the_published_key_fails() -> None:
    code = (
        "import copy\n"
        "from program import run\n"
        "from tests.support import run_in_process\n"
        "from tests.support import with_secrets\n"
        "config, _ = with_secrets('private-tencent')\n"
        "other, _ = with_secrets('private-tencent')\n"
        "config['hkmail:dkimPrivateKey'] = other['hkmail:dkimPrivateKey']\n"
        "run_in_process(lambda: run(config))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert done.returncode != 0
    # refused before any resource is registered (hkmail.checks), naming the published key
    assert "hkmail:dkimPrivateKey: '(secret value, not shown)' is not valid" in done.stderr
    assert "private half of hkmail:domains[0].dkim[0].publicKey (selector hk2026)" in done.stderr
    assert "BEGIN" not in done.stderr


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"zone": "ap-hongkong-1"}, "hkmail:privateServer.zone"),
        ({"zone": "ap-guangzhou-3"}, "hkmail:privateServer.zone"),
        ({"hostname": "mail.elsewhere.hk"}, "hkmail:privateServer.hostname"),
        ({"adminCidr": "0.0.0.0/0"}, "hkmail:privateServer.adminCidr"),
        ({"dkimSelector": "other"}, "hkmail:domains[0].dkim"),
        ({"cloud": "aws"}, "hkmail:privateServer.cloud"),
    ],
)
def test_bad_private_server_values_name_the_field(change: dict[str, Any], field: str) -> None:
    config = copy.deepcopy(stack_config("private-tencent"))
    config["hkmail:privateServer"].update(change)
    with pytest.raises(SpecErrors) as info:
        read_stack(config)
    assert any(e.field == field for e in info.value.errors), [str(e) for e in info.value.errors]


def test_private_server_needs_its_secrets() -> None:
    config = copy.deepcopy(stack_config("private-alicloud"))
    del config["hkmail:relayPassword"]
    with pytest.raises(SpecErrors) as info:
        read_stack(config)
    [error] = info.value.errors
    assert error.field == "hkmail:relayPassword" and "--secret" in str(error)


def test_registered_resources_are_only_in_hong_kong_zones() -> None:
    config, _ = with_secrets("private-alicloud")
    resources: list[Registered] = run_in_process(lambda: run(config))
    zones = {
        r.inputs[k]
        for r in resources
        for k in ("zoneId", "availabilityZone")
        if isinstance(r.inputs.get(k), str)
    }
    assert zones == {"cn-hongkong-c"}


@pytest.mark.parametrize(
    ("stack", "pair_type", "instance_type", "link"),
    [
        ("private-tencent", "tencentcloud:Key/pair:Pair", "tencentcloud:Instance/instance:Instance",
         "keyIds"),
        ("private-alicloud", "alicloud:ecs/ecsKeyPair:EcsKeyPair", "alicloud:ecs/instance:Instance",
         "keyName"),
    ],
)  # fmt: skip
def test_ssh_public_key_becomes_the_instances_key_pair(
    stack: str, pair_type: str, instance_type: str, link: str
) -> None:
    key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKexampleexampleexampleexampleexampleexampleE ops@hk"
    config, _ = with_secrets(stack)
    config["hkmail:privateServer"]["sshPublicKey"] = key
    resources = run_in_process(lambda: run(config), stack=stack)
    [pair] = of_type(resources, pair_type)
    [instance] = of_type(resources, instance_type)
    assert pair.inputs["publicKey"] == key
    assert instance.inputs[link]


def test_the_published_report_addresses_land_with_the_postmaster() -> None:
    # The stack publishes rua=mailto:dmarc@... and tls-reports@...; neither is a user.
    config, _ = with_secrets("private-tencent")
    resources = run_in_process(lambda: run(config), stack="private-tencent")
    [cvm] = of_type(resources, "tencentcloud:Instance/instance:Instance")
    user_data = cvm.inputs["userDataRaw"]
    virtual = user_data.split("path: /etc/postfix/virtual\n", 1)[1].split("path:", 1)[0]
    assert "dmarc@centralclinic.hk ops@centralclinic.hk" in virtual, virtual
    assert "tls-reports@centralclinic.hk ops@centralclinic.hk" in virtual, virtual
