"""The controls the rules serve, stated as they are in force (see /work/shared/DESIGN.md).

PDPO s.33 (a ban on transfer out of Hong Kong) has never been brought into operation, so no rule
cites it: Hong Kong residency here is the customer's requirement and a regulator's expectation,
enforced through the obligations below.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Control:
    id: str
    title: str
    source: str


CONTROLS: dict[str, Control] = {
    c.id: c
    for c in (
        Control(
            "PDPO-DPP2",
            "PDPO Sch.1 DPP2: accuracy and duration of retention (incl. DPP2(3) contractual "
            "means to stop a processor keeping data longer than necessary)",
            "Cap. 486, Schedule 1, Principle 2",
        ),
        Control(
            "PDPO-DPP4",
            "PDPO Sch.1 DPP4: security of personal data; DPP4(2) processors within or outside "
            "Hong Kong need contractual or other safeguards",
            "Cap. 486, Schedule 1, Principle 4",
        ),
        Control(
            "PDPO-s65(2)",
            "PDPO s.65(2): a data user is liable for what its agent (processor) does",
            "Cap. 486, section 65(2)",
        ),
        Control(
            "PCPD-RMC-2022",
            "PCPD Guidance on Recommended Model Contractual Clauses for Cross-border Transfer "
            "of Personal Data (May 2022)",
            "PCPD, May 2022",
        ),
        Control(
            "GBA-SC-2023",
            "Standard Contract for Cross-boundary Flow of Personal Information within the "
            "Guangdong-Hong Kong-Macao Greater Bay Area (Mainland, Hong Kong) (Dec 2023, "
            "voluntary; filing within 10 working days)",
            "CAC / ITIB, Dec 2023",
        ),
        Control(
            "SFC-EDS-2019",
            "SFC circular on use of external electronic data storage (31 Oct 2019): records kept "
            "only with an external provider must be in a Hong Kong data centre or covered by "
            "undertakings",
            "SFC circular to licensed corporations, 31 Oct 2019",
        ),
        Control(
            "HKMA-SA-2",
            "HKMA Supervisory Policy Manual SA-2 Outsourcing (data location, access and "
            "confidentiality of customer data)",
            "HKMA SPM SA-2",
        ),
        Control(
            "HKMA-TM-G-1",
            "HKMA SPM TM-G-1 General Principles for Technology Risk Management",
            "HKMA SPM TM-G-1",
        ),
        Control(
            "HKMA-CLOUD-2022",
            "HKMA circular on sound management of cloud computing risks (31 Aug 2022)",
            "HKMA circular, 31 Aug 2022",
        ),
        Control(
            "ISO27001-A.5.23",
            "ISO/IEC 27001:2022 Annex A 5.23 Information security for use of cloud services",
            "ISO/IEC 27001:2022",
        ),
        Control(
            "ISO27001-A.5.33",
            "ISO/IEC 27001:2022 Annex A 5.33 Protection of records",
            "ISO/IEC 27001:2022",
        ),
        Control(
            "ISO27001-A.5.34",
            "ISO/IEC 27001:2022 Annex A 5.34 Privacy and protection of PII",
            "ISO/IEC 27001:2022",
        ),
        Control(
            "ISO27001-A.8.12",
            "ISO/IEC 27001:2022 Annex A 8.12 Data leakage prevention",
            "ISO/IEC 27001:2022",
        ),
        Control(
            "ISO27001-A.8.13",
            "ISO/IEC 27001:2022 Annex A 8.13 Information backup",
            "ISO/IEC 27001:2022",
        ),
        Control(
            "ISO27001-A.8.24",
            "ISO/IEC 27001:2022 Annex A 8.24 Use of cryptography",
            "ISO/IEC 27001:2022",
        ),
        Control(
            "ISO27001-A.5.17",
            "ISO/IEC 27001:2022 Annex A 5.17 Authentication information",
            "ISO/IEC 27001:2022",
        ),
        Control(
            "ISO27001-A.8.21",
            "ISO/IEC 27001:2022 Annex A 8.21 Security of network services",
            "ISO/IEC 27001:2022",
        ),
        Control(
            "ISO27001-A.8.3",
            "ISO/IEC 27001:2022 Annex A 8.3 Information access restriction",
            "ISO/IEC 27001:2022",
        ),
        Control(
            "RFC-7208",
            "RFC 7208 Sender Policy Framework",
            "IETF RFC 7208",
        ),
        Control(
            "RFC-6376-8301-8463",
            "DKIM signatures (RFC 6376), key size (RFC 8301: RSA >= 1024, 2048 recommended), "
            "Ed25519 (RFC 8463)",
            "IETF RFC 6376, 8301, 8463",
        ),
        Control(
            "RFC-7489",
            "RFC 7489 DMARC",
            "IETF RFC 7489",
        ),
    )
}

# The residency rules all serve the same obligations: keep control of where the processor puts
# the data (DPP4(2), s.65(2)), and the regulator expectations on data location.
RESIDENCY = (
    "PDPO-DPP4",
    "PDPO-s65(2)",
    "PCPD-RMC-2022",
    "GBA-SC-2023",
    "SFC-EDS-2019",
    "HKMA-SA-2",
    "HKMA-CLOUD-2022",
    "ISO27001-A.5.23",
    "ISO27001-A.5.34",
)
