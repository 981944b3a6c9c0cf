"""Everything validated before the first resource is registered, under its real config path, one
error per cause: scripts/plan run on stack files as a user runs it."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from hkmail import checks
from hkmail.errors import SpecErrors
from hkmail.mailserver.fetch_secrets import MIN_BACKUP_PASSWORD
from hkmail.spec import read_stack
from tests.conftest import public_key_b64
from tests.support import REPO
from tests.test_stack_files import BASE, errors_of, make_project, plan

PRIVATE = (REPO / "stacks" / "Pulumi.private-tencent.yaml").read_text(encoding="utf-8")


def _errors(tmp_path: Path, text: str) -> list[str]:
    return errors_of(plan(make_project(tmp_path, text)))


def test_duplicate_mailbox_user_and_user_without_hash(tmp_path: Path) -> None:
    text = PRIVATE.replace(
        "users: [ops, compliance, reception]", "users: [ops, compliance, reception, ops, archive]"
    )
    errors = _errors(tmp_path, text)
    assert errors == [
        "hkmail:privateServer.users[3]: 'ops' is not valid (duplicate user); allowed: each "
        "mailbox user once",
    ], errors


def test_user_without_a_password_hash(tmp_path: Path) -> None:
    text = PRIVATE.replace(
        "users: [ops, compliance, reception]", "users: [ops, compliance, reception, archive]"
    )
    [error] = _errors(tmp_path, text)
    assert error.startswith(
        "hkmail:mailboxPasswordHashes.archive: (missing) is not valid (archive is a mailbox user"
    )
    assert "pulumi config set --secret --path 'hkmail:mailboxPasswordHashes.archive'" in error


def test_plain_text_secret_is_refused_with_the_fix(tmp_path: Path) -> None:
    text = PRIVATE.replace(
        "  hkmail:relayPassword:\n    secure: v1:placeholder-set-with-pulumi-config-set-secret\n",
        "  hkmail:relayPassword: hunter2-relay\n",
    )
    out = plan(make_project(tmp_path, text))
    [error] = errors_of(out)
    assert error.startswith(
        "hkmail:relayPassword: '(plain text)' is not valid (given in plain text"
    )
    assert "allowed: a secret: pulumi config set --secret hkmail:relayPassword" in error
    assert "hunter2" not in out.stderr + out.stdout


def test_bad_private_server_does_not_cascade(tmp_path: Path) -> None:
    text = PRIVATE.replace("zone: ap-hongkong-2", "zone: ap-guangzhou-3")
    errors = _errors(tmp_path, text)
    assert len(errors) == 1 and errors[0].startswith("hkmail:privateServer.zone:"), errors


def test_dkim_pair_checked_when_the_private_key_is_present() -> None:
    """Offline the secret cannot be decrypted; under the CLI the program gets the PEM."""
    config = json.loads(json.dumps(_private_config()))
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = other.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    config["hkmail:dkimPrivateKey"] = pem
    with pytest.raises(SpecErrors) as info:
        read_stack(config, secret_keys=set(config))
    [error] = [str(e) for e in info.value.errors]
    assert error.startswith("hkmail:dkimPrivateKey: '(secret value, not shown)' is not valid")
    assert "private half of hkmail:domains[0].dkim[0].publicKey (selector hk2026)" in error
    assert "BEGIN" not in str(info.value)
    # the matching half passes
    der = other.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    config["hkmail:domains"][0]["dkim"][0]["publicKey"] = base64.b64encode(der).decode()
    assert read_stack(config, secret_keys=set(config)).private_server is not None


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("x" * (MIN_BACKUP_PASSWORD - 1), "too short"),
        ("first-line-of-a-long-pw\nsecond-line-0123456789", "line break"),
        (["restic-repo-secret-0123456789"], "not one string"),
    ],
)
def test_a_bad_backup_password_is_refused_before_any_resource(
    value: str | list[str], reason: str
) -> None:
    """The instance would refuse it at boot (same constant, fetch_secrets.MIN_BACKUP_PASSWORD):
    refused at preview instead, without showing it."""
    config = _private_config()
    config["hkmail:backupPassword"] = value
    with pytest.raises(SpecErrors) as info:
        read_stack(config, secret_keys=set(config))
    [error] = [str(e) for e in info.value.errors]
    assert error.startswith("hkmail:backupPassword: '[not shown]' is not valid"), error
    assert reason in error, error
    assert error.endswith(
        f"allowed: {MIN_BACKUP_PASSWORD}+ characters, one line (e.g. openssl rand -base64 32)"
    ), error
    secret = value if isinstance(value, str) else value[0]
    assert secret.split("\n")[0] not in str(info.value)
    # the minimum itself passes, with the newline `openssl rand | pulumi config set` may keep
    config["hkmail:backupPassword"] = "y" * MIN_BACKUP_PASSWORD + "\n"
    assert read_stack(config, secret_keys=set(config)).private_server is not None


def _private_config() -> dict[str, object]:
    from toolchain.engine.project import load_project, load_stack_config

    stack = load_stack_config(load_project(REPO), "private-tencent")
    out: dict[str, object] = {}
    for key, value in stack.values.items():
        try:
            out[key] = json.loads(value) if value[:1] in "[{" else value
        except json.JSONDecodeError:
            out[key] = value  # the offline placeholder of a secure value
    return out


def test_long_domain_names_the_domain(tmp_path: Path) -> None:
    labels = ".".join(["a" * 60] * 3) + "." + "b" * 52 + ".hk"  # 238 characters
    text = BASE.replace("example.com.hk", labels) + "      dmarc: {policy: reject}\n"
    out = plan(make_project(tmp_path, text))
    [error] = errors_of(out)
    assert error.startswith(f"hkmail:domains[0].name: '{labels[:60]}")
    assert error.endswith("allowed: a domain of at most 235 characters (DNS names end at 253)")
    assert "bbbb.hk it needs is 256 characters" in error
    assert "Traceback" not in out.stderr and "KeyError" not in out.stderr


def test_unknown_exemption_id(tmp_path: Path) -> None:
    text = (REPO / "stacks" / "Pulumi.alibaba-directmail.yaml").read_text()
    text = text.replace("exemption: EX-2026-001", "exemption: EX-2099-404")
    [error] = _errors(tmp_path, text)
    assert error.startswith(
        "hkmail:domains[0].sending[0].crossBorder.exemption: 'EX-2099-404' is not valid "
        "(no such exemption on file"
    )
    assert "EX-2026-001" in error


def test_in_zone_mx_without_address(tmp_path: Path) -> None:
    text = (REPO / "stacks" / "Pulumi.tencent-ses.yaml").read_text()
    without = text.replace("        mx2: [203.0.113.26]\n", "")
    [error] = _errors(tmp_path, without)
    assert error.startswith("hkmail:domains[0].mail.mx[1].host: 'mx2.lantauretail.hk' is not valid")
    assert "hkmail:domains[0].hosts: {mx2: [<IPv4/IPv6>, ...]}" in error


@pytest.mark.parametrize(
    ("region", "why"),
    [
        (
            "cn-hongkong",
            "`cn-hongkong` is Alibaba Cloud's id; Tencent Cloud's Hong Kong region is "
            "`ap-hongkong`",
        ),
        ('" ap-hongkong"', "with leading or trailing whitespace"),
        ("AP-HongKong", "region ids are lower-case: 'ap-hongkong'"),
    ],
)
def test_region_messages_explain(tmp_path: Path, region: str, why: str) -> None:
    text = BASE.replace("tencentcloud:region: ap-hongkong", f"tencentcloud:region: {region}")
    [error] = _errors(tmp_path, text)
    assert error.startswith("tencentcloud:region:") and why in error


def test_unicode_domain_planned_as_a_label(tmp_path: Path) -> None:
    text = BASE.replace("example.com.hk", "例子.香港")
    out = plan(make_project(tmp_path, text), "--format", "json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    zones = {r["inputs"]["domain"] for r in doc["resources"] if "domain" in r["inputs"]}
    assert zones == {"xn--fsqu00a.xn--j6w193g"}


def test_invalid_punycode_is_refused(tmp_path: Path) -> None:
    [error] = _errors(tmp_path, BASE.replace("example.com.hk", "xn--a.hk"))
    assert error.startswith("hkmail:domains[0].name: 'xn--a.hk' is not valid")


def test_rsa_1024_dkim_refused_in_the_rules_words(tmp_path: Path) -> None:
    text = (
        BASE
        + f"      dkim:\n        - selector: old\n          publicKey: {public_key_b64(1024)}\n"
    )
    [error] = _errors(tmp_path, text)
    assert error.startswith("hkmail:domains[0].dkim[0].publicKey: '1024-bit RSA key' is not valid")
    assert "mailauth-dkim-key-strength: DKIM key at old._domainkey: RSA key is 1024 bits" in error
    assert error.endswith("allowed: RSA of at least 2048 bits or k=ed25519")


def test_dmarc_none_past_its_ramp_refused_in_the_rules_words(tmp_path: Path) -> None:
    text = BASE + "      dmarc:\n        policy: none\n        rampUntil: 2026-01-31\n"
    [error] = _errors(tmp_path, text)
    assert error.startswith("hkmail:domains[0].dmarc.rampUntil: '2026-01-31' is not valid")
    assert (
        "mailauth-dmarc-enforced: DMARC for example.com.hk: p=none without a valid ramp "
        "(the p=none ramp for example.com.hk ended on 2026-01-31)"
    ) in error


def test_wording_is_the_policy_packs() -> None:
    from policies.hkmail_policy.rules.mailauth import RULES

    rules = {rule.id: rule for rule in RULES}
    assert rules[checks.DKIM_RULE].remediation == checks.DKIM_REMEDIATION
    assert rules[checks.DMARC_RULE].remediation == checks.DMARC_REMEDIATION
    schema = rules[checks.DMARC_RULE].config_schema or {}
    assert schema["maxRampDays"]["default"] == checks.DMARC_MAX_RAMP_DAYS
    assert (rules[checks.DKIM_RULE].config_schema or {})["minRsaBits"]["default"] == (
        checks.DKIM_MIN_BITS
    )


def test_unicode_domain_shown_in_both_forms(tmp_path: Path) -> None:
    out = plan(make_project(tmp_path, BASE.replace("example.com.hk", "例子.香港")))
    assert out.returncode == 0, out.stderr
    assert "Domain 例子.香港 (xn--fsqu00a.xn--j6w193g)" in out.stdout


def test_plain_hash_beside_secure_ones_is_called_out(tmp_path: Path) -> None:
    text = PRIVATE.replace(
        "    compliance: {secure: v1:placeholder}\n",
        "    compliance: $6$rounds=5000$plain$hash\n",
    )
    out = plan(make_project(tmp_path, text))
    assert out.returncode == 0, out.stderr
    assert (
        "hkmail:mailboxPasswordHashes.compliance in plain text beside secure: values of "
        "hkmail:mailboxPasswordHashes; set each with `pulumi config set --secret --path "
        "'hkmail:mailboxPasswordHashes.compliance' ...`"
    ) in out.stderr
    # and says exactly what the CLI does with it, as the README does
    said = " ".join(out.stderr.split())
    assert "`pulumi up` does not refuse it: the CLI marks the whole key secret" in said
    assert "readable in the stack file (and in git)" in said
    readme = " ".join((REPO / "README.md").read_text(encoding="utf-8").split())
    assert "one plain-text value among `secure:` ones in an object" in readme
    assert "is only warned about, by the offline plan and gate" in readme


def test_dkim_pair_checked_through_the_plan_on_a_passphrase_stack(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a passphrase stack and its passphrase, the plan decrypts as the CLI would: a DKIM
    private key that is not the published key's other half is refused before any resource."""
    from toolchain.engine.secrets import encrypt_value, new_encryption_salt

    state, key = new_encryption_salt("correct horse")
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = other.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()

    def secure(value: str) -> str:
        return "{secure: " + encrypt_value(key, value) + "}"

    text = f"encryptionsalt: {state}\n" + PRIVATE.replace(
        "  hkmail:dkimPrivateKey:\n    secure: v1:placeholder-set-with-pulumi-config-set-secret\n",
        f"  hkmail:dkimPrivateKey: {secure(pem)}\n",
    ).replace(
        "  hkmail:relayPassword:\n    secure: v1:placeholder-set-with-pulumi-config-set-secret\n",
        f"  hkmail:relayPassword: {secure('relay-secret')}\n",
    ).replace(
        "  hkmail:backupPassword:\n    secure: v1:placeholder-set-with-pulumi-config-set-secret\n",
        f"  hkmail:backupPassword: {secure('restic-repo-secret-0123456789')}\n",
    ).replace("{secure: v1:placeholder}", secure("{SHA512-CRYPT}$6$x$y"))
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "correct horse")
    out = plan(make_project(tmp_path, text))
    [error] = errors_of(out)
    assert error.startswith("hkmail:dkimPrivateKey: '(secret value, not shown)' is not valid")
    assert "private half of hkmail:domains[0].dkim[0].publicKey (selector hk2026)" in error
    assert "BEGIN" not in out.stderr and "relay-secret" not in out.stderr


def test_bad_sending_limits_name_the_key_and_the_range(tmp_path: Path) -> None:
    text = PRIVATE.replace(
        "users: [ops, compliance, reception]\n",
        "users: [ops, compliance, reception]\n"
        "      sendingLimits: {recipientsPerHour: 0, messagesPerHour: 50}\n",
    )
    assert _errors(tmp_path, text) == [
        "hkmail:privateServer.sendingLimits.recipientsPerHour: 0 is not valid; allowed: an "
        "integer from 1 to 100000"
    ]
