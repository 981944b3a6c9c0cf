"""Cross-border declarations (``crossBorder:`` of a sender): where mail content leaves Hong Kong
for, the safeguard the data user relies on for its processor there, and the exemption on file.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

from hkmail.facts import (
    DIRECTMAIL_DESTINATIONS,
    DIRECTMAIL_REGIONS,
    Destination,
)
from hkmail.spec.reader import _Reader


@dataclass(frozen=True)
class Safeguard:
    """An instrument a data user can rely on when its processor handles data outside Hong Kong."""

    title: str
    covers: Callable[[Destination], bool]  # whether its scope can cover that destination
    scope: str  # the scope, said plainly (used when a destination is outside it)


# With PDPO s.33 not in force there is no "legal basis" requirement for a transfer out of Hong
# Kong: the transfer is a use of the data (DPP3). What the data user stays answerable for is its
# processor (s.65(2); DPP2(3) retention and DPP4(2) security by "contractual or other means",
# processors within or outside Hong Kong). These are the safeguards a declaration can name.
TRANSFER_SAFEGUARDS: Final[Mapping[str, Safeguard]] = {
    "pcpd-model-clauses-2022": Safeguard(
        "PCPD Recommended Model Contractual Clauses (data user to data processor), PCPD Guidance "
        "on Recommended Model Contractual Clauses for Cross-border Transfer of Personal Data, "
        "12 May 2022 (recommended practice, not binding)",
        lambda d: True,
        "any destination",
    ),
    "processor-contract": Safeguard(
        "a contract with the processor carrying the DPP2(3) retention and DPP4(2) security "
        "safeguards (e.g. the provider's data processing agreement)",
        lambda d: True,
        "any destination",
    ),
    "gba-standard-contract": Safeguard(
        "Standard Contract for the Cross-boundary Flow of Personal Information within the "
        "Guangdong-Hong Kong-Macao Greater Bay Area (Mainland, Hong Kong), Dec 2023 (voluntary; "
        "filed with the Guangdong provincial Cyberspace Administration or Hong Kong's Digital "
        "Policy Office within 10 working days of taking effect)",
        lambda d: d.in_gba,
        "only flows between Hong Kong and the nine Mainland cities of the Greater Bay Area, with "
        "both parties registered there",
    ),
}

# What the data user has on file about the data subjects. None of these is a transfer safeguard
# and none replaces the processor safeguards above (DPP2(3), DPP4(2)).
DATA_SUBJECT_MEASURES: Final[Mapping[str, str]] = {
    "transferee-notice": "data subjects told at collection of the classes of persons the data "
    "may be transferred to (DPP1(3))",
    "new-purpose-consent": "prescribed consent of the data subjects, needed only where the "
    "transfer serves a new purpose (DPP3)",
    "direct-marketing-consent": "notice and consent for direct marketing (PDPO Part 6A)",
}

# Values and keys of the first version of the declaration, and what replaces them.
_RENAMED_KEYS: Final = {
    "legalBasis": "transferSafeguard: the PDPO sets no legal-basis requirement for a transfer "
    "(s.33 is not in force: a transfer is a use of the data, DPP3); declare the safeguard you "
    "rely on for the processor (DPP2(3), DPP4(2)): " + " | ".join(TRANSFER_SAFEGUARDS),
}
_RETIRED_VALUES: Final = {
    "data-subject-consent": "consent is not a transfer safeguard and never replaces the "
    "processor safeguards of DPP2(3)/DPP4(2): declare transferSafeguard: "
    "pcpd-model-clauses-2022 (or processor-contract), and list what you hold for the data "
    "subjects under dataSubjects: [transferee-notice (DPP1(3)), new-purpose-consent (DPP3, only "
    "for a new purpose), direct-marketing-consent (Part 6A, for marketing mail)]",
}


@dataclass(frozen=True)
class CrossBorderDeclaration:
    """The stack's explicit statement that mail content leaves Hong Kong, for where, and the
    safeguard the data user relies on for its processor there."""

    destination_region: str
    transfer_safeguard: str
    exemption: str  # the id of the reviewed exemption in policies/exemptions.yaml
    reference: str = ""  # contract or ticket, e.g. the signed model clauses
    data_subjects: tuple[str, ...] = ()

    @property
    def destination(self) -> Destination:
        return DIRECTMAIL_DESTINATIONS[self.destination_region]

    def statement(self, service: str, domain: str) -> str:
        where = self.destination
        subjects = "; ".join(DATA_SUBJECT_MEASURES[m] for m in self.data_subjects)
        return (
            f"CROSS-BORDER: mail sent as {domain} through {service} leaves Hong Kong for "
            f"{where.country} ({service} region {self.destination_region}, {where.label}) "
            f"(transfer safeguard: {TRANSFER_SAFEGUARDS[self.transfer_safeguard].title}"
            f"{'; data subjects: ' + subjects if subjects else ''}; exemption "
            f"{self.exemption}{'; ' + self.reference if self.reference else ''})"
        )


_DECLARATION_KEYS: Final = (
    "destinationRegion",
    "destinationCountry",
    "transferSafeguard",
    "dataSubjects",
    "exemption",
    "reference",
)


def _read_cross_border(r: _Reader, path: str, raw: object) -> CrossBorderDeclaration | None:
    if raw is None:
        r.fail(
            path,
            raw,
            "a crossBorder declaration {destinationRegion, transferSafeguard, exemption, "
            "reference}, or service: tencent-ses (Tencent SES in ap-hongkong keeps mail in Hong "
            "Kong)",
            "Alibaba DirectMail has no Hong Kong region (only "
            + ", ".join(DIRECTMAIL_REGIONS)
            + "): every message sent through it leaves Hong Kong",
        )
        return None
    m = r.mapping(path, raw, (*_DECLARATION_KEYS, *_RENAMED_KEYS))
    if m is None:
        return None
    retired = False
    for old, instead in _RENAMED_KEYS.items():
        if old in m:
            value = m[old]
            hint = _RETIRED_VALUES.get(value, instead) if isinstance(value, str) else instead
            r.fail(f"{path}.{old}", value, hint, f"{old} is no longer accepted")
            retired = True
    region = r.choice(f"{path}.destinationRegion", m.get("destinationRegion"), DIRECTMAIL_REGIONS)
    safeguard_raw = m.get("transferSafeguard")
    if retired and safeguard_raw is None:
        safeguard = None  # already reported on the old key
    elif isinstance(safeguard_raw, str) and safeguard_raw in _RETIRED_VALUES:
        r.fail(f"{path}.transferSafeguard", safeguard_raw, _RETIRED_VALUES[safeguard_raw])
        safeguard = None
    else:
        safeguard = r.choice(f"{path}.transferSafeguard", safeguard_raw, tuple(TRANSFER_SAFEGUARDS))
    if region is not None:
        where = DIRECTMAIL_DESTINATIONS[region]
        country = m.get("destinationCountry")
        if country is not None and (
            not isinstance(country, str) or country.strip().lower() != where.country.lower()
        ):
            r.fail(
                f"{path}.destinationCountry",
                country,
                where.country,
                f"DirectMail region {region} is {where.label}"
                + (f" ({where.note})" if where.note else ""),
            )
        if safeguard is not None and not TRANSFER_SAFEGUARDS[safeguard].covers(where):
            r.fail(
                f"{path}.transferSafeguard",
                safeguard,
                " | ".join(k for k, v in TRANSFER_SAFEGUARDS.items() if v.covers(where)),
                f"the {safeguard} covers {TRANSFER_SAFEGUARDS[safeguard].scope}; DirectMail "
                f"region {region} is {where.country}, which it cannot cover (no DirectMail "
                "region is in the Greater Bay Area)",
            )
            safeguard = None
    subjects: list[str] = []
    for item_path, item in r.items(f"{path}.dataSubjects", m.get("dataSubjects")):
        if isinstance(item, str) and item in _RETIRED_VALUES:
            r.fail(item_path, item, " | ".join(DATA_SUBJECT_MEASURES), _RETIRED_VALUES[item])
            continue
        measure = r.choice(item_path, item, tuple(DATA_SUBJECT_MEASURES))
        if measure is not None and measure not in subjects:
            subjects.append(measure)
    exemption = m.get("exemption")
    if not isinstance(exemption, str) or not re.fullmatch(
        r"[A-Za-z0-9][A-Za-z0-9._-]{1,63}", exemption
    ):
        r.fail(
            f"{path}.exemption",
            exemption,
            "the id of the reviewed exemption in policies/exemptions.yaml (e.g. EX-2026-001)",
        )
        exemption = None
    reference = m.get("reference", "")
    if not isinstance(reference, str):
        r.fail(f"{path}.reference", reference, "text: the contract or ticket reference")
        reference = ""
    if retired or region is None or safeguard is None or exemption is None:
        return None
    return CrossBorderDeclaration(region, safeguard, exemption, reference, tuple(subjects))
