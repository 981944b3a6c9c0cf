"""The typed inputs of the public components, as Pulumi's component analyzer reads them.

These TypedDicts are the package's schema: ``component_provider_host`` infers every input's type
from the annotations and its description from the string after it, so this module must keep
its annotations as written (no ``from __future__ import annotations``), use lists, dicts and
enums (no tuples, no unions but Optional/NotRequired), and one Pulumi module (``index``).
Property names are snake_case here and camelCase in the schema (``dns_provider`` ->
``dnsProvider``), exactly as in a stack's ``hkmail:domains`` entries.

Values that decide which records and resources exist (names, hosts, policies) are plain: they must
be known before any child is registered, so that a bad value is refused with the field's name and
nothing is half created. The private server's secrets are ``pulumi.Input``s: pass Pulumi secrets.
"""

import enum
from typing import NotRequired, TypedDict

import pulumi


class DnsProvider(enum.StrEnum):
    """The DNS service that holds the domain's zone."""

    DNSPOD = "dnspod"
    """Tencent Cloud DNSPod (needs a provider for tencentcloud in ap-hongkong)."""
    ALIDNS = "alidns"
    """Alibaba Cloud Alidns (needs a provider for alicloud in cn-hongkong)."""


class DnsPlan(enum.StrEnum):
    """The DNS plan, which sets the TTL floor (hkmail/facts.py TTL_FLOOR): DNSPod free,
    professional, enterprise, ultimate; Alidns free, personal, standard, ultimate, exclusive."""

    FREE = "free"
    """The free plan of either provider (TTL floor 600)."""
    PROFESSIONAL = "professional"
    """DNSPod Professional."""
    ENTERPRISE = "enterprise"
    """DNSPod Enterprise."""
    ULTIMATE = "ultimate"
    """DNSPod Ultimate, or Alidns Ultimate (Flagship)."""
    PERSONAL = "personal"
    """Alidns Personal (Basic/Individual)."""
    STANDARD = "standard"
    """Alidns Standard (Enterprise Standard)."""
    EXCLUSIVE = "exclusive"
    """Alidns Exclusive."""


class MailSuite(enum.StrEnum):
    """Who receives the domain's mail: a hosted suite's preset MX and SPF, your own MX hosts,
    the private server in Hong Kong, or nobody (null MX)."""

    TENCENT_EXMAIL = "tencent-exmail"
    """Tencent Exmail: MX mxbiz1/mxbiz2.qq.com, SPF include:spf.mail.qq.com."""
    ALIBABA_MAIL = "alibaba-mail"
    """Alibaba Mail: MX mx1/mx2/mx3.qiye.aliyun.com, SPF include:spf.qiye.aliyun.com."""
    ALIBABA_MAIL_HK = "alibaba-mail-hk"
    """Alibaba Mail's Hong Kong (China) site: MX hosts from its console (mx; not published),
    submission at smtp.hk.aliyun.com:465."""
    CUSTOM = "custom"
    """Your own MX hosts (mail.mx)."""
    PRIVATE = "private"
    """The private mail server of privateServer: MX, SRV and MTA-STS host point at it."""
    NONE = "none"
    """No mail: null MX (RFC 7505), SPF -all, DMARC reject."""


class Cloud(enum.StrEnum):
    """A cloud with a Hong Kong region."""

    TENCENTCLOUD = "tencentcloud"
    """Tencent Cloud, region ap-hongkong."""
    ALICLOUD = "alicloud"
    """Alibaba Cloud, region cn-hongkong."""


class DmarcPolicy(enum.StrEnum):
    """What receivers do with mail that fails DMARC (RFC 7489 p=/sp=)."""

    NONE = "none"
    """Monitor only (declare rampUntil)."""
    QUARANTINE = "quarantine"
    """Treat as suspicious."""
    REJECT = "reject"
    """Refuse."""


class Alignment(enum.StrEnum):
    """DMARC identifier alignment (adkim/aspf)."""

    RELAXED = "r"
    """Organisational domains match."""
    STRICT = "s"
    """Exact domains match."""


class SpfAll(enum.StrEnum):
    """The SPF record's final term."""

    FAIL = "-all"
    """Everything else fails."""
    SOFTFAIL = "~all"
    """Everything else soft-fails."""


class DkimKeyType(enum.StrEnum):
    """The DKIM key algorithm (RFC 6376, RFC 8463)."""

    RSA = "rsa"
    """RSA, 2048 bits or more (RFC 8301 allows 1024; the policy pack refuses it)."""
    ED25519 = "ed25519"
    """Ed25519."""


class MtaStsMode(enum.StrEnum):
    """The MTA-STS policy mode (RFC 8461)."""

    ENFORCE = "enforce"
    """Senders must deliver over verified TLS to the listed MX hosts."""
    TESTING = "testing"
    """Senders report failures (TLS-RPT) but still deliver."""
    NONE = "none"
    """Withdraw a policy."""


class SendingService(enum.StrEnum):
    """A cloud sending service."""

    TENCENT_SES = "tencent-ses"
    """Tencent SES in ap-hongkong: mail content stays in Hong Kong."""
    ALIBABA_DIRECTMAIL = "alibaba-directmail"
    """Alibaba DirectMail: no Hong Kong region, needs crossBorder."""


class MxHostArgs(TypedDict):
    """One MX host of a custom suite."""

    host: str
    """The MX host name (e.g. mx1.example.com.hk)."""
    priority: int
    """The MX preference: 1-20 on DNSPod, 1-50 on Alidns."""


class MailArgs(TypedDict):
    """Who receives the domain's mail."""

    suite: MailSuite
    """The mail suite."""
    mx: NotRequired[list[MxHostArgs]]
    """The MX hosts, with suite custom or alibaba-mail-hk only."""


class SpfArgs(TypedDict, total=False):
    """The domain's SPF record (RFC 7208); the suite's and sending services' includes are added."""

    include: list[str]
    """Further include: domains."""
    ip4: list[str]
    """IPv4 addresses or networks (CIDR) allowed to send."""
    ip6: list[str]
    """IPv6 addresses or networks (CIDR) allowed to send."""
    a: bool
    """Allow the domain's A/AAAA addresses."""
    mx: bool
    """Allow the domain's MX hosts."""
    all: SpfAll
    """The final term (default -all)."""


class DkimKeyArgs(TypedDict):
    """A DKIM public key to publish at <selector>._domainkey."""

    selector: str
    """The selector (one DNS label)."""
    public_key: str
    """The base64 public key (the p= tag), or the whole record a console shows."""
    key_type: NotRequired[DkimKeyType]
    """The key type (default rsa)."""


class DmarcArgs(TypedDict):
    """The domain's DMARC record (RFC 7489)."""

    policy: DmarcPolicy
    """p=: the policy for the domain."""
    subdomain_policy: NotRequired[DmarcPolicy]
    """sp=: the policy for subdomains."""
    pct: NotRequired[int]
    """pct=: 0-100 (default 100)."""
    rua: NotRequired[list[str]]
    """Aggregate report addresses (e-mail or mailto: URIs)."""
    ruf: NotRequired[list[str]]
    """Failure report addresses."""
    adkim: NotRequired[Alignment]
    """DKIM alignment (default relaxed)."""
    aspf: NotRequired[Alignment]
    """SPF alignment (default relaxed)."""
    ramp_until: NotRequired[str]
    """With policy none: the date (YYYY-MM-DD) by which the policy must be raised."""


class PolicyHostArgs(TypedDict, total=False):
    """Where mta-sts.<domain> points: exactly one of cname or ipv4."""

    cname: str
    """A host name serving the policy over HTTPS."""
    ipv4: list[str]
    """IPv4 addresses serving the policy over HTTPS."""


class MtaStsArgs(TypedDict):
    """MTA-STS (RFC 8461): the _mta-sts TXT record and the policy host."""

    mode: MtaStsMode
    """The policy mode."""
    max_age: NotRequired[int]
    """The policy's max_age in seconds, 86400-31557600 (default 604800)."""
    policy_host: NotRequired[PolicyHostArgs]
    """Where the policy is served (the private server by default with suite private)."""


class TlsRptArgs(TypedDict):
    """SMTP TLS reporting (RFC 8460): the _smtp._tls TXT record."""

    rua: list[str]
    """Report destinations: e-mail addresses, mailto: or https: URIs."""


class SrvTargetArgs(TypedDict):
    """A client endpoint published as an SRV record (RFC 6186, RFC 8314)."""

    host: str
    """The server's host name."""
    port: NotRequired[int]
    """The port (defaults: submission 587, submissions 465, imaps 993)."""


class AutodiscoveryArgs(TypedDict, total=False):
    """Client autodiscovery SRV records: the suite's preset endpoints ({preset: true}, what a
    stack writes as `autodiscovery: true`; a schema input has one type, and the Python SDK's
    analyzer refuses union types), or your own endpoints."""

    preset: bool
    """Publish the suite's (or the private server's) endpoints."""
    submission: SrvTargetArgs
    """_submission._tcp (STARTTLS, 587)."""
    submissions: SrvTargetArgs
    """_submissions._tcp (implicit TLS, 465)."""
    imaps: SrvTargetArgs
    """_imaps._tcp (993)."""


class CaaArgs(TypedDict, total=False):
    """CAA records (RFC 8659): which certificate authorities may issue for the domain."""

    issue: list[str]
    """CA domains for issue (e.g. letsencrypt.org)."""
    issuewild: list[str]
    """CA domains for issuewild."""
    iodef: str
    """Where CAs report violations: an e-mail address or https: URL."""


class CrossBorderArgs(TypedDict):
    """The declaration that mail sent through a service leaves Hong Kong, and its safeguards."""

    destination_region: str
    """The service's region (DirectMail: cn-hangzhou, ap-southeast-1, ap-southeast-2,
    us-east-1 or eu-central-1)."""
    transfer_safeguard: str
    """The contractual safeguard with the processor (e.g. pcpd-model-clauses-2022)."""
    exemption: str
    """The id of the reviewed exemption in the policy pack's exemptions file."""
    destination_country: NotRequired[str]
    """The country of the region, as a check of the declaration."""
    data_subjects: NotRequired[list[str]]
    """What the data subjects were told or agreed to: transferee-notice, new-purpose-consent,
    direct-marketing-consent."""
    reference: NotRequired[str]
    """The contract or ticket reference."""


class SenderArgs(TypedDict):
    """A sending identity on a cloud sending service."""

    service: SendingService
    """The sending service."""
    domain: NotRequired[str]
    """The sending domain: the mail domain (default) or a subdomain of it."""
    cross_border: NotRequired[CrossBorderArgs]
    """Required for alibaba-directmail, refused for tencent-ses."""


class DmarcReportSourceArgs(TypedDict):
    """Another domain whose DMARC reports are sent to an address in this zone."""

    domain: str
    """The domain whose reports arrive here."""
    destination: NotRequired[str]
    """The host part of the report address, if not this zone's apex."""


class SendingLimitsArgs(TypedDict, total=False):
    """Per SASL login and sliding hour; over a limit the server answers 450 and logs
    ``hkmail-ratelimit: LIMIT``."""

    recipients_per_hour: int
    """Recipients outside the domain (default 500)."""
    messages_per_hour: int
    """Messages submitted (default 200)."""


class NotifyTargetArgs(TypedDict):
    """A chat group robot notify rules send to; its webhook URL and signing secret are in
    notifyWebhooks (a secret)."""

    name: str
    """The target's name, used by rules and as the key in notifyWebhooks."""
    platform: str
    """dingtalk (custom robot) | wecom (group robot) | lark (Lark/Feishu custom bot)."""


class NotifyCrossBorderArgs(TypedDict):
    """The rule's cross-border declaration: every chat platform is outside Hong Kong."""

    destination_country: str
    """The country the platform's contract names (no public source gives it)."""
    transfer_safeguard: str
    """pcpd-model-clauses-2022 | processor-contract."""
    exemption: str
    """The id of the reviewed exemption in policies/exemptions.yaml."""
    reference: NotRequired[str]
    """The contract or ticket reference."""
    allow_content: NotRequired[bool]
    """The body and attachment names may leave (refused otherwise)."""


class NotifyTodoArgs(TypedDict):
    """A DingTalk to-do per matching message, through an enterprise app's to-do API (the rule's
    target must be a DingTalk robot: its declaration covers the to-do)."""

    assignee: str
    """The mailbox whose person gets the to-do (listed in notify.dingtalkUsers)."""
    fields: NotRequired[list[str]]
    """What the to-do carries: some of the rule's fields, never body or attachments."""


class NotifyRuleArgs(TypedDict):
    """Delivered mail that matches becomes a message to the target, with only the listed fields.
    Only mail that passes DMARC (or DKIM, with auth: dkim) as judged by this server matches."""

    name: str
    """The rule's name (shown in the message and the logs)."""
    target: str
    """The target's name."""
    cross_border: NotifyCrossBorderArgs
    """The declaration of this transfer out of Hong Kong."""
    recipients: NotRequired[list[str]]
    """Mailbox local parts it watches; none: every mailbox."""
    senders: NotRequired[list[str]]
    """Sender addresses or domains (the From header); none: any."""
    subject: NotRequired[str]
    """A regular expression searched in the Subject, case-insensitively."""
    has_attachment: NotRequired[bool]
    """Match only mail with (true) or without (false) attachments."""
    auth: NotRequired[str]
    """dmarc (default) | dkim: the authentication result the mail must pass."""
    fields: NotRequired[list[str]]
    """What leaves besides the rule name and mailbox: subject, senderName, senderAddress, excerpt,
    link, body, attachments (body and attachments only with crossBorder.allowContent)."""
    todo: NotRequired[NotifyTodoArgs]
    """Also create a DingTalk to-do (app credentials: notifyWebhooks.dingtalkTodo)."""


class NotifyArgs(TypedDict):
    """Mail-to-chat rules of the private server (README "Mail to chat")."""

    targets: list[NotifyTargetArgs]
    """The chat robots."""
    rules: list[NotifyRuleArgs]
    """The rules, each with its declaration."""
    dingtalk_users: NotRequired[dict[str, str]]
    """Mailbox -> the person's DingTalk unionId: who a rule's to-do may be assigned to."""


class PrivateServerArgs(TypedDict):
    """The self-hosted mail server in Hong Kong that receives this domain's mail (suite private)."""

    cloud: Cloud
    """The cloud it runs on."""
    hostname: str
    """Its host name inside the domain (MX target, HELO name, PTR target)."""
    zone: str
    """The Hong Kong availability zone (ap-hongkong-2/3; cn-hongkong-b/c/d)."""
    account_id: str
    """The account id (Tencent root UIN / Alibaba Cloud account id), for the access policies."""
    image_id: str
    """A Debian 12 image id in the Hong Kong region."""
    admin_cidr: str
    """The IPv4 network (/16 or narrower) SSH may come from."""
    users: list[str]
    """The mailbox local parts."""
    dkim_selector: str
    """The selector of the DKIM key the server signs with (its public half is in dkim)."""
    archive_bucket: str
    """The archive bucket's name (COS: without the -APPID suffix)."""
    relay_username: str
    """The Tencent SES SMTP user outbound mail relays through."""
    app_id: NotRequired[str]
    """The Tencent APPID (COS bucket suffix); tencentcloud only."""
    retention_days: NotRequired[int]
    """Archive retention lock (WORM) in days; alicloud only."""
    retention_locked: NotRequired[bool]
    """Lock the WORM policy (irreversible); alicloud only."""
    ssh_public_key: NotRequired[str]
    """The administrators' OpenSSH public key (the instance's key pair); without one, no SSH."""
    sending_limits: NotRequired[SendingLimitsArgs]
    """Per-login hourly sending limits on submission; default 500 recipients, 200 messages."""
    notify: NotRequired[NotifyArgs]
    """Mail-to-chat rules (DingTalk, WeCom, Lark); their webhooks are notifyWebhooks."""


class MigrationPhase(enum.StrEnum):
    """The live phase of a migration (README, "Migrating from your current mail system")."""

    PREPARE = "prepare"
    """MX still on the old system, TTL lowered, SPF authorises both."""
    SYNC = "sync"
    """As prepare, while mailboxes are copied."""
    CUTOVER = "cutover"
    """MX on the new system (refused before the earliest safe time)."""
    DUAL_RUN = "dual-run"
    """New MX, the old hosts kept at lower priority."""
    DONE = "done"
    """TTL restored, old senders dropped, DMARC and MTA-STS as configured."""
    ROLLBACK = "rollback"
    """MX back on the old system, SPF still authorises both."""


class OldMailSystemArgs(TypedDict, total=False):
    """Where the mail comes from: a suite preset, or its MX hosts."""

    suite: str
    """The old hosted suite: tencent-exmail or alibaba-mail (sets MX, SPF include and IMAP)."""
    mx: list[MxHostArgs]
    """The old MX hosts (instead of suite)."""
    mx_ttl: int
    """The TTL the old MX records have now, in seconds (required)."""
    spf: SpfArgs
    """The old system's other sending sources."""
    imap: str
    """host[:port] of the old IMAP server."""


class VerifiedArgs(TypedDict):
    """A verify pass of the lowered records (written by scripts/verify --record)."""

    at: str
    """When it passed (ISO 8601 with zone)."""
    digest: str
    """The digest of the records it checked."""


class MigrationArgs(TypedDict):
    """A phased move of this domain's mail from its current system (the hkmail:migration
    section of a stack; README, "Migrating from your current mail system")."""

    phase: MigrationPhase
    """The live phase."""
    old: OldMailSystemArgs
    """The current mail system."""
    low_ttl: int
    """The zone's TTL while migrating, at least the DNS plan's floor."""
    monitor_until: str
    """The date (YYYY-MM-DD) DMARC p=none monitoring ends."""
    domain: NotRequired[str]
    """The mail domain (default: this component's name)."""
    ttl_lowered_at: NotRequired[str]
    """When the lowered TTL was applied (ISO 8601 with zone)."""
    verified: NotRequired[VerifiedArgs]
    """The recorded verify pass."""
    cutover_at: NotRequired[str]
    """When the cut-over was applied (ISO 8601 with zone)."""


class MailDomainArgs(TypedDict):
    """One Hong Kong mail domain: its zone's records, sending identities and private server."""

    name: str
    """The mail domain (the DNS zone), e.g. example.com.hk."""
    dns_provider: DnsProvider
    """The DNS service holding the zone."""
    mail: MailArgs
    """Who receives the domain's mail."""
    dns_plan: NotRequired[DnsPlan]
    """The DNS plan, which sets the TTL floor: dnspod free|professional|enterprise|ultimate,
    alidns free|personal|standard|ultimate|exclusive (default free)."""
    ttl: NotRequired[int]
    """The records' TTL in seconds, from the plan's floor to 86400 (default 600)."""
    spf: NotRequired[SpfArgs]
    """The SPF record."""
    dkim: NotRequired[list[DkimKeyArgs]]
    """DKIM public keys to publish."""
    dmarc: NotRequired[DmarcArgs]
    """The DMARC record (default: p=reject for a domain that sends mail)."""
    mta_sts: NotRequired[MtaStsArgs]
    """MTA-STS."""
    tls_rpt: NotRequired[TlsRptArgs]
    """SMTP TLS reporting."""
    autodiscovery: NotRequired[AutodiscoveryArgs]
    """Client autodiscovery SRV records."""
    caa: NotRequired[CaaArgs]
    """CAA records."""
    sending: NotRequired[list[SenderArgs]]
    """Sending identities on cloud sending services."""
    hosts: NotRequired[dict[str, list[str]]]
    """Addresses (IPv4/IPv6) of the zone's own hosts, by name relative to the domain (e.g.
    mx1: [203.0.113.25]): the A/AAAA records in-zone MX, SRV and MTA-STS targets need."""
    dmarc_report_sources: NotRequired[list[DmarcReportSourceArgs]]
    """Other domains whose DMARC reports this zone receives: it publishes their
    <domain>._report._dmarc authorisation records (RFC 7489 7.1)."""
    private_server: NotRequired[PrivateServerArgs]
    """The private mail server, with mail.suite private."""
    migration: NotRequired[MigrationArgs]
    """A phased move of this domain's mail from its current system: the hkmail:migration
    section of a stack, read by the stack's reader."""
    dkim_private_key: NotRequired[pulumi.Input[str]]
    """With privateServer: the PEM of the server's DKIM signing key (a secret)."""
    mailbox_password_hashes: NotRequired[pulumi.Input[dict[str, str]]]
    """With privateServer: mailbox user -> `doveadm pw` hash (a secret)."""
    relay_password: NotRequired[pulumi.Input[str]]
    """With privateServer: the SES SMTP relay password (a secret)."""
    backup_password: NotRequired[pulumi.Input[str]]
    """With privateServer: the restic repository password of the nightly backup (a secret)."""
    notify_webhooks: NotRequired[pulumi.Input[str]]
    """With privateServer.notify: JSON {target: {url, secret}} of the robots, and
    "dingtalkTodo": {appKey, appSecret} where rules create to-dos (a secret)."""


class MailServerArgs(TypedDict):
    """A private mail server in Hong Kong on its own (its domain's DNS managed elsewhere)."""

    domain: str
    """The mail domain it serves."""
    hostname: str
    """Its host name inside the domain (MX target, HELO name, PTR target)."""
    zone: str
    """The Hong Kong availability zone (ap-hongkong-2/3; cn-hongkong-b/c/d)."""
    account_id: str
    """The account id (Tencent root UIN / Alibaba Cloud account id), for the access policies."""
    image_id: str
    """A Debian 12 image id in the Hong Kong region."""
    admin_cidr: str
    """The IPv4 network (/16 or narrower) SSH may come from."""
    users: list[str]
    """The mailbox local parts."""
    dkim_selector: str
    """The selector of the DKIM key the server signs with."""
    archive_bucket: str
    """The archive bucket's name (COS: without the -APPID suffix)."""
    relay_username: str
    """The Tencent SES SMTP user outbound mail relays through."""
    dkim_private_key: pulumi.Input[str]
    """The PEM of the DKIM signing key (a secret)."""
    mailbox_password_hashes: pulumi.Input[dict[str, str]]
    """Mailbox user -> `doveadm pw` hash (a secret)."""
    relay_password: pulumi.Input[str]
    """The SES SMTP relay password (a secret)."""
    backup_password: pulumi.Input[str]
    """The restic repository password of the nightly backup (a secret, 20+ characters)."""
    notify_webhooks: NotRequired[pulumi.Input[str]]
    """With notify: JSON {target: {url, secret}} of the robots, and "dingtalkTodo": {appKey,
    appSecret} where rules create to-dos (a secret)."""
    notify: NotRequired[NotifyArgs]
    """Mail-to-chat rules (DingTalk, WeCom, Lark); their webhooks are notifyWebhooks."""
    mta_sts_policy: str
    """The MTA-STS policy text served at /.well-known/mta-sts.txt (RFC 8461 3.2)."""
    dkim_public_key: NotRequired[str]
    """The published DKIM public key (p= tag): checked against the private key when known."""
    report_mailboxes: NotRequired[list[str]]
    """Local parts of the published DMARC/TLS-RPT report addresses; delivered to the postmaster."""
    app_id: NotRequired[str]
    """The Tencent APPID (COS bucket suffix); tencentcloud only."""
    retention_days: NotRequired[int]
    """Archive retention lock (WORM) in days; alicloud only."""
    retention_locked: NotRequired[bool]
    """Lock the WORM policy (irreversible); alicloud only."""
    instance_type: NotRequired[str]
    """The instance type (default S5.MEDIUM4 / ecs.g7.large)."""
    vpc_cidr: NotRequired[str]
    """The VPC network (default 10.80.0.0/16)."""
    subnet_cidr: NotRequired[str]
    """The subnet inside it (default 10.80.1.0/24)."""
    system_disk_gb: NotRequired[int]
    """System disk size, 20-1024 GB (default 40)."""
    data_disk_gb: NotRequired[int]
    """Encrypted mailbox disk size, 20-32000 GB (default 100)."""
    snapshot_retention_days: NotRequired[int]
    """Days daily snapshots are kept (default 30)."""
    log_retention_days: NotRequired[int]
    """Days the audit log is kept (default 180)."""
    name_prefix: NotRequired[str]
    """The prefix of the cloud-side names (default hkmail-<domain with dashes>, 20 characters)."""
    ssh_public_key: NotRequired[str]
    """The administrators' OpenSSH public key (the instance's key pair); without one, no SSH."""
    sending_limits: NotRequired[SendingLimitsArgs]
    """Per-login hourly sending limits on submission; default 500 recipients, 200 messages."""
