"""The private mail server of a stack: spec and secret config in, the cloud's component out."""

from __future__ import annotations

import base64
import functools
import json
from collections.abc import Mapping

import pulumi
from cryptography.hazmat.primitives import serialization

from hkmail.components.registry import CLOUDS, MailServer
from hkmail.errors import HkMailError
from hkmail.mailserver.deploy import PrivateMailServerArgs
from hkmail.mailserver.model import MailServerConfig, SecretRefs
from hkmail.records.mtasts import MtaStsPolicy
from hkmail.spec import DkimKey, PrivateServerSpec

# What the offline engine passes for a `secure:` value it cannot decrypt (toolchain.engine.project).
_OFFLINE_PLACEHOLDER = "[hk-mail offline:"


def check_dkim_pair(private_pem: str, public: DkimKey) -> str:
    """The published key must be the public half of hkmail:dkimPrivateKey, or mail fails DKIM."""
    if private_pem.startswith(_OFFLINE_PLACEHOLDER):
        return private_pem  # not decryptable offline; checked wherever the real value exists
    try:
        key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    except (ValueError, TypeError) as exc:
        raise HkMailError(
            f"hkmail:dkimPrivateKey is not an unencrypted PEM private key: {exc}"
        ) from None
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    if base64.b64encode(der).decode() != public.public_key:
        raise HkMailError(
            f"hkmail:dkimPrivateKey does not match the published DKIM key {public.selector} "
            "(hkmail:domains[].dkim): receivers would fail every signature"
        )
    return private_pem


def mail_server(
    server: PrivateServerSpec,
    policy: MtaStsPolicy | None,
    dkim: DkimKey,
    secrets: Mapping[str, object],
    opts: pulumi.ResourceOptions,
) -> MailServer:
    """``secrets``: the stack's hkmail:dkimPrivateKey, hkmail:mailboxPasswordHashes (JSON object
    user -> `doveadm pw` hash) and hkmail:relayPassword values; wrapped as secrets at once."""
    prefix = f"hkmail-{server.domain.replace('.', '-')}"[:40]
    refs = SecretRefs(
        cloud=server.cloud,
        role_name=f"{prefix}-mail",
        dkim_private_key=f"{prefix}-dkim",
        mailbox_hashes=f"{prefix}-mailboxes",
        relay_credentials=f"{prefix}-relay",
    )
    config = MailServerConfig(
        domain=server.domain,
        hostname=server.hostname,
        dkim_selector=server.dkim_selector,
        admin_cidr=server.admin_cidr,
        users=server.users,
        mta_sts_policy=policy.to_text() if policy else "",
        secrets=refs,
    )
    dkim_pem = pulumi.Output.secret(str(secrets["dkimPrivateKey"])).apply(
        lambda pem: check_dkim_pair(pem, dkim)
    )
    hashes_json = pulumi.Output.secret(_as_json(secrets["mailboxPasswordHashes"]))
    hashes: dict[str, pulumi.Input[str]] = {
        user: hashes_json.apply(functools.partial(_hash_of, user=user)) for user in server.users
    }
    args = PrivateMailServerArgs(
        server=config,
        account_id=server.account_id,
        zone=server.zone,
        image_id=server.image_id,
        dkim_private_key=dkim_pem,
        mailbox_password_hashes=hashes,
        relay_username=server.relay_username,
        relay_password=pulumi.Output.secret(str(secrets["relayPassword"])),
        archive_bucket=server.archive_bucket,
        app_id=server.app_id,
        retention_days=server.retention_days,
        retention_locked=server.retention_locked,
        name=prefix[:20],
        ssh_public_key=server.ssh_public_key,
    )
    return CLOUDS[server.cloud].mail_server(server.hostname, args, opts)


def _as_json(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _hash_of(hashes_json: str, *, user: str) -> str:
    try:
        hashes = json.loads(hashes_json)
    except json.JSONDecodeError:
        raise HkMailError(
            "hkmail:mailboxPasswordHashes must be a JSON object user -> hash"
        ) from None
    if not isinstance(hashes, dict) or user not in hashes:
        raise HkMailError(f"hkmail:mailboxPasswordHashes has no hash for mailbox user {user}")
    return str(hashes[user])
