"""DMARC policy records (RFC 7489)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from hkmail.errors import RecordError
from hkmail.records.dkim import parse_tags


@dataclass(frozen=True)
class DmarcRecord:
    policy: str
    subdomain_policy: str | None = None
    pct: int = 100
    rua: tuple[str, ...] = ()
    ruf: tuple[str, ...] = ()
    adkim: str = "r"
    aspf: str = "r"

    def to_text(self) -> str:
        parts = ["v=DMARC1", f"p={self.policy}"]
        if self.subdomain_policy:
            parts.append(f"sp={self.subdomain_policy}")
        if self.pct != 100:
            parts.append(f"pct={self.pct}")
        if self.rua:
            parts.append("rua=" + ",".join(self.rua))
        if self.ruf:
            parts.append("ruf=" + ",".join(self.ruf))
            parts.append("fo=1")  # a failure report for any failed mechanism, not only both
        if self.adkim != "r":
            parts.append(f"adkim={self.adkim}")
        if self.aspf != "r":
            parts.append(f"aspf={self.aspf}")
        return "; ".join(parts)

    @classmethod
    def from_text(cls, text: str) -> DmarcRecord:
        tags = parse_tags(text)
        if tags.get("v") != "DMARC1" or not text.lstrip().startswith("v=DMARC1"):
            raise RecordError(f"DMARC record must start with v=DMARC1: {text!r}")
        if tags.get("p") not in ("none", "quarantine", "reject"):
            raise RecordError(f"DMARC p= must be none, quarantine or reject: {text!r}")
        return cls(
            policy=tags["p"],
            subdomain_policy=tags.get("sp"),
            pct=int(tags.get("pct", "100")),
            rua=_uris(tags.get("rua")),
            ruf=_uris(tags.get("ruf")),
            adkim=tags.get("adkim", "r"),
            aspf=tags.get("aspf", "r"),
        )

    def external_destinations(self, domain: str) -> Sequence[str]:
        """Report domains outside ``domain`` that must authorise it (RFC 7489 7.1)."""
        out = []
        for uri in (*self.rua, *self.ruf):
            dest = uri.partition("@")[2].split("!")[0].lower()
            if dest and dest != domain and not dest.endswith("." + domain):
                out.append(dest)
        return tuple(dict.fromkeys(out))


def _uris(value: str | None) -> tuple[str, ...]:
    return tuple(u.strip() for u in value.split(",")) if value else ()


def report_authorisation_name(domain: str, destination: str) -> str:
    """Owner of the record by which ``destination`` agrees to receive ``domain``'s reports."""
    return f"{domain}._report._dmarc.{destination}"
