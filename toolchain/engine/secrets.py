"""Decrypt a stack's passphrase-encrypted config secrets exactly as the Pulumi CLI does.

From the CLI's source (pulumi/pulumi, ``pkg/secrets/passphrase/manager.go``,
``sdk/go/common/resource/config/crypt.go``, ``pkg/cmd/pulumi/stack/secrets.go``):

- Which manager: a stack file whose ``secretsprovider`` is set to anything but ``passphrase`` or
  ``default`` uses a cloud KMS (not available offline); otherwise a non-empty ``encryptionsalt``
  means the passphrase manager.
- ``encryptionsalt`` is ``v1:<base64 salt>:<the word "pulumi" encrypted>``; the check value proves
  the passphrase right (a wrong one is "incorrect passphrase").
- Key: PBKDF2-HMAC-SHA256 of the passphrase over the salt, 1,000,000 iterations, 32 bytes.
- A value (``secure:`` in the stack file) is ``v1:<base64 12-byte nonce>:<base64 AES-256-GCM
  ciphertext with its tag>``, no associated data.
- The passphrase comes from ``PULUMI_CONFIG_PASSPHRASE`` (even if empty), else from the file named
  by ``PULUMI_CONFIG_PASSPHRASE_FILE`` with surrounding white space trimmed.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import os
import secrets
from collections.abc import Mapping
from pathlib import Path

from .model import ProjectError

PBKDF2_ITERATIONS = 1_000_000
KEY_BYTES = 32
NONCE_BYTES = 12
PASSPHRASE_TYPE = "passphrase"


class DecryptError(ProjectError):
    """A secure config value could not be decrypted (bad passphrase, corrupt value)."""


def passphrase_from_env(env: Mapping[str, str] | None = None) -> str | None:
    """The passphrase as the CLI reads it (``readPassphrase`` with useEnv), or None if unset."""
    source = os.environ if env is None else env
    if "PULUMI_CONFIG_PASSPHRASE" in source:
        return source["PULUMI_CONFIG_PASSPHRASE"]
    path = source.get("PULUMI_CONFIG_PASSPHRASE_FILE", "")
    if path:
        try:
            return Path(path).resolve().read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise DecryptError(
                f"unable to read PULUMI_CONFIG_PASSPHRASE_FILE {path}: {exc.strerror}", path
            ) from exc
    return None


@functools.lru_cache(maxsize=8)
def derive_key(passphrase: str, salt: bytes) -> bytes:
    """``NewSymmetricCrypterFromPassphrase``: PBKDF2-HMAC-SHA256, 1e6 rounds, 32 bytes."""
    return hashlib.pbkdf2_hmac(
        "sha256", passphrase.encode("utf-8"), salt, PBKDF2_ITERATIONS, KEY_BYTES
    )


def _aesgcm(key: bytes):  # type: ignore[no-untyped-def]
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    return AESGCM(key)


def encrypt_value(key: bytes, plaintext: str, nonce: bytes | None = None) -> str:
    """``symmetricCrypter.EncryptValue``: ``v1:<b64 nonce>:<b64 ciphertext+tag>``."""
    nonce = secrets.token_bytes(NONCE_BYTES) if nonce is None else nonce
    sealed = _aesgcm(key).encrypt(nonce, plaintext.encode("utf-8"), None)
    return f"v1:{base64.b64encode(nonce).decode()}:{base64.b64encode(sealed).decode()}"


def decrypt_value(key: bytes, value: str) -> str:
    """``symmetricCrypter.DecryptValue``."""
    from cryptography.exceptions import InvalidTag

    parts = value.split(":")
    if len(parts) != 3:
        raise ValueError("bad value")
    if parts[0] != "v1":
        raise ValueError("unknown value version")
    try:
        nonce = base64.b64decode(parts[1], validate=True)
        sealed = base64.b64decode(parts[2], validate=True)
    except binascii.Error as exc:
        raise ValueError(f"bad value: {exc}") from exc
    if len(nonce) != NONCE_BYTES:
        raise ValueError("bad value: nonce size is incorrect")
    try:
        plain: bytes = _aesgcm(key).decrypt(nonce, sealed, None)
    except InvalidTag as exc:
        raise ValueError("message authentication failed") from exc
    return plain.decode("utf-8")


def new_encryption_salt(passphrase: str, salt: bytes | None = None) -> tuple[str, bytes]:
    """``NewPassphraseSecretsManager``: the ``encryptionsalt`` a new stack gets, and its key."""
    salt = secrets.token_bytes(8) if salt is None else salt
    key = derive_key(passphrase, salt)
    state = f"v1:{base64.b64encode(salt).decode()}:{encrypt_value(key, 'pulumi')}"
    return state, key


def key_from_state(passphrase: str, state: str, where: str = "") -> bytes:
    """``symmetricCrypterFromPhraseAndState``: the key, after checking the passphrase."""
    parts = state.split(":", 2)
    if len(parts) != 3:
        raise DecryptError("malformed encryptionsalt value", where)
    if parts[0] != "v1":
        raise DecryptError("unknown encryptionsalt version", where)
    try:
        salt = base64.b64decode(parts[1], validate=True)
    except binascii.Error as exc:
        raise DecryptError(f"malformed encryptionsalt value: {exc}", where) from exc
    key = derive_key(passphrase, salt)
    try:
        check = decrypt_value(key, parts[2])
    except ValueError:
        check = None
    if check != "pulumi":
        raise DecryptError(
            "incorrect passphrase: PULUMI_CONFIG_PASSPHRASE(_FILE) does not unlock this stack's "
            "secrets",
            where,
        )
    return key


class StackDecrypter:
    """Decrypts one stack file's ``secure:`` values, when the CLI could (passphrase manager and
    a passphrase in the environment). :attr:`available` is False otherwise, with :attr:`why`."""

    def __init__(
        self, doc: Mapping[str, object], where: str, env: Mapping[str, str] | None = None
    ) -> None:
        self.where = where
        self._key: bytes | None = None
        provider = str(doc.get("secretsprovider") or "")
        salt = str(doc.get("encryptionsalt") or "")
        self.why = ""
        if provider not in ("", "default", PASSPHRASE_TYPE):
            self.why = (
                f"the stack's secrets provider {provider.split('://', 1)[0]}:// is a cloud key "
                "service, which the gate does not call"
            )
        elif not salt:
            self.why = "the stack has no encryptionsalt (its secrets are kept by Pulumi Cloud)"
        else:
            passphrase = passphrase_from_env(env)
            if passphrase is None:
                self.why = (
                    "neither PULUMI_CONFIG_PASSPHRASE nor PULUMI_CONFIG_PASSPHRASE_FILE is set"
                )
            else:
                self._key = key_from_state(passphrase, salt, where)

    @property
    def available(self) -> bool:
        return self._key is not None

    def decrypt(self, key: str, ciphertext: object) -> str:
        if self._key is None:
            raise DecryptError(f"cannot decrypt {key}: {self.why}", self.where)
        if not isinstance(ciphertext, str):
            raise DecryptError(f"config key {key!r}: secure value must be a string", self.where)
        try:
            return decrypt_value(self._key, ciphertext)
        except ValueError as exc:
            raise DecryptError(f"failed to decrypt config key {key!r}: {exc}", self.where) from exc
