"""The OpenSSH public keys a private server accepts as its key pair: one table, read by the stack
reader (before any resource is registered) and by the server components' own check."""

from __future__ import annotations

import re
from typing import Final

#: key types OpenSSH still accepts. ssh-dss (DSA) has been disabled by default since OpenSSH 7.0
#: (2015), so Debian 12's sshd refuses a DSA key, and the code is removed in the first OpenSSH
#: release of 2025 (D. Miller, "Announce: timeline to remove DSA support in OpenSSH",
#: openssh-unix-dev, 11 Jan 2024).
SSH_KEY_TYPES: Final = (
    "ssh-ed25519",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "ssh-rsa",
)
ALLOWED: Final = (
    "one OpenSSH public key line: ssh-ed25519, ecdsa-sha2-nistp256/384/521 or ssh-rsa "
    "(e.g. ssh-ed25519 AAAAC3Nza... ops@example.hk)"
)
_KEY: Final = re.compile(
    r"^(" + "|".join(map(re.escape, SSH_KEY_TYPES)) + r") [A-Za-z0-9+/]{60,}={0,3}( [^\n]*)?$"
)


def ssh_key_problem(text: object) -> str | None:
    """Why ``text`` is not an accepted public key line, or None if it is one."""
    if not isinstance(text, str) or not text.strip():
        return "empty"
    line = text.strip()
    kind = line.split(" ", 1)[0]
    if kind == "ssh-dss":
        return "DSA (ssh-dss) keys are disabled by default since OpenSSH 7.0: it could not log in"
    if kind not in SSH_KEY_TYPES:
        return f"key type {kind[:30]!r} is not accepted"
    if not _KEY.match(line):
        return "not a complete key line (type, base64 key, optional comment)"
    return None
