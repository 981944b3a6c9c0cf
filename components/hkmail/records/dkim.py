"""DKIM key records (RFC 6376 3.6.1; ed25519 keys RFC 8463)."""

from __future__ import annotations

from dataclasses import dataclass

from hkmail.errors import RecordError


@dataclass(frozen=True)
class DkimKeyRecord:
    key_type: str  # "rsa" | "ed25519"
    public_key: str  # base64, the p= tag

    def to_text(self) -> str:
        return f"v=DKIM1; k={self.key_type}; p={self.public_key}"

    @classmethod
    def from_text(cls, text: str) -> DkimKeyRecord:
        tags = parse_tags(text)
        if tags.get("v", "DKIM1") != "DKIM1":
            raise RecordError(f"DKIM record version must be DKIM1: {text!r}")
        if "p" not in tags:
            raise RecordError(f"DKIM record has no p= tag: {text!r}")
        return cls(key_type=tags.get("k", "rsa"), public_key="".join(tags["p"].split()))


def parse_tags(text: str) -> dict[str, str]:
    """Tag=value list of DKIM and DMARC (RFC 6376 3.2): ``;``-separated, whitespace folded."""
    tags: dict[str, str] = {}
    for part in text.split(";"):
        part = part.strip()
        if not part:
            continue
        name, sep, value = part.partition("=")
        if not sep:
            raise RecordError(f"tag {part!r} has no '=' in {text!r}")
        name = name.strip()
        if name in tags:
            raise RecordError(f"tag {name} appears twice in {text!r}")
        tags[name] = value.strip()
    return tags
