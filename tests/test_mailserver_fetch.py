"""hkmail-fetch-secrets: request signing against the clouds' documented examples, and the whole
boot-time fetch against a local stand-in for the metadata service and the secret store API.

The stand-in checks what the real services would check that we can check offline: the role's
temporary credentials are the ones used, the signature recomputes (TC3-HMAC-SHA256 / Alibaba RPC
HMAC-SHA1) over the request as received, the region and API version are right. It cannot prove
that Tencent or Alibaba accept the request; the documented signature vectors are the external
reference for that.
"""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from hkmail.mailserver import fetch_secrets as fs
from tests.support import FakeCloud, require_root, serve

DKIM_PEM = (
    "-----BEGIN PRIVATE KEY-----\nMIIBVAIBADANBgkqhkiG9w0BAQEFAASCAT4wggE6AgEAAkEAtest0key0bytes0\n"
    "-----END PRIVATE KEY-----\n"
)


# ------------------------------------------------------------------------------------------------
# Signatures against the providers' own published examples
# ------------------------------------------------------------------------------------------------


def test_tc3_signature_matches_tencent_documented_example() -> None:
    # Tencent Cloud API 3.0 "Signature v3" worked example (CVM DescribeInstances, POST JSON).
    payload = (
        '{"Limit": 1, "Filters": [{"Values": ["\\u672a\\u547d\\u540d"], "Name": "instance-name"}]}'
    )
    scope, sig = fs.tc3_signature(
        "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE", "cvm", "cvm.tencentcloudapi.com", payload, 1551113065
    )
    assert scope == "2019-02-25/cvm/tc3_request"
    assert sig == "72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168"


def test_rpc_signature_matches_alibaba_documented_example() -> None:
    # Alibaba Cloud RPC signature worked example (ECS DescribeRegions, GET, secret "testsecret").
    params = {
        "Timestamp": "2016-02-23T12:46:24Z",
        "Format": "XML",
        "AccessKeyId": "testid",
        "Action": "DescribeRegions",
        "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
        "Version": "2014-05-26",
        "SignatureVersion": "1.0",
    }
    assert fs.rpc_signature("GET", params, "testsecret") == "OLeaidS1JvxuMvnyHOwuJ+uX5qY="


def test_percent_encode_follows_rfc3986() -> None:
    assert fs.percent_encode("a b*c~d/:") == "a%20b%2Ac~d%2F%3A"


# ------------------------------------------------------------------------------------------------
# A local stand-in for the metadata service and the secret store
# ------------------------------------------------------------------------------------------------


def settings_for(cloud: str, out: Path) -> dict[str, Any]:
    return {
        "cloud": cloud,
        "region": {"tencentcloud": "ap-hongkong", "alicloud": "cn-hongkong"}[cloud],
        "role_name": "hkmail-mail",
        "domain": "hkmail.test",
        "users": ["alice", "bob"],
        "secrets": {
            "dkim_private_key": "dkim",
            "mailbox_hashes": "mailboxes",
            "relay_credentials": "relay",
        },
        "outputs": {
            "dkim_private_key": str(out / "keys" / "hk1.private"),
            "dovecot_users": str(out / "users"),
            "relay_password": str(out / "relay_password"),
        },
        "relay": "[smtp.qcloudmail.com]:465",
    }


GOOD_SECRETS = {
    "dkim": DKIM_PEM,
    "mailboxes": json.dumps(
        {
            "alice": "{SHA512-CRYPT}$6$salt$hashA",
            "bob": "{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$s$h",
        }
    ),
    "relay": json.dumps({"username": "noreply@hkmail.test", "password": "relay-pass-9"}),
}


def run_script(
    settings: Mapping[str, Any], base: str, tmp_path: Path
) -> subprocess.CompletedProcess[str]:
    conf = tmp_path / "secrets.json"
    conf.write_text(json.dumps(settings))
    env = {**os.environ, "HKMAIL_METADATA_URL": base, "HKMAIL_API_URL": base}
    # As the instance runs it: the file itself, by the system python3, standard library only.
    return subprocess.run(
        [
            sys.executable if not os.path.exists("/usr/bin/python3") else "/usr/bin/python3",
            "-I",
            fs.__file__,
            str(conf),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("cloud", ["tencentcloud", "alicloud"])
def test_fetch_writes_the_three_files_with_safe_modes(cloud: str, tmp_path: Path) -> None:
    require_root("the script chowns files to opendkim and dovecot")
    fake = FakeCloud(cloud, "hkmail-mail", GOOD_SECRETS)
    out = tmp_path / "out"
    with serve(fake) as base:
        proc = run_script(settings_for(cloud, out), base, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert fake.errors == []
    assert (out / "keys" / "hk1.private").read_text() == DKIM_PEM
    assert (out / "users").read_text() == (
        "alice@hkmail.test:{SHA512-CRYPT}$6$salt$hashA::::::\n"
        "bob@hkmail.test:{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$s$h::::::\n"
    )
    assert (out / "relay_password").read_text() == (
        "[smtp.qcloudmail.com]:465 noreply@hkmail.test:relay-pass-9\n"
    )
    assert stat.S_IMODE((out / "keys" / "hk1.private").stat().st_mode) == 0o600
    assert stat.S_IMODE((out / "relay_password").stat().st_mode) == 0o600
    assert stat.S_IMODE((out / "users").stat().st_mode) == 0o640
    # Nothing secret is printed: boot logs end up in the console log and the log store.
    for value in ("relay-pass-9", "hashA", "test0key0bytes0"):
        assert value not in proc.stdout + proc.stderr
    api_calls = [c for c in fake.calls if c.endswith(" /")]
    assert len(api_calls) == 3


@pytest.mark.parametrize(
    ("secrets", "message"),
    [
        ({**GOOD_SECRETS, "dkim": "not a key"}, "not a PEM private key"),
        (
            {**GOOD_SECRETS, "mailboxes": json.dumps({"alice": "{SHA512-CRYPT}x"})},
            "no password hash for mailbox(es) ['bob']",
        ),
        (
            {
                **GOOD_SECRETS,
                "mailboxes": json.dumps({"alice": "{PLAIN}a:b", "bob": "{PLAIN}x\nroot:{PLAIN}y"}),
            },
            "is not a '{SCHEME}hash'",
        ),
        (
            {**GOOD_SECRETS, "mailboxes": json.dumps({"alice": "{PLAIN}pw", "bob": "{MD5}x"})},
            "password hash of ['alice', 'bob'] does not use a strong scheme",
        ),
        (
            # A strong scheme's name on a hash that is not of that scheme.
            {
                **GOOD_SECRETS,
                "mailboxes": json.dumps({"alice": "{SHA512-CRYPT}$1$s$h", "bob": "{ARGON2ID}$6$h"}),
            },
            "password hash of ['alice', 'bob'] does not use a strong scheme",
        ),
        (
            {**GOOD_SECRETS, "relay": json.dumps({"username": "u"})},
            "not a JSON object {username, password}",
        ),
        ({k: v for k, v in GOOD_SECRETS.items() if k != "relay"}, "relay"),
    ],
)
def test_fetch_refuses_bad_secrets_and_writes_nothing(
    secrets: dict[str, str], message: str, tmp_path: Path
) -> None:
    fake = FakeCloud("tencentcloud", "hkmail-mail", secrets)
    out = tmp_path / "out"
    with serve(fake) as base:
        proc = run_script(settings_for("tencentcloud", out), base, tmp_path)
    assert proc.returncode == 1
    assert message in proc.stderr
    assert not out.exists()


def _with_backup(settings: dict[str, Any], out: Path) -> dict[str, Any]:
    settings["secrets"]["backup_password"] = "backup"
    settings["outputs"]["backup_password"] = str(out / "backup-password")
    return settings


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("short-pw-19-chars-x", "the backup password is shorter than 20 characters"),
        ("first-line-of-a-long-pw\nsecond-line", "the backup password contains a line break"),
        (None, "backup"),  # not in the store: named, the rest written
    ],
)
def test_a_bad_backup_password_costs_the_backup_only(
    value: str | None, message: str, tmp_path: Path
) -> None:
    """The mail server still boots with its key, users and relay password; the backup's password
    file is left out and an ALARM line names the secret, never its value."""
    require_root("the script chowns the files it writes")
    secrets = {**GOOD_SECRETS, **({"backup": value} if value is not None else {})}
    out = tmp_path / "out"
    with serve(FakeCloud("alicloud", "hkmail-mail", secrets)) as base:
        proc = run_script(_with_backup(settings_for("alicloud", out), out), base, tmp_path)
    log = f"stdout: {proc.stdout!r} stderr: {proc.stderr!r}"
    assert proc.returncode == 1, log
    [alarm] = [line for line in proc.stderr.splitlines() if "ALARM" in line]
    assert "backup password secret backup (hkmail:backupPassword) refused" in alarm, log
    assert message in alarm, log
    assert value is None or value not in proc.stdout + proc.stderr
    assert (out / "keys" / "hk1.private").read_text() == DKIM_PEM, log
    assert (out / "users").read_text().startswith("alice@hkmail.test:{SHA512-CRYPT}"), log
    assert (out / "relay_password").read_text().startswith("[smtp.qcloudmail.com]:465 "), log
    assert not (out / "backup-password").exists(), log
    assert "wrote ['dkim_private_key', 'dovecot_users', 'relay_password']" in proc.stdout, log


def test_fetch_writes_the_backup_password_for_root_alone(tmp_path: Path) -> None:
    require_root("the script chowns the files it writes")
    password = "restic-repo-password-0123456789abcdef"
    out = tmp_path / "out"
    with serve(FakeCloud("tencentcloud", "hkmail-mail", {**GOOD_SECRETS, "backup": password})) as b:
        proc = run_script(_with_backup(settings_for("tencentcloud", out), out), b, tmp_path)
    assert proc.returncode == 0, proc.stderr
    written = out / "backup-password"
    assert written.read_text() == password + "\n"
    st = written.stat()
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (0o600, 0, 0)
    assert password not in proc.stdout + proc.stderr


def test_fetch_fails_for_a_role_the_metadata_does_not_know(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeCloud("alicloud", "other-role", GOOD_SECRETS)
    with serve(fake) as base:
        monkeypatch.setenv("HKMAIL_METADATA_URL", base)
        monkeypatch.setenv("HKMAIL_API_URL", base)
        with pytest.raises(fs.FetchError, match="RAM role credentials failed after 2 attempts"):
            fs.alicloud_getter(settings_for("alicloud", tmp_path), attempts=2, delay=0.01)


def test_secret_binary_is_decoded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeCloud("tencentcloud", "hkmail-mail", GOOD_SECRETS)
    original = fake._tencent

    def binary(*args: Any) -> tuple[int, bytes]:
        status, body = original(*args)
        data = json.loads(body)
        resp = data.get("Response", {})
        if "SecretString" in resp:
            resp["SecretBinary"] = base64.b64encode(resp.pop("SecretString").encode()).decode()
        return status, json.dumps(data).encode()

    monkeypatch.setattr(fake, "_tencent", binary)
    with serve(fake) as base:
        monkeypatch.setenv("HKMAIL_METADATA_URL", base)
        monkeypatch.setenv("HKMAIL_API_URL", base)
        get = fs.tencent_getter(settings_for("tencentcloud", tmp_path), attempts=1, delay=0)
        assert get("dkim") == DKIM_PEM
    assert fake.errors == []
