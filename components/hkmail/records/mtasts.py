"""MTA-STS (RFC 8461): the policy file, and the _mta-sts TXT record whose id tracks it."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from hkmail.errors import RecordError


@dataclass(frozen=True)
class MtaStsPolicy:
    mode: str
    mx: tuple[str, ...]
    max_age: int

    def to_text(self) -> str:
        # RFC 8461 3.2: key/value lines separated by CRLF.
        lines = [
            "version: STSv1",
            f"mode: {self.mode}",
            *(f"mx: {m}" for m in self.mx),
            f"max_age: {self.max_age}",
        ]
        return "\r\n".join(lines) + "\r\n"

    @classmethod
    def from_text(cls, text: str) -> MtaStsPolicy:
        fields: dict[str, list[str]] = {}
        for line in text.replace("\r\n", "\n").split("\n"):
            if line.strip():
                key, sep, value = line.partition(":")
                if not sep:
                    raise RecordError(f"MTA-STS policy line {line!r} has no ':'")
                fields.setdefault(key.strip(), []).append(value.strip())
        if fields.get("version") != ["STSv1"]:
            raise RecordError("MTA-STS policy must have version: STSv1")
        mode = fields.get("mode", [""])[0]
        if mode not in ("enforce", "testing", "none"):
            raise RecordError(f"MTA-STS mode must be enforce, testing or none, not {mode!r}")
        return cls(
            mode=mode, mx=tuple(fields.get("mx", [])), max_age=int(fields.get("max_age", ["0"])[0])
        )

    @property
    def policy_id(self) -> str:
        """The id of the TXT record: derived from the policy, so it changes when, and only when,
        the policy changes (RFC 8461 3.1). 1-32 alphanumerics."""
        return hashlib.sha256(self.to_text().encode()).hexdigest()[:20]


def policy_for(mode: str, mx_hosts: Sequence[str], max_age: int) -> MtaStsPolicy:
    # Order-independent: the same MX set is the same policy, whatever order the stack lists it in.
    return MtaStsPolicy(mode=mode, mx=tuple(sorted(dict.fromkeys(mx_hosts))), max_age=max_age)


def txt_text(policy: MtaStsPolicy) -> str:
    return f"v=STSv1; id={policy.policy_id}"


POLICY_PATH = "/.well-known/mta-sts.txt"
