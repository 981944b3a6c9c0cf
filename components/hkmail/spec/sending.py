"""Sending services of a domain (``sending:``): Tencent SES in Hong Kong, or Alibaba DirectMail
with a cross-border declaration.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from hkmail.spec.cross_border import CrossBorderDeclaration, _read_cross_border
from hkmail.spec.reader import _Reader


@dataclass(frozen=True)
class TencentSesSender:
    """Tencent SES sending identity in ap-hongkong: mail content stays in Hong Kong."""

    domain: str
    service: Literal["tencent-ses"] = "tencent-ses"


@dataclass(frozen=True)
class DirectMailSender:
    """Alibaba DirectMail: no Hong Kong region, so only with a cross-border declaration."""

    domain: str
    cross_border: CrossBorderDeclaration
    service: Literal["alibaba-directmail"] = "alibaba-directmail"


Sender = TencentSesSender | DirectMailSender


SENDING_SERVICES: Final = ("tencent-ses", "alibaba-directmail")


def _read_sender(r: _Reader, path: str, raw: object, *, domain: str) -> Sender | None:
    m = r.mapping(path, raw, ("service", "domain", "crossBorder"))
    if m is None:
        return None
    service = r.choice(f"{path}.service", m.get("service"), SENDING_SERVICES)
    sending_domain = r.hostname(f"{path}.domain", m.get("domain", domain), min_labels=2)
    if sending_domain and not (sending_domain == domain or sending_domain.endswith("." + domain)):
        r.fail(f"{path}.domain", sending_domain, f"{domain} or a subdomain of it")
        return None
    if service is None or sending_domain is None:
        return None
    if service == "tencent-ses":
        if m.get("crossBorder") is not None:
            r.fail(
                f"{path}.crossBorder",
                m.get("crossBorder"),
                "no crossBorder for tencent-ses",
                "Tencent SES sends from ap-hongkong: nothing leaves Hong Kong",
            )
            return None
        return TencentSesSender(domain=sending_domain)
    declaration = _read_cross_border(r, f"{path}.crossBorder", m.get("crossBorder"))
    if declaration is None:
        return None
    return DirectMailSender(domain=sending_domain, cross_border=declaration)
