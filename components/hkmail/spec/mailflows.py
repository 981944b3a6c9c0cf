"""Declarations of mail-data flows out of Hong Kong (hkmail:mailFlows): for a flow the policy
pack would block (mailboxes at a suite that publishes no storage location, a third-party sender,
a report receiver abroad), the stack says how it is declared: an attestation on file, or a
cross-border transfer with its safeguard and exemption.

    hkmail:mailFlows:
      - domain: harbourtrading.com.hk
        system: tencent-exmail        # a suite or sending service, or a host the domain uses
        attestation: ATT-2026-001     # in policies/attestations.yaml
      - domain: pedderlaw.com.hk
        system: alibaba-mail
        crossBorder:
          destinationCountry: Mainland China
          transferSafeguard: processor-contract
          exemption: EX-2026-002      # in policies/exemptions.yaml, for the records it covers
          reference: DPA-2026-11

The pack judges the records themselves (policies/hkmail_policy/rules/mailflows.py); what is
checked here, before any resource exists, is that a declaration is well formed and points at
something true: an attestation on file, in date, with its evidence, for a system the domain
uses; a cross-border declaration that does not name Hong Kong, with a safeguard that can cover it.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from hkmail.errors import SpecError
from hkmail.spec.checks import Exemption, exemption_on_file
from hkmail.spec.cross_border import TRANSFER_SAFEGUARDS
from hkmail.spec.domains import DomainSpec
from hkmail.spec.reader import _Reader

_KEYS: Final = ("domain", "system", "attestation", "crossBorder")
_CROSS_KEYS: Final = ("destinationCountry", "transferSafeguard", "exemption", "reference")
_ATTESTATION_ID = re.compile(r"^ATT-[A-Za-z0-9-]+$")
_EXEMPTION_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,63}$")
#: A safeguard a mail-flow declaration may name: no hosted suite publishes a location inside the
#: Greater Bay Area, so the GBA Standard Contract cannot be shown to cover one.
MAIL_FLOW_SAFEGUARDS: Final = tuple(k for k in TRANSFER_SAFEGUARDS if k != "gba-standard-contract")


@dataclass(frozen=True)
class MailCrossBorder:
    destination_country: str
    transfer_safeguard: str
    exemption: str
    reference: str = ""


@dataclass(frozen=True)
class MailFlowDeclaration:
    domain: str
    system: str
    attestation: str | None = None
    cross_border: MailCrossBorder | None = None


@dataclass(frozen=True)
class AttestationOnFile:
    """What the stack checks need of an attestation the policy pack's module has validated
    (evidence, dates and approval are checked there, for every tool; the library does not read
    the file)."""

    id: str
    system: str  # the entry's system: a row of the pack's mail-systems table, or a host glob
    expires: dt.date
    stacks: tuple[str, ...] = ("*",)  # the stacks (names or globs) the entry covers


def systems_used(domain: DomainSpec) -> set[str]:
    """What the domain's records hand mail to: its suite, its sending services, and the hosts
    its MX, SPF includes and report addresses name."""
    used = {domain.suite.name, *(s.service for s in domain.senders)}
    used.update(mx.host for mx in domain.mx)
    used.update(domain.spf.include)
    used.update(domain.suite.spf_includes)
    reports = [
        *(domain.dmarc.rua if domain.dmarc else ()),
        *(domain.dmarc.ruf if domain.dmarc else ()),
    ]
    reports += list(domain.tls_rpt.rua if domain.tls_rpt else ())
    for uri in reports:
        host = uri.rsplit("@", 1)[-1] if uri.startswith("mailto:") else uri.split("/")[2]
        used.add(host.lower())
    return used


def _uses(domain: DomainSpec, system: str) -> bool:
    return any(fnmatch.fnmatchcase(used, system.lower()) for used in systems_used(domain))


def _listed(raw_domains: object) -> set[str]:
    """The names hkmail:domains lists, read or not: a domain refused for its own error (a bad
    suite, say) is still the one a declaration names, and one cause gets one error."""
    names: set[str] = set()
    for entry in raw_domains if isinstance(raw_domains, list) else ():
        name = entry.get("name") if isinstance(entry, Mapping) else None
        if isinstance(name, str):
            names.add(name.strip().lower().rstrip("."))
    return names


def read_mail_flows(
    r: _Reader, raw: object, domains: Sequence[DomainSpec], raw_domains: object = None
) -> tuple[MailFlowDeclaration, ...]:
    path = "hkmail:mailFlows"
    by_name = {d.name: d for d in domains}
    unread = _listed(raw_domains) - set(by_name)
    out: list[MailFlowDeclaration] = []
    for item_path, item in r.items(path, raw):
        m = r.mapping(item_path, item, _KEYS)
        if m is None:
            continue
        name = r.hostname(f"{item_path}.domain", m.get("domain"), min_labels=2)
        domain = by_name.get(name or "")
        if name is not None and domain is None and name not in unread:
            r.fail(f"{item_path}.domain", name, " | ".join(by_name) or "a domain of hkmail:domains")
        system = m.get("system")
        if not isinstance(system, str) or not system.strip():
            r.fail(
                f"{item_path}.system",
                system,
                "the suite, sending service or host the flow "
                "goes to (e.g. tencent-exmail, alibaba-mail, mail.example.net)",
            )
            continue
        system = system.strip().lower().rstrip(".")
        if domain is not None and system == domain.suite.name and domain.suite.stack_mx:
            # No published MX host ties the console's MX to the suite, so the pack judges each
            # MX host by name: declare (and attest) those hosts.
            r.fail(
                f"{item_path}.system",
                system,
                " | ".join(mx.host for mx in domain.mx) or "the domain's MX hosts",
                f"suite {system} publishes no MX hosts: the pack judges the MX hosts {domain.name} "
                "lists, so declare and attest those",
            )
            continue
        if domain is not None and not _uses(domain, system):
            r.fail(
                f"{item_path}.system",
                system,
                " | ".join(sorted(systems_used(domain))),
                f"{domain.name} hands no mail to {system}: a declaration for a system the "
                "domain does not use declares nothing",
            )
        has_att, has_cross = m.get("attestation") is not None, m.get("crossBorder") is not None
        if has_att == has_cross:
            r.fail(item_path, dict(m), "exactly one of attestation or crossBorder")
            continue
        attestation = None
        cross = None
        if has_att:
            value = m.get("attestation")
            if not isinstance(value, str) or not _ATTESTATION_ID.match(value):
                r.fail(
                    f"{item_path}.attestation",
                    value,
                    "the id of an entry in policies/attestations.yaml (e.g. ATT-2026-001)",
                )
                continue
            attestation = value
        else:
            cross = _read_cross(r, f"{item_path}.crossBorder", m.get("crossBorder"))
            if cross is None:
                continue
        if domain is not None:
            out.append(MailFlowDeclaration(domain.name, system, attestation, cross))
    return tuple(out)


def _read_cross(r: _Reader, path: str, raw: object) -> MailCrossBorder | None:
    m = r.mapping(path, raw, _CROSS_KEYS)
    if m is None:
        return None
    before = len(r.errors)
    country = m.get("destinationCountry")
    if not isinstance(country, str) or not country.strip():
        r.fail(f"{path}.destinationCountry", country, "the country the data goes to")
    elif "hong kong" in country.strip().lower():
        r.fail(
            f"{path}.destinationCountry",
            country,
            "a country outside Hong Kong",
            "a cross-border declaration says where the data goes outside Hong Kong; for a "
            "vendor's confirmation that it stays in Hong Kong, file an attestation instead",
        )
    safeguard = r.choice(
        f"{path}.transferSafeguard", m.get("transferSafeguard"), MAIL_FLOW_SAFEGUARDS
    )
    exemption = m.get("exemption")
    if not isinstance(exemption, str) or not _EXEMPTION_ID.match(exemption):
        r.fail(
            f"{path}.exemption",
            exemption,
            "the id of the reviewed exemption in policies/exemptions.yaml (e.g. EX-2026-002)",
        )
    reference = m.get("reference", "")
    if not isinstance(reference, str):
        r.fail(f"{path}.reference", reference, "text: the contract or ticket reference")
    if len(r.errors) > before or safeguard is None:
        return None
    assert isinstance(country, str) and isinstance(exemption, str) and isinstance(reference, str)
    return MailCrossBorder(country.strip(), safeguard, exemption, reference)


# --- checks against the files on record (run by read_stack with the files) --------------------


def attestations_on_file(
    declarations: Sequence[MailFlowDeclaration],
    attestations: Mapping[str, AttestationOnFile],
    today: dt.date,
    stack: str | None = None,
) -> Iterator[SpecError]:
    for i, d in enumerate(declarations):
        if d.attestation is None:
            continue
        path = f"hkmail:mailFlows[{i}].attestation"
        att = attestations.get(d.attestation)
        if att is None:
            on_file = ", ".join(sorted(attestations)) or "none"
            yield SpecError(
                path,
                d.attestation,
                f"the id of an attestation in policies/attestations.yaml (on file: {on_file})",
                "no such attestation on file: the gate would block the flow",
            )
            continue
        if stack is not None and not any(fnmatch.fnmatchcase(stack, g) for g in att.stacks):
            yield SpecError(
                path,
                d.attestation,
                f"an attestation whose stacks cover this stack ({stack})",
                f"{d.attestation} covers stacks {', '.join(att.stacks)}: the gate would not apply "
                "it here (a reviewer signs for one company's contract)",
            )
            continue
        if att.expires < today:
            yield SpecError(
                path,
                d.attestation,
                "an attestation in date (renew it in policies/attestations.yaml)",
                f"it expired on {att.expires.isoformat()}: the flow is blocked again",
            )
        if (
            att.system
            and att.system.lower() != d.system
            and not fnmatch.fnmatchcase(d.system, att.system.lower())
        ):
            yield SpecError(
                path,
                d.attestation,
                f"an attestation for {d.system}",
                f"{d.attestation} attests {att.system}, not {d.system}",
            )


def exemptions_on_file(
    declarations: Sequence[MailFlowDeclaration],
    exemptions: Mapping[str, Exemption],
    today: dt.date,
    stack: str | None,
) -> Iterator[SpecError]:
    for i, d in enumerate(declarations):
        if d.cross_border is None:
            continue
        path = f"hkmail:mailFlows[{i}].crossBorder.exemption"
        ref = d.cross_border.exemption
        error = exemption_on_file(path, ref, exemptions, today, stack, "the flow")
        if error is not None:
            yield error
