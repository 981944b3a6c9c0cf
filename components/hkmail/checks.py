"""Moved to :mod:`hkmail.spec.checks` (the stack-wide checks are part of reading the spec; the
move broke the spec <-> checks import cycle). Kept so ``from hkmail.checks import ...`` works."""

from hkmail.spec.checks import (
    DKIM_EXPECTED,
    DKIM_MIN_BITS,
    DKIM_REMEDIATION,
    DKIM_RULE,
    DMARC_EXPECTED,
    DMARC_MAX_RAMP_DAYS,
    DMARC_REMEDIATION,
    DMARC_RULE,
    Exemption,
    dkim_pair,
    domain_paths,
    exemptions_on_file,
    in_zone_addresses,
    mail_authentication,
    mailbox_hashes,
    name_lengths,
    plain_text_secrets,
    stack_checks,
)

__all__ = [
    "DKIM_EXPECTED",
    "DKIM_MIN_BITS",
    "DKIM_REMEDIATION",
    "DKIM_RULE",
    "DMARC_EXPECTED",
    "DMARC_MAX_RAMP_DAYS",
    "DMARC_REMEDIATION",
    "DMARC_RULE",
    "Exemption",
    "dkim_pair",
    "domain_paths",
    "exemptions_on_file",
    "in_zone_addresses",
    "mail_authentication",
    "mailbox_hashes",
    "name_lengths",
    "plain_text_secrets",
    "stack_checks",
]
