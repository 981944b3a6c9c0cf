"""The controls the rules serve, each with its source (document, section, date), stated as they
are in force (see /work/shared/DESIGN.md, "Domain facts (with sources)").

PDPO s.33 (a restriction on transfer out of Hong Kong) has never been brought into operation, so no
rule cites it: Hong Kong residency here is the customer's requirement and a regulator's
expectation, enforced through the obligations below. With s.33 not in force the PDPO sets no
"legal basis" requirement for a transfer: a transfer is a "use" of the data (DPP3).

A control marked ``evidence_only`` is an instrument that no rule serves; it may be cited only as
evidence inside an exemption (policies/exemptions.yaml), and only where its scope covers the
exempted flow (the GBA Standard Contract: a recipient registered in one of the nine Mainland cities
of the Greater Bay Area). tests/test_policy_metadata.py checks that no rule maps one.

Where a date or a detail could not be confirmed against a published source it says "unverified".
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Control:
    id: str
    title: str  # what the control requires, in one line (what a rule can be checked against)
    document: str  # the instrument, by its published title
    section: str  # the section, principle, paragraph or control number
    date: str  # the date of the document or of the provision in force ("unverified" if unknown)
    url: str = ""  # where a reviewer can read it
    evidence_only: bool = False  # cited by exemptions only, never by a rule

    @property
    def source(self) -> str:
        """Document, section, date (and address): what the README's control table shows."""
        text = f"{self.document}, {self.section}, {self.date}"
        return f"{text}; {self.url}" if self.url else text


_PDPO = "Personal Data (Privacy) Ordinance (Cap. 486)"
_PDPO_URL = "https://www.elegislation.gov.hk/hk/cap486"
_ISO = "ISO/IEC 27001:2022 Information security, cybersecurity and privacy protection"
_ISO_DATE = "Oct 2022"

CONTROLS: dict[str, Control] = {
    c.id: c
    for c in (
        Control(
            "PDPO-DPP2",
            "DPP2(2): personal data not kept longer than necessary for the purpose; DPP2(3): a "
            "data user that engages a data processor, within or outside Hong Kong, adopts "
            "contractual or other means to prevent the processor keeping the data longer than "
            "necessary",
            _PDPO,
            "Schedule 1, Data Protection Principle 2(2) and 2(3)",
            "DPP2(3) in operation since 1 Oct 2012 (Personal Data (Privacy) (Amendment) "
            "Ordinance 2012)",
            _PDPO_URL,
        ),
        Control(
            "PDPO-DPP4",
            "DPP4(1): all practicable steps to protect personal data against unauthorised or "
            "accidental access, processing, erasure, loss or use; DPP4(2): a data user that "
            "engages a data processor, within or outside Hong Kong, adopts contractual or other "
            "means to the same end",
            _PDPO,
            "Schedule 1, Data Protection Principle 4(1) and 4(2)",
            "DPP4(2) in operation since 1 Oct 2012 (Personal Data (Privacy) (Amendment) "
            "Ordinance 2012)",
            _PDPO_URL,
        ),
        Control(
            "PDPO-s65(2)",
            "s.65(2): an act done or practice engaged in by a person as agent for a data user, "
            "with the data user's authority (express or implied, precedent or subsequent), is "
            "treated as done by the data user as well; so a data user answers for a processor "
            "acting as its agent with that authority",
            _PDPO,
            "section 65(2)",
            "in operation since 20 Dec 1996",
            _PDPO_URL,
        ),
        Control(
            "PCPD-RMC-2022",
            "PCPD Guidance on Recommended Model Contractual Clauses for Cross-border Transfer of "
            "Personal Data: two sets of clauses (data user to data user; data user to data "
            "processor); recommended practice, not binding",
            "PCPD, Guidance on Recommended Model Contractual Clauses for Cross-border Transfer of "
            "Personal Data",
            "Schedule (the two sets of RMCs)",
            "12 May 2022",
            "https://www.pcpd.org.hk/english/news_events/media_statements/press_20220512.html",
        ),
        Control(
            "GBA-SC-2023",
            "Standard Contract for the Cross-boundary Flow of Personal Information within the "
            "Guangdong-Hong Kong-Macao Greater Bay Area (Mainland, Hong Kong): voluntary; on the "
            "Hong Kong side only the banking, credit referencing and healthcare sectors until "
            "1 Nov 2024, all sectors since; only "
            "for flows between the nine Mainland cities of the GBA and Hong Kong, with both "
            "parties registered there and no onward transfer outside the GBA; filed with the "
            "Guangdong provincial Cyberspace Administration or Hong Kong's Digital Policy Office "
            "within 10 working days of taking effect. Evidence inside an exemption for a GBA "
            "recipient only; serves no rule",
            "CAC and ITIB, Implementation Guidelines for the Standard Contract for the "
            "Cross-boundary Flow of Personal Information within the Guangdong-Hong Kong-Macao "
            "Greater Bay Area (Mainland, Hong Kong), with its annexed Standard Contract",
            "Guidelines (scope, filing) and annexed Standard Contract",
            "announcement 2023 No. 3, signed 10 Dec 2023, published 13 Dec 2023; all Hong Kong "
            "sectors from 1 Nov 2024",
            "https://digitalpolicy.gov.hk/en/our_work/digital_infrastructure/mainland/"
            "cross-boundary_data_flow",
            evidence_only=True,
        ),
        Control(
            "SFC-EDS-2019",
            "Where a licensed corporation keeps regulatory records exclusively with an external "
            "electronic data storage provider (EDSP) it needs all of: SFC approval of the "
            "premises under s.130 SFO; two managers-in-charge of core functions in Hong Kong "
            "with authority to access the records; and either a Hong Kong EDSP (records kept in "
            "a Hong Kong data centre, with the EDSP-countersigned notice) or an undertaking from "
            "a non-Hong Kong EDSP; since the SFC FAQ of 10 Dec 2020, undertakings from the "
            "managers-in-charge replace both routes, and with SFC consent one manager-in-charge "
            "or responsible officer suffices",
            "SFC, Circular to licensed corporations: Use of external electronic data storage "
            "(and SFC FAQs on it)",
            "Circular section C (exclusive storage with an EDSP); Securities and Futures "
            "Ordinance (Cap. 571) s.130",
            "31 Oct 2019; FAQs 10 Dec 2020",
        ),
        Control(
            "SFC-KRR",
            "Securities and Futures (Keeping of Records) Rules: intermediaries keep the "
            "prescribed accounting, trading and client records, for the period the Rules "
            "prescribe, in a form that can be produced (retention, not location)",
            "Securities and Futures (Keeping of Records) Rules (Cap. 571O), made under s.151 SFO",
            "the Rules as a whole (record-keeping and retention period)",
            "in operation since 1 Apr 2003",
            "https://www.elegislation.gov.hk/hk/cap571O",
        ),
        Control(
            "HKMA-SA-2",
            "HKMA Supervisory Policy Manual SA-2 Outsourcing: data location, access and "
            "confidentiality of customer data when an authorized institution outsources",
            'HKMA Supervisory Policy Manual, module SA-2 "Outsourcing"',
            "the module (customer data confidentiality; overseas outsourcing)",
            "V.1, 28 Dec 2001",
        ),
        Control(
            "HKMA-TM-G-1",
            "HKMA Supervisory Policy Manual TM-G-1 General Principles for Technology Risk "
            "Management (information protection, authentication, network security)",
            'HKMA Supervisory Policy Manual, module TM-G-1 "General Principles for Technology '
            'Risk Management"',
            "sections 3 (security management) and 6 (communications networks)",
            "V.1, 24 Jun 2003",
        ),
        Control(
            "HKMA-CLOUD-2022",
            'HKMA circular "Guidance on Cloud Computing": supervisory expectations for '
            "authorized institutions adopting cloud computing (governance, risk management and "
            "controls incl. customer data confidentiality, access and audit rights)",
            'HKMA circular "Guidance on Cloud Computing" (ref. B1/15C; a reference "B9/30C" '
            "could not be found: unverified)",
            "the circular and its annex",
            "31 Aug 2022",
        ),
        Control(
            "ISO27001-A.5.14",
            "Information transfer (rules, procedures or agreements for all transfer facilities, "
            "incl. electronic messaging)",
            _ISO,
            "Annex A, control 5.14",
            _ISO_DATE,
        ),
        Control(
            "ISO27001-A.5.17",
            "Authentication information",
            _ISO,
            "Annex A, control 5.17",
            _ISO_DATE,
        ),
        Control(
            "ISO27001-A.5.23",
            "Information security for use of cloud services",
            _ISO,
            "Annex A, control 5.23",
            _ISO_DATE,
        ),
        Control(
            "ISO27001-A.5.33",
            "Protection of records (from loss, destruction, falsification, unauthorised access)",
            _ISO,
            "Annex A, control 5.33",
            _ISO_DATE,
        ),
        Control(
            "ISO27001-A.5.34",
            "Privacy and protection of PII",
            _ISO,
            "Annex A, control 5.34",
            _ISO_DATE,
        ),
        Control(
            "ISO27001-A.8.3",
            "Information access restriction",
            _ISO,
            "Annex A, control 8.3",
            _ISO_DATE,
        ),
        Control(
            "ISO27001-A.8.12",
            "Data leakage prevention",
            _ISO,
            "Annex A, control 8.12",
            _ISO_DATE,
        ),
        Control(
            "ISO27001-A.8.13",
            "Information backup (backup copies maintained and tested per an agreed policy)",
            _ISO,
            "Annex A, control 8.13",
            _ISO_DATE,
        ),
        Control(
            "ISO27001-A.8.21",
            "Security of network services",
            _ISO,
            "Annex A, control 8.21",
            _ISO_DATE,
        ),
        Control(
            "ISO27001-A.8.24",
            "Use of cryptography (incl. key management)",
            _ISO,
            "Annex A, control 8.24",
            _ISO_DATE,
        ),
        Control(
            "RFC-7208",
            "Sender Policy Framework: the 'all' mechanism and its qualifiers; at most 10 "
            "DNS-querying terms",
            "IETF RFC 7208, Sender Policy Framework (SPF) for Authorizing Use of Domains in "
            "Email, Version 1",
            "sections 4.6.4 and 5.1",
            "Apr 2014",
            "https://www.rfc-editor.org/rfc/rfc7208",
        ),
        Control(
            "RFC-6376-8301-8463",
            "DKIM signatures (RFC 6376); RSA keys at least 1024 bits, 2048 recommended (RFC 8301 "
            "section 3.2); Ed25519 (RFC 8463)",
            "IETF RFC 6376 DomainKeys Identified Mail (DKIM) Signatures; RFC 8301 Cryptographic "
            "Algorithm and Key Usage Update to DKIM; RFC 8463 A New Cryptographic Signature "
            "Method for DKIM",
            "RFC 6376 section 3.6.1; RFC 8301 section 3.2; RFC 8463",
            "Sep 2011; Jan 2018; Sep 2018",
            "https://www.rfc-editor.org/rfc/rfc8301",
        ),
        Control(
            "RFC-7489",
            "DMARC policy record: p= (none, quarantine, reject) and sp=",
            "IETF RFC 7489, Domain-based Message Authentication, Reporting, and Conformance "
            "(DMARC)",
            "section 6.3",
            "Mar 2015",
            "https://www.rfc-editor.org/rfc/rfc7489",
        ),
    )
}

# The residency rules all serve the same obligations: keep control of where the processor puts
# the data (DPP4(2), s.65(2)), the model clauses that make that control contractual, and the
# regulators' expectations on data location. The GBA Standard Contract is not among them: it is
# evidence for one narrow kind of exemption (a GBA recipient), never a reason to block.
RESIDENCY = (
    "PDPO-DPP4",
    "PDPO-s65(2)",
    "PCPD-RMC-2022",
    "SFC-EDS-2019",
    "HKMA-SA-2",
    "HKMA-CLOUD-2022",
    "ISO27001-A.5.23",
    "ISO27001-A.5.34",
)

# The mail-authentication rules: the RFC each implements, plus these. ISO 5.14 (information
# transfer) absorbed the 2013 edition's electronic messaging control (A.13.2.3).
MAIL_AUTH = ("PDPO-DPP4", "ISO27001-A.5.14", "ISO27001-A.8.21", "HKMA-TM-G-1")
