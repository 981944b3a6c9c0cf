"""No secrets in plain text: not in user data, not in plain (non-secret) inputs."""

from __future__ import annotations

import re
from collections.abc import Iterable

from .. import payload
from ..model import Context, Finding, Resource, Rule
from ..values import Leaf, leaves, texts

PEM_PRIVATE = re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----")
# A bare base64 DER private key (e.g. an opendkim .private body without PEM armour): DER starts
# with "MII" and a 2048-bit RSA private key is ~1,600 base64 characters (a public key ~400).
BARE_DER_KEY = re.compile(r"MII[A-Za-z0-9+/]{800,}={0,2}")
SECRET_NAME = re.compile(
    r"(?i)(password|passwd|passphrase|secret|private_?key|access_?key|api_?key|token|credential)"
)
NOT_A_SECRET = re.compile(
    r"(?i)(^kmsEncrypted|inherit$|ids?$|name$|arn$|type$|length$|policy$|enabled?$|mode$|"
    r"rotation|expir|version$|url$|period$|status$|count$|"
    # instance metadata options: httpTokens = "required" (IMDSv2 mode), not a token value
    r"^http_?tokens$)"
)
USER_DATA = re.compile(r"(?i)user_?data")
# inputs that carry payloads: user data, environment maps, file contents, scripts, commands
PAYLOAD = re.compile(r"(?i)(user_?data|env|variables|content|script|command|body|template)")


def _private_key_in(text: str) -> str | None:
    for _, candidate in texts(text):  # the value and what it decodes to (base64, gzip+base64)
        if PEM_PRIVATE.search(candidate):
            return "a PEM private key"
        if BARE_DER_KEY.search(candidate):
            return "base64 private key material (e.g. a DKIM .private key)"
    return None


def _payload_credentials(text: str) -> tuple[str, ...]:
    found: set[str] = set()
    for _, candidate in texts(text):  # as given and as decoded (base64, gzip+base64)
        found.update(payload.credentials(candidate))
    return tuple(sorted(found))


def _msg(resource: Resource, leaf: Leaf, problem: str, allowed: str) -> Finding:
    # Never echo the value: it is the secret.
    shown = "[secret]" if leaf.secret else f"[redacted, {len(str(leaf.value))} chars]"
    return Finding(f"{resource.describe()}: {leaf.path} = {shown}: {problem}. Allowed: {allowed}.")


def check_secrets(resource: Resource, ctx: Context) -> Iterable[Finding]:
    for leaf in leaves(resource.props):
        if leaf.unknown or not isinstance(leaf.value, str) or not leaf.value:
            continue
        segment = leaf.shape.rsplit(".", 1)[-1].rstrip("[]")
        key = _private_key_in(leaf.value)
        if key and USER_DATA.search(segment):
            yield _msg(
                resource,
                leaf,
                f"user data contains {key}; user data is readable from the instance metadata "
                "service and the console, secret or not",
                "fetch keys at boot from KMS Secrets Manager / SSM with an instance role",
            )
        elif key and not leaf.secret:
            yield _msg(resource, leaf, f"{key} in a plain input", "pulumi.Output.secret(...)")
        elif (
            (USER_DATA.search(leaf.shape) or not leaf.secret)
            and PAYLOAD.search(leaf.shape)
            and (kinds := _payload_credentials(leaf.value))
        ):
            where = "user data" if USER_DATA.search(leaf.shape) else "a plain payload"
            yield _msg(
                resource,
                leaf,
                f"{where} carries credentials ({', '.join(kinds)}); user data is readable from "
                "the instance metadata service and the console, and plain inputs land in state",
                "a placeholder filled at boot from the secret store (hkmail-fetch-secrets, KMS "
                "Secrets Manager / SSM), or a secret input (pulumi.Output.secret)",
            )
        elif (
            not leaf.secret
            and SECRET_NAME.search(segment)
            and not NOT_A_SECRET.search(segment)
            and not USER_DATA.search(segment)
        ):
            yield _msg(
                resource,
                leaf,
                "a password-like input is plain text (it lands unencrypted in state and plans)",
                "a secret (config --secret or pulumi.Output.secret), or a KMS-encrypted input",
            )


RULES = (
    Rule(
        id="secrets-no-plaintext",
        title="No plain-text secrets",
        description="No private key (PEM or bare DKIM key material) in user data, no "
        "private key, password, token or access key in a plain (non-secret) input, and no "
        "credential inside a payload: decoded user data (secret or not), environment maps, file "
        "contents and scripts are scanned with detect-secrets (passwords, private keys, "
        "AccessKey and SecretId, bearer and webhook tokens); placeholders pass.",
        severity="critical",
        enforcement="mandatory",
        remediation="Mark the value secret (pulumi config set --secret, pulumi.Output.secret) or "
        "use the KMS-encrypted input (kms_encrypted_password); deliver DKIM private keys to the "
        "server from KMS Secrets Manager / SSM at boot, never in user data.",
        controls=("PDPO-DPP4", "ISO27001-A.5.17", "ISO27001-A.8.24", "HKMA-TM-G-1"),
        check=check_secrets,
    ),
)
