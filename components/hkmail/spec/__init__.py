"""The typed stack spec: stack configuration in, validated frozen dataclasses out.

This is the only place that reads user input. Everything downstream (records, components) takes a
:class:`StackSpec` and may assume it is valid. Every problem is reported with the config key path,
the value and what is allowed, and all problems of one stack are reported together.

Config keys (Pulumi config of the stack, see stacks/ for examples):
    tencentcloud:region / alicloud:region   the region of each cloud the stack uses (Hong Kong only)
    hkmail:dnsProvider                       dnspod | alidns
    hkmail:dnsPlan                           the DNS plan, which sets the provider's TTL floor
    hkmail:domains                           list of mail domains (see DomainSpec)

One module per section, each importing only those below it (no cycles):

    reader          the config reader and host-name rules every section uses
    mailauth        SPF, DKIM, DMARC, MTA-STS, TLS-RPT of a domain
    mailflows       hkmail:mailFlows: how mail-data flows out of Hong Kong are declared
    cross_border    cross-border declarations (crossBorder: of a sender)
    sending         sending services (sending:)
    private_server  hkmail:privateServer
    domains         a mail domain (hkmail:domains[i]): suite, MX, endpoints, CAA, hosts
    migration       hkmail:migration
    checks          stack-wide checks that need more than one field (run by read_stack)
    stack           read_stack: the whole stack
    component_args  the components' front door: the same readers on one component's args

This package re-exports the names other code imports (``from hkmail.spec import read_stack``).
"""

from hkmail.facts import HK_REGION as HK_REGION
from hkmail.spec.component_args import (
    read_domain_args,
    read_migration_args,
    read_private_server_args,
)
from hkmail.spec.cross_border import _DECLARATION_KEYS as _DECLARATION_KEYS
from hkmail.spec.cross_border import (
    DATA_SUBJECT_MEASURES,
    TRANSFER_SAFEGUARDS,
    CrossBorderDeclaration,
    Safeguard,
)
from hkmail.spec.domains import _DOMAIN_KEYS as _DOMAIN_KEYS
from hkmail.spec.domains import CaaSpec, DomainSpec, HostAddresses
from hkmail.spec.mailauth import (
    ALIGNMENTS,
    DMARC_POLICIES,
    KEY_TYPES,
    MTA_STS_MODES,
    SPF_ALLS,
    Alignment,
    DkimKey,
    DmarcPolicy,
    DmarcSpec,
    KeyType,
    MtaStsMode,
    MtaStsSpec,
    PolicyHost,
    SpfAll,
    SpfSpec,
    TlsRptSpec,
    dkim_key_bits,
)
from hkmail.spec.mailflows import AttestationOnFile, MailCrossBorder, MailFlowDeclaration
from hkmail.spec.migration import (
    MIGRATION_PHASES,
    OLD_SUITE_IMAP,
    MigrationPhase,
    MigrationSpec,
    MigrationVerification,
    OldMailSystem,
    migration_problems,
    read_migration,
)
from hkmail.spec.private_server import _PRIVATE_KEYS as _PRIVATE_KEYS
from hkmail.spec.private_server import PRIVATE_SECRETS, PrivateServerSpec
from hkmail.spec.reader import display_name, idna_to_ascii, normalize_hostname
from hkmail.spec.sending import SENDING_SERVICES, DirectMailSender, Sender, TencentSesSender
from hkmail.spec.stack import KNOWN_KEYS, StackSpec, read_stack, region_problem

__all__ = [
    "ALIGNMENTS",
    "DATA_SUBJECT_MEASURES",
    "DMARC_POLICIES",
    "KEY_TYPES",
    "KNOWN_KEYS",
    "MIGRATION_PHASES",
    "MTA_STS_MODES",
    "OLD_SUITE_IMAP",
    "PRIVATE_SECRETS",
    "SENDING_SERVICES",
    "SPF_ALLS",
    "TRANSFER_SAFEGUARDS",
    "Alignment",
    "AttestationOnFile",
    "CaaSpec",
    "CrossBorderDeclaration",
    "DirectMailSender",
    "DkimKey",
    "DmarcPolicy",
    "DmarcSpec",
    "DomainSpec",
    "HostAddresses",
    "KeyType",
    "MailCrossBorder",
    "MailFlowDeclaration",
    "MigrationPhase",
    "MigrationSpec",
    "MigrationVerification",
    "MtaStsMode",
    "MtaStsSpec",
    "OldMailSystem",
    "PolicyHost",
    "PrivateServerSpec",
    "Safeguard",
    "Sender",
    "SpfAll",
    "SpfSpec",
    "StackSpec",
    "TencentSesSender",
    "TlsRptSpec",
    "display_name",
    "dkim_key_bits",
    "idna_to_ascii",
    "migration_problems",
    "normalize_hostname",
    "read_domain_args",
    "read_migration",
    "read_migration_args",
    "read_private_server_args",
    "read_stack",
    "region_problem",
]
