"""The typed stack spec: stack configuration in, validated frozen dataclasses out.

This is the only place that reads user input. Everything downstream (records, components) takes a
:class:`StackSpec` and may assume it is valid. Every problem is reported with the config key path,
the value and what is allowed, and all problems of one stack are reported together.

Config keys (Pulumi config of the stack, see stacks/ for examples):
    tencentcloud:region / alicloud:region   the region of each cloud the stack uses (Hong Kong only)
    hkmail:dnsProvider                       dnspod | alidns
    hkmail:dnsPlan                           the DNS plan, which sets the provider's TTL floor
    hkmail:domains                           list of mail domains (see DomainSpec)
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import dataclasses
import datetime as dt
import functools
import ipaddress
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final, Literal, TypeVar, cast

from hkmail.errors import SpecError, raise_all
from hkmail.facts import (
    CLOUDS,
    DEPLOY_ZONES,
    DIRECTMAIL_DESTINATIONS,
    DIRECTMAIL_REGIONS,
    DNS_CLOUD,
    DNS_PROVIDERS,
    HK_REGION,
    MX_PRIORITY_RANGE,
    TTL_ADVISORY_FLOOR,
    TTL_DEFAULT,
    TTL_FLOOR,
    TTL_MAX,
    Cloud,
    Destination,
    DnsProvider,
)
from hkmail.presets import SUITES, AutodiscoverySpec, MxHost, SrvTarget, SuitePreset

if TYPE_CHECKING:
    from hkmail.checks import Exemption

DmarcPolicy = Literal["none", "quarantine", "reject"]
Alignment = Literal["r", "s"]
MtaStsMode = Literal["enforce", "testing", "none"]
SpfAll = Literal["-all", "~all"]
KeyType = Literal["rsa", "ed25519"]
DMARC_POLICIES: Final[tuple[DmarcPolicy, ...]] = ("none", "quarantine", "reject")
ALIGNMENTS: Final[tuple[Alignment, ...]] = ("r", "s")
MTA_STS_MODES: Final[tuple[MtaStsMode, ...]] = ("enforce", "testing", "none")
SPF_ALLS: Final[tuple[SpfAll, ...]] = ("-all", "~all")
KEY_TYPES: Final[tuple[KeyType, ...]] = ("rsa", "ed25519")

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
# SPF include targets are domain names, not host names: "_spf.example.com" is common.
_DOMAIN_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")
_GO_MIDNIGHT_UTC = re.compile(r"(\d{4}-\d{2}-\d{2}) 00:00:00 \+0000 UTC")
_MAILTO = re.compile(r"^(mailto:)?([A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+)@([A-Za-z0-9.-]+)$")


# --------------------------------------------------------------------------------------------
# The spec
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SpfSpec:
    include: tuple[str, ...] = ()
    ip4: tuple[str, ...] = ()
    ip6: tuple[str, ...] = ()
    a: bool = False
    mx: bool = False
    all: Literal["-all", "~all"] = "-all"


@dataclass(frozen=True)
class DkimKey:
    selector: str
    key_type: Literal["rsa", "ed25519"]
    public_key: str  # base64 of the p= tag: SubjectPublicKeyInfo DER (rsa) or 32 raw bytes
    bits: int  # RSA modulus size, or 256 for ed25519


@dataclass(frozen=True)
class DmarcSpec:
    policy: Literal["none", "quarantine", "reject"]
    subdomain_policy: Literal["none", "quarantine", "reject"] | None = None
    pct: int = 100
    rua: tuple[str, ...] = ()  # mailto: URIs
    ruf: tuple[str, ...] = ()
    adkim: Literal["r", "s"] = "r"
    aspf: Literal["r", "s"] = "r"
    # p=none is a monitoring phase, declared with the date by which it must be raised.
    ramp_until: dt.date | None = None


@dataclass(frozen=True)
class PolicyHost:
    """Where mta-sts.<domain> points: a CNAME target or IPv4 addresses."""

    cname: str | None = None
    ipv4: tuple[str, ...] = ()


@dataclass(frozen=True)
class MtaStsSpec:
    mode: Literal["enforce", "testing", "none"]
    max_age: int = 604800
    policy_host: PolicyHost | None = None


@dataclass(frozen=True)
class TlsRptSpec:
    rua: tuple[str, ...]  # mailto: or https: URIs


@dataclass(frozen=True)
class CaaSpec:
    issue: tuple[str, ...] = ()
    issuewild: tuple[str, ...] = ()
    iodef: str | None = None


@dataclass(frozen=True)
class TencentSesSender:
    """Tencent SES sending identity in ap-hongkong: mail content stays in Hong Kong."""

    domain: str
    service: Literal["tencent-ses"] = "tencent-ses"


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


@dataclass(frozen=True)
class DirectMailSender:
    """Alibaba DirectMail: no Hong Kong region, so only with a cross-border declaration."""

    domain: str
    cross_border: CrossBorderDeclaration
    service: Literal["alibaba-directmail"] = "alibaba-directmail"


Sender = TencentSesSender | DirectMailSender


@dataclass(frozen=True)
class PrivateServerSpec:
    """A self-hosted mail server on Hong Kong nodes (hkmail:privateServer). Its secrets are the
    stack's secret config hkmail:dkimPrivateKey, hkmail:mailboxPasswordHashes (a JSON object of
    `doveadm pw` hashes per user) and hkmail:relayPassword; the spec only checks they are set."""

    cloud: Cloud
    domain: str
    hostname: str
    zone: str
    account_id: str
    image_id: str
    admin_cidr: str
    users: tuple[str, ...]
    dkim_selector: str
    archive_bucket: str
    relay_username: str
    app_id: str = ""
    retention_days: int | None = None
    retention_locked: bool = False
    # The administrators' OpenSSH public key (the instance's key pair); none: no SSH login at all.
    ssh_public_key: str | None = None


@dataclass(frozen=True)
class HostAddresses:
    """``hosts: {mx1: [203.0.113.25]}`` under a domain: A/AAAA records of an in-zone host."""

    name: str  # fully qualified, inside the domain
    addresses: tuple[str, ...]


@dataclass(frozen=True)
class DomainSpec:
    name: str
    ttl: int
    suite: SuitePreset
    mx: tuple[MxHost, ...]
    spf: SpfSpec
    dkim: tuple[DkimKey, ...] = ()
    dmarc: DmarcSpec | None = None
    mta_sts: MtaStsSpec | None = None
    tls_rpt: TlsRptSpec | None = None
    autodiscovery: AutodiscoverySpec | None = None
    caa: CaaSpec | None = None
    senders: tuple[Sender, ...] = ()
    server: PrivateServerSpec | None = None
    #: addresses this zone publishes for its own host names (A/AAAA records)
    hosts: tuple[HostAddresses, ...] = ()

    @property
    def display_name(self) -> str:
        return display_name(self.name)

    @property
    def sends_mail(self) -> bool:
        return self.suite.name != "none" or bool(self.senders)

    @property
    def receives_mail(self) -> bool:
        return bool(self.mx)


@dataclass(frozen=True)
class StackSpec:
    dns_provider: DnsProvider
    dns_plan: str
    regions: Mapping[Cloud, str]
    domains: tuple[DomainSpec, ...]
    clouds: frozenset[Cloud] = field(default_factory=frozenset)
    private_server: PrivateServerSpec | None = None
    migration: MigrationSpec | None = None  # hkmail:migration, see the section at the end


# --------------------------------------------------------------------------------------------
# Reading config
# --------------------------------------------------------------------------------------------

KNOWN_KEYS: Final = (
    "dnsProvider",
    "dnsPlan",
    "domains",
    "privateServer",
    "migration",
    *("dkimPrivateKey", "mailboxPasswordHashes", "relayPassword"),  # secrets of privateServer
)
PRIVATE_SECRETS: Final = ("dkimPrivateKey", "mailboxPasswordHashes", "relayPassword")
T = TypeVar("T")


class _Reader:
    """Collects every error with its config path instead of stopping at the first."""

    def __init__(self) -> None:
        self.errors: list[SpecError] = []

    def fail(self, path: str, value: object, allowed: str, reason: str = "") -> None:
        self.errors.append(SpecError(path, value, allowed, reason))

    def mapping(
        self, path: str, value: object, allowed_keys: Sequence[str]
    ) -> Mapping[str, object] | None:
        if not isinstance(value, Mapping):
            self.fail(path, value, f"a mapping with keys {', '.join(allowed_keys)}")
            return None
        for key in value:
            if key not in allowed_keys:
                self.fail(
                    f"{path}.{key}", value[key], f"keys {', '.join(allowed_keys)}", "unknown key"
                )
        return cast(Mapping[str, object], value)

    def choice(
        self, path: str, value: object, choices: Sequence[T], default: T | None = None
    ) -> T | None:
        if value is None and default is not None:
            return default
        if value not in choices:
            self.fail(path, value, " | ".join(str(c) for c in choices))
            return None
        return cast(T, value)

    def integer(
        self, path: str, value: object, low: int, high: int, default: int | None = None
    ) -> int | None:
        if value is None and default is not None:
            return default
        # bool is an int in Python; a YAML `yes` must not become TTL 1.
        if isinstance(value, str) and value.isdigit():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            self.fail(path, value, f"an integer from {low} to {high}")
            return None
        return value

    def boolean(self, path: str, value: object, default: bool) -> bool:
        if value is None:
            return default
        if not isinstance(value, bool):
            self.fail(path, value, "true | false")
            return default
        return value

    def items(self, path: str, value: object) -> list[tuple[str, object]]:
        """A list (or missing) -> [(path[i], item)]."""
        if value is None:
            return []
        if isinstance(value, str) or not isinstance(value, Sequence):
            self.fail(path, value, "a list")
            return []
        return [(f"{path}[{i}]", item) for i, item in enumerate(value)]

    def each(
        self, path: str, value: object, read: Callable[[str, object], T | None]
    ) -> tuple[T, ...]:
        out = []
        for item_path, item in self.items(path, value):
            parsed = read(item_path, item)
            if parsed is not None:
                out.append(parsed)
        return tuple(out)

    def hostname(
        self, path: str, value: object, *, min_labels: int = 1, underscore: bool = False
    ) -> str | None:
        name = normalize_hostname(value, min_labels=min_labels, underscore=underscore)
        if name is None:
            self.fail(
                path,
                value,
                f"a DNS host name of at least {min_labels} label(s), "
                "letters, digits and hyphens (e.g. mail.example.com.hk)",
            )
        return name

    def mailto(self, path: str, value: object) -> str | None:
        match = _MAILTO.match(value) if isinstance(value, str) else None
        if match is None or normalize_hostname(match.group(3).lower(), min_labels=2) is None:
            self.fail(path, value, "an e-mail address or mailto: URI (e.g. dmarc@example.com.hk)")
            return None
        return f"mailto:{match.group(2)}@{match.group(3).lower()}"

    def date(self, path: str, value: object) -> dt.date | None:
        if value is None:
            return None
        if isinstance(value, dt.date):
            return value
        text = str(value)
        # An unquoted date in a stack file is a YAML timestamp; the Pulumi CLI hands the program
        # its Go time.Time String() form: "2027-03-31 00:00:00 +0000 UTC".
        go_time = _GO_MIDNIGHT_UTC.fullmatch(text)
        if go_time is not None:
            text = go_time.group(1)
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            self.fail(path, value, "a date as YYYY-MM-DD")
            return None


def normalize_hostname(
    value: object, *, min_labels: int = 1, underscore: bool = False
) -> str | None:
    """Lower-case LDH host name without the trailing dot, or None if it is not one."""
    if not isinstance(value, str):
        return None
    name = value.strip().lower().rstrip(".")
    if not name.isascii() or "xn--" in name:
        # Internationalised names (IDNA 2008 with UTS 46 mapping): the A-label form is what DNS
        # holds; invalid punycode such as xn--a is refused.
        name = idna_to_ascii(name) or ""
    labels = name.split(".")
    if len(name) > 253 or len(labels) < min_labels:
        return None
    label_re = _DOMAIN_LABEL if underscore else _LABEL
    if not all(label_re.match(label) for label in labels):
        return None
    if labels[-1].isdigit():  # an IP address is not a host name
        return None
    return name


def idna_to_ascii(name: str) -> str | None:
    """``name`` in its A-label form (IDNA 2008, UTS 46 mapping), or None if it is not valid."""
    import idna

    try:
        return idna.encode(name, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError, ValueError):
        return None


def display_name(name: str) -> str:
    """A domain as a person reads it: ``例子.香港 (xn--fsqu00a.xn--j6w193g)`` for an IDN."""
    if "xn--" not in name:
        return name
    import idna

    try:
        return f"{idna.decode(name)} ({name})"
    except (idna.IDNAError, UnicodeError, ValueError):
        return name


#: Namespaces whose keys are never hk-mail settings (providers and the engine's own).
_FOREIGN_NAMESPACES: Final = frozenset({"pulumi", "tencentcloud", "alicloud"})


def _misplaced_keys(r: _Reader, config: Mapping[str, object]) -> frozenset[str]:
    """hk-mail settings under another namespace: ``dnsProvider:`` written without one (the CLI
    puts it under the project's name, as ``pulumi config set dnsProvider`` does) or ``hk-mail:``.
    Returns the full hkmail: keys they were meant to be."""
    meant: set[str] = set()
    for key in config:
        namespace, _, name = key.partition(":")
        if namespace in _FOREIGN_NAMESPACES or namespace == "hkmail" or name not in KNOWN_KEYS:
            continue
        if f"hkmail:{name}" in config:
            continue
        meant.add(f"hkmail:{name}")
        command = "pulumi config set" + (" --secret" if name in PRIVATE_SECRETS else "")
        r.fail(
            key,
            config[key],
            f"the key hkmail:{name} (`{command} hkmail:{name} ...`, or `hkmail:{name}:` under "
            "`config:` in the stack file)",
            f"hk-mail reads its settings under the hkmail: namespace; a key written without a "
            f"namespace goes under the project's ({namespace}:)",
        )
    return frozenset(meant)


_CLOUD_NAMES: Final[Mapping[Cloud, str]] = {
    "tencentcloud": "Tencent Cloud",
    "alicloud": "Alibaba Cloud",
}


def region_problem(cloud: Cloud, region: object) -> str:
    """Why ``region`` is not the Hong Kong region of ``cloud``, in words a person can act on."""
    want = HK_REGION[cloud]
    if region is None or region == "":
        return "not set: the provider would fall back to an environment variable or its default" + (
            " ap-guangzhou (mainland China)" if cloud == "tencentcloud" else ""
        )
    if not isinstance(region, str):
        return "not a region id"
    if region.strip() != region:
        inner = region.strip()
        return (
            f"{inner!r} with leading or trailing whitespace (region ids are matched exactly; "
            "quote the value or remove the spaces)"
        )
    if region.lower() != region:
        return f"region ids are lower-case: {region.lower()!r}" + (
            "" if region.lower() == want else " would still be outside Hong Kong"
        )
    for other, other_region in HK_REGION.items():
        if other != cloud and region == other_region:
            return (
                f"`{region}` is {_CLOUD_NAMES[other]}'s id; {_CLOUD_NAMES[cloud]}'s Hong Kong "
                f"region is `{want}`"
            )
    return f"outside Hong Kong ({_CLOUD_NAMES[cloud]}'s Hong Kong region is `{want}`)"


def read_stack(
    config: Mapping[str, object],
    now: dt.datetime | None = None,
    *,
    secret_keys: Collection[str] | None = None,
    exemptions: Mapping[str, Exemption] | None = None,
) -> StackSpec:
    """Validate full-key stack config (``{"hkmail:domains": [...], "tencentcloud:region": ...}``).

    Raises :class:`hkmail.errors.SpecErrors` listing every problem. ``now`` (default: the
    clock) is when a migration phase would be applied. ``secret_keys`` (the keys the CLI marks
    secret) lets plain-text secrets be refused; ``exemptions`` (policies/exemptions.yaml, see
    :func:`hkmail.checks.load_exemptions`) lets cross-border exemption ids be checked.
    """
    r = _Reader()
    misplaced = _misplaced_keys(r, config)
    if not misplaced and not any(key.startswith("hkmail:") for key in config):
        raise_all(
            [
                SpecError(
                    "config",
                    None,
                    "a top-level `config:` mapping in the stack file holding hkmail:dnsProvider, "
                    "hkmail:domains and the cloud's region (see stacks/ for examples)",
                    "the stack has no hkmail:* configuration at all: its stack file has no "
                    "`config:` section, or the keys are not indented under it",
                )
            ]
        )
    for key in config:
        namespace, _, name = key.partition(":")
        if namespace == "hkmail" and name not in KNOWN_KEYS:
            r.fail(key, config[key], ", ".join(f"hkmail:{k}" for k in KNOWN_KEYS), "unknown key")

    dns_provider = r.choice("hkmail:dnsProvider", config.get("hkmail:dnsProvider"), DNS_PROVIDERS)
    dns_plan = "free"
    if dns_provider is not None:
        plans = tuple(TTL_FLOOR[dns_provider])
        dns_plan = r.choice("hkmail:dnsPlan", config.get("hkmail:dnsPlan"), plans, "free") or "free"

    server = (
        _read_private_server(r, config.get("hkmail:privateServer"))
        if config.get("hkmail:privateServer") is not None
        else None
    )
    if server is not None:
        # Reported, but the server is still read: its domain's records depend on it.
        for secret in PRIVATE_SECRETS:
            if config.get(f"hkmail:{secret}") is None:
                r.fail(
                    f"hkmail:{secret}",
                    None,
                    f"a secret: pulumi config set --secret hkmail:{secret}",
                    "hkmail:privateServer needs it",
                )
    domains_raw = config.get("hkmail:domains")
    if not domains_raw:
        r.fail("hkmail:domains", domains_raw, "a non-empty list of mail domains")
    server_invalid = server is None and config.get("hkmail:privateServer") is not None
    domains = r.each(
        "hkmail:domains",
        domains_raw,
        lambda p, v: _read_domain(r, p, v, dns_provider, dns_plan, server, server_invalid),
    )
    seen: set[str] = set()
    for i, d in enumerate(domains):
        if d.name in seen:
            r.fail(f"hkmail:domains[{i}].name", d.name, "each domain once", "duplicate domain")
        seen.add(d.name)

    if server is not None and not any(d.server for d in domains):
        r.fail(
            "hkmail:privateServer.domain",
            server.domain,
            "a domain of hkmail:domains with mail.suite: private",
        )
    migration = (
        read_migration(r, config["hkmail:migration"], domains, dns_provider, dns_plan, now)
        if config.get("hkmail:migration") is not None
        else None
    )
    clouds: set[Cloud] = set()
    if server is not None:
        clouds.add(server.cloud)
    if dns_provider is not None:
        clouds.add(DNS_CLOUD[dns_provider])
    if any(isinstance(s, TencentSesSender) for d in domains for s in d.senders):
        clouds.add("tencentcloud")
    regions: dict[Cloud, str] = {}
    for cloud in sorted(clouds):
        key = f"{cloud}:region"
        region = config.get(key)
        if region != HK_REGION[cloud]:
            r.fail(key, region, HK_REGION[cloud], region_problem(cloud, region))
        else:
            regions[cloud] = region
    from hkmail.checks import stack_checks

    hk_now = (now or dt.datetime.now(dt.UTC)).astimezone(dt.timezone(dt.timedelta(hours=8)))
    r.errors += stack_checks(
        config,
        domains,
        server,
        secret_keys=secret_keys,
        exemptions=exemptions,
        today=hk_now.date(),
    )
    # one error per cause: a key under the wrong namespace is not also "missing"
    raise_all(
        e
        for e in r.errors
        if not (e.value is None and e.field.partition(".")[0] in misplaced)
        and not (misplaced and e.field == "hkmail:dnsPlan" and "hkmail:dnsProvider" in misplaced)
    )
    assert dns_provider is not None  # raise_all reported it otherwise
    return StackSpec(
        private_server=server,
        dns_provider=dns_provider,
        dns_plan=dns_plan,
        regions=regions,
        domains=domains,
        clouds=frozenset(clouds),
        migration=migration,
    )


_DOMAIN_KEYS = (
    "name",
    "ttl",
    "mail",
    "spf",
    "dkim",
    "dmarc",
    "mtaSts",
    "tlsRpt",
    "autodiscovery",
    "caa",
    "sending",
    "hosts",
)


def _read_domain(
    r: _Reader,
    path: str,
    raw: object,
    dns_provider: DnsProvider | None,
    dns_plan: str,
    server: PrivateServerSpec | None = None,
    server_invalid: bool = False,
) -> DomainSpec | None:
    m = r.mapping(path, raw, _DOMAIN_KEYS)
    if m is None:
        return None
    errors_before = len(r.errors)
    name = r.hostname(f"{path}.name", m.get("name"), min_labels=2) or "invalid.example"
    floor = TTL_FLOOR[dns_provider][dns_plan] if dns_provider else 1
    advisory = TTL_ADVISORY_FLOOR[dns_provider][dns_plan] if dns_provider else 1
    ttl = (
        r.integer(f"{path}.ttl", m.get("ttl"), floor, TTL_MAX, default=max(TTL_DEFAULT, advisory))
        or floor
    )

    suite, mx = _read_mail(r, f"{path}.mail", m.get("mail"), dns_provider)
    spf = _read_spf(r, f"{path}.spf", m.get("spf"))
    dkim = r.each(f"{path}.dkim", m.get("dkim"), lambda p, v: _read_dkim(r, p, v))
    own_server = None
    # A bad hkmail:privateServer is reported once, where it is; the domain that relies on it
    # gets no further errors about what the server would have provided (MX, MTA-STS host).
    waiting_for_server = suite.name == "private" and server_invalid
    if suite.name == "private" and not waiting_for_server:
        # The private server is this domain's MX, client endpoint and MTA-STS host.
        if server is None or server.domain != name:
            r.fail(
                f"{path}.mail.suite",
                "private",
                f"another suite, or hkmail:privateServer with domain: {name}",
                "suite private needs the server that receives the mail",
            )
        else:
            own_server = server
            mx = (MxHost(server.hostname, 10),)
            spf = dataclasses.replace(spf, mx=True)
            if server.dkim_selector not in [k.selector for k in dkim]:
                r.fail(
                    f"{path}.dkim",
                    [k.selector for k in dkim],
                    f"a key with selector {server.dkim_selector}",
                    "the public half of hkmail:dkimPrivateKey must be published",
                )
    selectors = [k.selector for k in dkim]
    for i, sel in enumerate(selectors):
        if selectors.index(sel) != i:
            r.fail(f"{path}.dkim[{i}].selector", sel, "each selector once", "duplicate selector")
    dmarc = _read_dmarc(r, f"{path}.dmarc", m.get("dmarc")) if m.get("dmarc") is not None else None
    mta_sts = (
        _read_mta_sts(r, f"{path}.mtaSts", m.get("mtaSts")) if m.get("mtaSts") is not None else None
    )
    tls_rpt = _read_tls_rpt(r, f"{path}.tlsRpt", m.get("tlsRpt"))
    autodiscovery = _read_autodiscovery(r, f"{path}.autodiscovery", m.get("autodiscovery"), suite)
    caa = _read_caa(r, f"{path}.caa", m.get("caa"))
    senders: tuple[Sender, ...] = r.each(
        f"{path}.sending", m.get("sending"), functools.partial(_read_sender, r, domain=name)
    )

    if own_server is not None:
        host = own_server.hostname
        if m.get("autodiscovery") is True:
            autodiscovery = AutodiscoverySpec(
                SrvTarget(host, 587), SrvTarget(host, 465), SrvTarget(host, 993)
            )
        if mta_sts is not None and mta_sts.policy_host is None:
            mta_sts = dataclasses.replace(mta_sts, policy_host=PolicyHost(cname=host))
    if mta_sts is not None and mta_sts.mode != "none" and not mx and not waiting_for_server:
        r.fail(
            f"{path}.mtaSts.mode",
            mta_sts.mode,
            "none (or add MX hosts)",
            "MTA-STS describes the MX hosts and this domain receives no mail",
        )
    if suite.name == "none" and (dkim or mta_sts or tls_rpt or autodiscovery) and not senders:
        r.fail(
            f"{path}.mail.suite",
            "none",
            "a mail suite, or remove dkim/mtaSts/tlsRpt/autodiscovery",
            "a domain that sends and receives no mail publishes a null MX, "
            "SPF -all and DMARC reject only (RFC 7505)",
        )
    hosts = _read_hosts(r, f"{path}.hosts", m.get("hosts"), name)
    if len(r.errors) > errors_before or waiting_for_server:
        return None
    return DomainSpec(
        name=name,
        ttl=ttl,
        suite=suite,
        mx=mx,
        spf=spf,
        dkim=dkim,
        dmarc=dmarc,
        mta_sts=mta_sts,
        tls_rpt=tls_rpt,
        autodiscovery=autodiscovery,
        caa=caa,
        senders=senders,
        server=own_server,
        hosts=hosts,
    )


def _read_hosts(r: _Reader, path: str, raw: object, domain: str) -> tuple[HostAddresses, ...]:
    """``hosts: {mx1: [203.0.113.25, "2001:db8::25"]}``: names relative to the domain (or fully
    qualified inside it), each with its IPv4/IPv6 addresses."""
    if raw is None:
        return ()
    if not isinstance(raw, Mapping) or not raw:
        r.fail(path, raw, "a mapping of host name to addresses (e.g. mx1: [203.0.113.25])")
        return ()
    out: list[HostAddresses] = []
    for key, value in raw.items():
        host_path = f"{path}.{key}"
        relative = str(key).strip().rstrip(".")
        if relative.endswith("." + domain) or relative == domain:
            fqdn = normalize_hostname(relative)
        else:
            fqdn = normalize_hostname(f"{relative}.{domain}")
        if fqdn is None or not (fqdn == domain or fqdn.endswith("." + domain)):
            r.fail(host_path, key, f"a host name inside {domain} (e.g. mx1 or mx1.{domain})")
            continue
        addresses: list[str] = []
        for item_path, item in r.items(host_path, value):
            try:
                addresses.append(str(ipaddress.ip_address(str(item).strip())))
            except ValueError:
                r.fail(item_path, item, "an IPv4 or IPv6 address (e.g. 203.0.113.25)")
        if not addresses and not isinstance(value, str):
            r.fail(host_path, value, "a non-empty list of IPv4/IPv6 addresses")
        out.append(HostAddresses(fqdn, tuple(addresses)))
    return tuple(out)


_PRIVATE_KEYS = (
    "cloud",
    "domain",
    "hostname",
    "zone",
    "accountId",
    "appId",
    "imageId",
    "adminCidr",
    "users",
    "dkimSelector",
    "archiveBucket",
    "relayUsername",
    "retentionDays",
    "retentionLocked",
    "sshPublicKey",
)


def _read_private_server(
    r: _Reader, raw: object, path: str = "hkmail:privateServer"
) -> PrivateServerSpec | None:
    m = r.mapping(path, raw, _PRIVATE_KEYS)
    if m is None:
        return None
    before = len(r.errors)
    cloud = r.choice(f"{path}.cloud", m.get("cloud"), CLOUDS)
    domain = r.hostname(f"{path}.domain", m.get("domain"), min_labels=2)
    hostname = r.hostname(f"{path}.hostname", m.get("hostname"), min_labels=3)
    if domain and hostname and not hostname.endswith("." + domain):
        r.fail(f"{path}.hostname", hostname, f"a host name inside {domain}")
    zones = DEPLOY_ZONES[cloud or "alicloud"]  # Tencent ap-hongkong-1 is sold out
    zone = r.choice(f"{path}.zone", m.get("zone"), zones)
    try:
        admin = ipaddress.ip_network(str(m.get("adminCidr")), strict=True)
        if admin.prefixlen < 16 or admin.version != 4:
            raise ValueError("wider than /16")
    except ValueError as exc:
        r.fail(f"{path}.adminCidr", m.get("adminCidr"), "an IPv4 CIDR of /16 or narrower", str(exc))
    users = r.each(f"{path}.users", m.get("users"), lambda p, v: r.hostname(p, v))
    if not users:
        r.fail(f"{path}.users", m.get("users"), "a non-empty list of mailbox local parts")
    for i, user in enumerate(users):
        if users.index(user) != i:
            r.fail(f"{path}.users[{i}]", user, "each mailbox user once", "duplicate user")
    selector = r.hostname(f"{path}.dkimSelector", m.get("dkimSelector"))
    texts = {}
    for key in ("accountId", "imageId", "archiveBucket", "relayUsername"):
        value = m.get(key)
        if not isinstance(value, str | int) or isinstance(value, bool) or not str(value):
            r.fail(f"{path}.{key}", value, "a non-empty string")
        texts[key] = str(value)
    retention = (
        r.integer(f"{path}.retentionDays", m.get("retentionDays"), 1, 25550)
        if m.get("retentionDays") is not None
        else None
    )
    ssh_key = m.get("sshPublicKey")
    if ssh_key is not None and not (isinstance(ssh_key, str) and ssh_key.strip()):
        r.fail(f"{path}.sshPublicKey", ssh_key, "one OpenSSH public key line")
    if len(r.errors) > before or not (cloud and domain and hostname and zone and selector):
        return None
    return PrivateServerSpec(
        cloud=cloud,
        domain=domain,
        hostname=hostname,
        zone=zone,
        account_id=texts["accountId"],
        image_id=texts["imageId"],
        admin_cidr=str(m.get("adminCidr")),
        users=users,
        dkim_selector=selector,
        archive_bucket=texts["archiveBucket"],
        relay_username=texts["relayUsername"],
        app_id=str(m.get("appId", "")),
        retention_days=retention,
        retention_locked=r.boolean(f"{path}.retentionLocked", m.get("retentionLocked"), False),
        ssh_public_key=ssh_key.strip() if isinstance(ssh_key, str) else None,
    )


def _read_mail(
    r: _Reader, path: str, raw: object, dns_provider: DnsProvider | None
) -> tuple[SuitePreset, tuple[MxHost, ...]]:
    m = r.mapping(path, raw, ("suite", "mx"))
    if m is None:
        return SUITES["none"], ()
    suite_name = r.choice(f"{path}.suite", m.get("suite"), tuple(SUITES))
    suite = SUITES[suite_name] if suite_name else SUITES["none"]
    if suite_name == "custom":
        mx = r.each(f"{path}.mx", m.get("mx"), lambda p, v: _read_mx(r, p, v, dns_provider))
        if not mx:
            r.fail(
                f"{path}.mx",
                m.get("mx"),
                "a non-empty list of {host, priority}",
                "suite custom needs its MX hosts",
            )
    else:
        if m.get("mx") is not None:
            r.fail(
                f"{path}.mx",
                m.get("mx"),
                "no mx (the preset sets it) or suite: custom",
                f"suite {suite_name} has fixed MX hosts",
            )
        mx = suite.mx
    return suite, mx


def _read_mx(r: _Reader, path: str, raw: object, dns_provider: DnsProvider | None) -> MxHost | None:
    m = r.mapping(path, raw, ("host", "priority"))
    if m is None:
        return None
    low, high = MX_PRIORITY_RANGE[dns_provider] if dns_provider else (0, 65535)
    host = r.hostname(f"{path}.host", m.get("host"), min_labels=2)
    priority = r.integer(f"{path}.priority", m.get("priority"), low, high)
    if host is None or priority is None:
        return None
    return MxHost(host, priority)


def _read_spf(r: _Reader, path: str, raw: object) -> SpfSpec:
    if raw is None:
        return SpfSpec()
    m = r.mapping(path, raw, ("include", "ip4", "ip6", "a", "mx", "all"))
    if m is None:
        return SpfSpec()
    include = r.each(
        f"{path}.include",
        m.get("include"),
        lambda p, v: r.hostname(p, v, min_labels=2, underscore=True),
    )
    ip4 = r.each(f"{path}.ip4", m.get("ip4"), lambda p, v: _read_network(r, p, v, 4))
    ip6 = r.each(f"{path}.ip6", m.get("ip6"), lambda p, v: _read_network(r, p, v, 6))
    all_ = r.choice(f"{path}.all", m.get("all"), SPF_ALLS, "-all") or "-all"
    return SpfSpec(
        include=include,
        ip4=ip4,
        ip6=ip6,
        a=r.boolean(f"{path}.a", m.get("a"), False),
        mx=r.boolean(f"{path}.mx", m.get("mx"), False),
        all=all_,
    )


def _read_network(r: _Reader, path: str, raw: object, version: int) -> str | None:
    try:
        net = ipaddress.ip_network(str(raw), strict=True)
    except ValueError:
        net = None
    if net is None or net.version != version or not isinstance(raw, str):
        r.fail(path, raw, f"an IPv{version} address or network in CIDR form (host bits zero)")
        return None
    # A single address is written without its /32 or /128, as RFC 7208 examples do.
    return str(net.network_address) if net.num_addresses == 1 else str(net)


def _read_dkim(r: _Reader, path: str, raw: object) -> DkimKey | None:
    m = r.mapping(path, raw, ("selector", "publicKey", "keyType"))
    if m is None:
        return None
    selector = r.hostname(f"{path}.selector", m.get("selector"))
    key_type = r.choice(f"{path}.keyType", m.get("keyType"), KEY_TYPES, "rsa")
    key_raw = m.get("publicKey")
    if isinstance(key_raw, str) and "p=" in key_raw:
        # Consoles hand out the whole record ("v=DKIM1; k=rsa; p=MIIB..."): take its p= tag.
        tags = dict(t.strip().split("=", 1) for t in key_raw.split(";") if "=" in t)
        key_raw = tags.get("p", "")
    if not isinstance(key_raw, str):
        r.fail(f"{path}.publicKey", key_raw, "the base64 public key (the p= tag of the record)")
        return None
    public_key = re.sub(r"\s+", "", key_raw)
    bits = dkim_key_bits(public_key, key_type or "rsa")
    if isinstance(bits, str):
        r.fail(f"{path}.publicKey", _abbrev(public_key), f"a {key_type} public key", bits)
        return None
    if selector is None or key_type is None:
        return None
    return DkimKey(selector=selector, key_type=key_type, public_key=public_key, bits=bits)


def dkim_key_bits(public_key: str, key_type: str) -> int | str:
    """Key size in bits, or the reason the key is unusable (RFC 6376, 8301, 8463)."""
    try:
        der = base64.b64decode(public_key, validate=True)
    except (binascii.Error, ValueError):
        return "not base64"
    if key_type == "ed25519":
        return 256 if len(der) == 32 else f"an ed25519 key is 32 bytes, this is {len(der)}"
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import load_der_public_key

    try:
        key = load_der_public_key(der)
    except (ValueError, UnsupportedAlgorithm):
        return "not a DER SubjectPublicKeyInfo (the p= value of an RSA DKIM record)"
    if not isinstance(key, rsa.RSAPublicKey):
        return "not an RSA key"
    if key.key_size < 1024:
        return f"{key.key_size}-bit RSA; RFC 8301 requires at least 1024, 2048 recommended"
    return key.key_size


def _abbrev(text: str) -> str:
    return text if len(text) <= 24 else f"{text[:12]}...{text[-8:]}"


def _read_dmarc(r: _Reader, path: str, raw: object) -> DmarcSpec | None:
    keys = ("policy", "subdomainPolicy", "pct", "rua", "ruf", "adkim", "aspf", "rampUntil")
    m = r.mapping(path, raw, keys)
    if m is None:
        return None
    policies = DMARC_POLICIES
    policy = r.choice(f"{path}.policy", m.get("policy"), policies)
    sp = (
        r.choice(f"{path}.subdomainPolicy", m.get("subdomainPolicy"), policies)
        if m.get("subdomainPolicy") is not None
        else None
    )
    pct = r.integer(f"{path}.pct", m.get("pct"), 0, 100, default=100)
    rua = r.each(f"{path}.rua", m.get("rua"), r.mailto)
    ruf = r.each(f"{path}.ruf", m.get("ruf"), r.mailto)
    adkim = r.choice(f"{path}.adkim", m.get("adkim"), ALIGNMENTS, "r")
    aspf = r.choice(f"{path}.aspf", m.get("aspf"), ALIGNMENTS, "r")
    ramp = r.date(f"{path}.rampUntil", m.get("rampUntil"))
    if policy is None or pct is None or adkim is None or aspf is None:
        return None
    return DmarcSpec(
        policy=policy,
        subdomain_policy=sp,
        pct=pct,
        rua=rua,
        ruf=ruf,
        adkim=adkim,
        aspf=aspf,
        ramp_until=ramp,
    )


def _read_mta_sts(r: _Reader, path: str, raw: object) -> MtaStsSpec | None:
    m = r.mapping(path, raw, ("mode", "maxAge", "policyHost"))
    if m is None:
        return None
    mode = r.choice(f"{path}.mode", m.get("mode"), MTA_STS_MODES)
    # RFC 8461 3.2: max_age up to 31557600 seconds (about one year).
    max_age = r.integer(f"{path}.maxAge", m.get("maxAge"), 86400, 31557600, default=604800)
    host: PolicyHost | None = None
    if m.get("policyHost") is not None:
        h = r.mapping(f"{path}.policyHost", m.get("policyHost"), ("cname", "ipv4"))
        if h is not None:
            cname = (
                r.hostname(f"{path}.policyHost.cname", h.get("cname"), min_labels=2)
                if h.get("cname") is not None
                else None
            )
            ipv4 = r.each(
                f"{path}.policyHost.ipv4", h.get("ipv4"), lambda p, v: _read_address(r, p, v)
            )
            if (cname is None) == (not ipv4):
                r.fail(f"{path}.policyHost", dict(h), "exactly one of cname or ipv4")
            host = PolicyHost(cname=cname, ipv4=ipv4)
    if mode is None or max_age is None:
        return None
    return MtaStsSpec(mode=mode, max_age=max_age, policy_host=host)


def _read_address(r: _Reader, path: str, raw: object) -> str | None:
    try:
        if isinstance(raw, str):
            return str(ipaddress.IPv4Address(raw))
    except ValueError:
        pass
    r.fail(path, raw, "an IPv4 address (e.g. 203.0.113.10)")
    return None


def _read_tls_rpt(r: _Reader, path: str, raw: object) -> TlsRptSpec | None:
    if raw is None:
        return None
    m = r.mapping(path, raw, ("rua",))
    if m is None:
        return None

    def read_uri(p: str, v: object) -> str | None:
        if isinstance(v, str) and v.startswith("https://") and " " not in v and "," not in v:
            return v
        if isinstance(v, str) and v.startswith("https:"):
            r.fail(p, v, "an https:// URL without spaces or commas")
            return None
        return r.mailto(p, v)

    rua = r.each(f"{path}.rua", m.get("rua"), read_uri)
    if not rua:
        r.fail(f"{path}.rua", m.get("rua"), "at least one mailto: or https: report destination")
        return None
    return TlsRptSpec(rua=rua)


def _read_autodiscovery(
    r: _Reader, path: str, raw: object, suite: SuitePreset
) -> AutodiscoverySpec | None:
    if raw is None or raw is False:
        return None
    if raw is True:
        if suite.name == "private":
            return None  # the private server's hostname, filled in once it is known
        if suite.autodiscovery is None:
            r.fail(
                path,
                raw,
                "a mapping of submission/submissions/imaps to {host, port}",
                f"suite {suite.name} has no preset client endpoints",
            )
        return suite.autodiscovery
    m = r.mapping(path, raw, ("submission", "submissions", "imaps"))
    if m is None:
        return None

    def target(key: str) -> SrvTarget | None:
        v = m.get(key)
        if v is None:
            return None
        t = r.mapping(f"{path}.{key}", v, ("host", "port"))
        if t is None:
            return None
        host = r.hostname(f"{path}.{key}.host", t.get("host"), min_labels=2)
        port = r.integer(
            f"{path}.{key}.port",
            t.get("port"),
            1,
            65535,
            default={"submission": 587, "submissions": 465, "imaps": 993}[key],
        )
        return SrvTarget(host, port) if host and port else None

    found = AutodiscoverySpec(
        submission=target("submission"), submissions=target("submissions"), imaps=target("imaps")
    )
    if found == AutodiscoverySpec():
        r.fail(path, dict(m), "at least one of submission, submissions, imaps")
    return found


def _read_caa(r: _Reader, path: str, raw: object) -> CaaSpec | None:
    if raw is None:
        return None
    m = r.mapping(path, raw, ("issue", "issuewild", "iodef"))
    if m is None:
        return None
    issue = r.each(f"{path}.issue", m.get("issue"), lambda p, v: r.hostname(p, v, min_labels=2))
    issuewild = r.each(
        f"{path}.issuewild", m.get("issuewild"), lambda p, v: r.hostname(p, v, min_labels=2)
    )
    iodef_raw = m.get("iodef")
    iodef = None
    if iodef_raw is not None:
        if isinstance(iodef_raw, str) and iodef_raw.startswith("https://"):
            iodef = iodef_raw
        else:
            iodef = r.mailto(f"{path}.iodef", iodef_raw)
    if not issue and not issuewild:
        r.fail(f"{path}.issue", m.get("issue"), "at least one CA domain (e.g. letsencrypt.org)")
    return CaaSpec(issue=issue, issuewild=issuewild, iodef=iodef)


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


SENDING_SERVICES: Final = ("tencent-ses", "alibaba-directmail")


# --------------------------------------------------------------------------------------------
# Migration from the current mail system (hkmail:migration)
# --------------------------------------------------------------------------------------------
#
#   hkmail:migration:
#     domain: example.com.hk          # a domain of hkmail:domains: its settings are the new system
#     phase: prepare                  # prepare | sync | cutover | dual-run | done | rollback
#     old:
#       suite: tencent-exmail         # tencent-exmail | alibaba-mail: MX, SPF include and IMAP host
#       mx: [{host: mx.old.example, priority: 10}]   # or the old MX hosts listed (suite custom)
#       mxTtl: 3600                   # the TTL the old MX records are published with now
#       spf: {include: [...], ip4: [...], ip6: [...]}  # the old system's sending sources
#       imap: imap.old.example:993
#     lowTtl: 600                     # the zone's TTL while migrating (default: the plan's floor)
#     monitorUntil: 2026-12-31        # DMARC p=none (monitoring) ramp end while migrating
#     ttlLoweredAt: 2026-11-27T10:00:00+08:00   # when the prepare phase was applied
#     verified: {at: ..., digest: ...}          # written by scripts/verify --record
#     cutoverAt: 2026-11-28T22:00:00+08:00      # when the cutover phase was applied
#
# Phases only move mail when it is safe: a cut-over waits until the lowered TTL has been live for
# the old MX TTL (every resolver has dropped the old, long-lived MX answer) and until the lowered
# records have been verified on every authoritative name server.

MigrationPhase = Literal["prepare", "sync", "cutover", "dual-run", "done", "rollback"]
MIGRATION_PHASES: Final[tuple[MigrationPhase, ...]] = (
    "prepare",
    "sync",
    "cutover",
    "dual-run",
    "done",
    "rollback",
)
# IMAP endpoints of the hosted suites (DESIGN.md, "Lifecycle facts").
OLD_SUITE_IMAP: Final[Mapping[str, tuple[str, int]]] = {
    "tencent-exmail": ("imap.exmail.qq.com", 993),
    "alibaba-mail": ("imap.qiye.aliyun.com", 993),
}


@dataclass(frozen=True)
class OldMailSystem:
    mx: tuple[MxHost, ...]
    mx_ttl: int
    spf: SpfSpec
    imap_host: str | None = None
    imap_port: int = 993
    suite: str | None = None


@dataclass(frozen=True)
class MigrationVerification:
    at: dt.datetime
    digest: str


@dataclass(frozen=True)
class MigrationSpec:
    domain: str
    phase: MigrationPhase
    old: OldMailSystem
    low_ttl: int
    monitor_until: dt.date
    ttl_lowered_at: dt.datetime | None = None
    verified: MigrationVerification | None = None
    cutover_at: dt.datetime | None = None

    @property
    def earliest_cutover(self) -> dt.datetime | None:
        """When every resolver has dropped the old MX answer: the lowered TTL applied, plus the
        old TTL that caches may still hold."""
        if self.ttl_lowered_at is None:
            return None
        return self.ttl_lowered_at + dt.timedelta(seconds=self.old.mx_ttl)

    @property
    def earliest_done(self) -> dt.datetime | None:
        """When every resolver has the new MX: the cut-over applied, plus the lowered TTL."""
        if self.cutover_at is None:
            return None
        return self.cutover_at + dt.timedelta(seconds=self.low_ttl)


_MIGRATION_KEYS = (
    "domain",
    "phase",
    "old",
    "lowTtl",
    "monitorUntil",
    "ttlLoweredAt",
    "verified",
    "cutoverAt",
)


_GO_TIME = re.compile(r"(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d(?:\.\d+)?) ([+-])(\d\d)(\d\d)(?: \S+)?")


def _read_time(r: _Reader, path: str, value: object) -> dt.datetime | None:
    if value is None:
        return None
    when: dt.datetime | None = value if isinstance(value, dt.datetime) else None
    text = str(value)
    # An unquoted timestamp in a stack file reaches the program in Go's time.Time String() form:
    # "2026-11-27 10:00:00 +0800 +0800" / "2026-11-27 02:00:00 +0000 UTC".
    go_time = _GO_TIME.fullmatch(text)
    if go_time is not None:
        day, clock, sign, hh, mm = go_time.groups()
        text = f"{day}T{clock}{sign}{hh}:{mm}"
    if when is None:
        try:
            when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            when = None
    if when is None or when.tzinfo is None:
        r.fail(path, value, "a time with its zone, e.g. 2026-11-27T18:00:00+08:00")
        return None
    return when.astimezone(dt.UTC)


def _read_old_system(
    r: _Reader, path: str, raw: object, dns_provider: DnsProvider | None
) -> OldMailSystem | None:
    m = r.mapping(path, raw, ("suite", "mx", "mxTtl", "spf", "imap"))
    if m is None:
        return None
    before = len(r.errors)
    suite_name = None
    mx: tuple[MxHost, ...] = ()
    includes: tuple[str, ...] = ()
    imap: tuple[str, int] | None = None
    if m.get("suite") is not None:
        suite_name = r.choice(f"{path}.suite", m.get("suite"), tuple(OLD_SUITE_IMAP))
        if suite_name is not None:
            mx = SUITES[suite_name].mx
            includes = SUITES[suite_name].spf_includes
            imap = OLD_SUITE_IMAP[suite_name]
    if m.get("mx") is not None:
        mx = r.each(f"{path}.mx", m.get("mx"), lambda p, v: _read_mx(r, p, v, dns_provider))
    if not mx:
        r.fail(f"{path}.mx", m.get("mx"), "the old MX hosts [{host, priority}], or old.suite")
    mx_ttl = r.integer(f"{path}.mxTtl", m.get("mxTtl"), 1, 7 * 86400)
    spf = _read_spf(r, f"{path}.spf", m.get("spf"))
    spf = dataclasses.replace(spf, include=tuple(dict.fromkeys(includes + spf.include)))
    if m.get("imap") is not None:
        host, _, port = str(m.get("imap")).partition(":")
        name = normalize_hostname(host, min_labels=2)
        with contextlib.suppress(ValueError):
            name = name or str(ipaddress.IPv4Address(host))
        if name is None or (port and not port.isdigit()):
            r.fail(f"{path}.imap", m.get("imap"), "host[:port] of the old IMAP server")
        else:
            imap = (name, int(port or 993))
    if len(r.errors) > before or mx_ttl is None:
        return None
    return OldMailSystem(
        mx=mx,
        mx_ttl=mx_ttl,
        spf=spf,
        imap_host=imap[0] if imap else None,
        imap_port=imap[1] if imap else 993,
        suite=suite_name,
    )


def read_migration(
    r: _Reader,
    raw: object,
    domains: Sequence[DomainSpec],
    dns_provider: DnsProvider | None,
    dns_plan: str,
    now: dt.datetime | None = None,
) -> MigrationSpec | None:
    """hkmail:migration, and whether its phase is safe to apply ``now``."""
    path = "hkmail:migration"
    m = r.mapping(path, raw, _MIGRATION_KEYS)
    if m is None:
        return None
    before = len(r.errors)
    receiving = [d.name for d in domains if d.receives_mail]
    name = r.hostname(f"{path}.domain", m.get("domain"), min_labels=2)
    domain = next((d for d in domains if d.name == name), None)
    if name is not None and (domain is None or not domain.receives_mail):
        r.fail(f"{path}.domain", name, " | ".join(receiving) or "a domain that receives mail")
    phase = r.choice(f"{path}.phase", m.get("phase"), MIGRATION_PHASES)
    old = _read_old_system(r, f"{path}.old", m.get("old"), dns_provider)
    floor = TTL_FLOOR[dns_provider][dns_plan] if dns_provider else 1
    advisory = TTL_ADVISORY_FLOOR[dns_provider][dns_plan] if dns_provider else 1
    low_ttl = r.integer(
        f"{path}.lowTtl", m.get("lowTtl"), floor, TTL_MAX, default=max(advisory, 300)
    )
    monitor = r.date(f"{path}.monitorUntil", m.get("monitorUntil"))
    if monitor is None and m.get("monitorUntil") is None:
        r.fail(
            f"{path}.monitorUntil",
            None,
            "a date (YYYY-MM-DD)",
            "DMARC is set to p=none (monitoring) while migrating, until this date",
        )
    lowered = _read_time(r, f"{path}.ttlLoweredAt", m.get("ttlLoweredAt"))
    cutover_at = _read_time(r, f"{path}.cutoverAt", m.get("cutoverAt"))
    verified = None
    if m.get("verified") is not None:
        v = r.mapping(f"{path}.verified", m.get("verified"), ("at", "digest"))
        if v is not None:
            at = _read_time(r, f"{path}.verified.at", v.get("at"))
            digest = v.get("digest")
            if not isinstance(digest, str) or not re.fullmatch(r"[0-9a-f]{16}", digest):
                r.fail(
                    f"{path}.verified.digest",
                    digest,
                    "the 16-hex-digit digest scripts/verify --record writes",
                )
            elif at is not None:
                verified = MigrationVerification(at, digest)
    if len(r.errors) > before:
        return None
    assert name and phase and old and low_ttl and monitor and domain
    if phase == "dual-run" and dns_provider is not None:
        low, high = MX_PRIORITY_RANGE[dns_provider]
        top = max(mx.priority for mx in domain.mx)
        if top + len(old.mx) > high:
            r.fail(
                f"{path}.phase",
                phase,
                "cutover or done",
                f"{dns_provider} allows MX priorities {low}-{high}; the new MX hosts already use "
                f"up to {top}, leaving no lower priority for the old hosts",
            )
    spec = MigrationSpec(
        domain=name,
        phase=phase,
        old=old,
        low_ttl=low_ttl,
        monitor_until=monitor,
        ttl_lowered_at=lowered,
        verified=verified,
        cutover_at=cutover_at,
    )
    for field_path, problem in migration_problems(spec, now or dt.datetime.now(dt.UTC)):
        r.fail(field_path, problem[0], problem[1], problem[2])
    return spec


def _iso(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def migration_problems(
    m: MigrationSpec, now: dt.datetime
) -> list[tuple[str, tuple[object, str, str]]]:
    """Why the phase could lose mail if applied ``now``: (config path, (value, allowed, reason))."""
    path = "hkmail:migration"
    out: list[tuple[str, tuple[object, str, str]]] = []
    phase = m.phase
    for key, when in (("ttlLoweredAt", m.ttl_lowered_at), ("cutoverAt", m.cutover_at)):
        if when is not None and when > now:
            out.append((f"{path}.{key}", (_iso(when), f"a time before now ({_iso(now)})", "")))
    if phase == "prepare":
        return out
    if m.ttl_lowered_at is None:
        out.append(
            (
                f"{path}.ttlLoweredAt",
                (
                    None,
                    "the time the prepare phase (lowered TTL) was applied",
                    f"phase {phase} comes after prepare",
                ),
            )
        )
        return out
    earliest = m.earliest_cutover
    assert earliest is not None
    if phase in ("cutover", "dual-run"):
        if now < earliest:
            out.append(
                (
                    f"{path}.phase",
                    (
                        phase,
                        f"prepare or sync until {_iso(earliest)}",
                        f"the lowered TTL has been live since {_iso(m.ttl_lowered_at)}, less than "
                        f"the old MX TTL ({m.old.mx_ttl}s): resolvers may still hold the old MX. "
                        f"Earliest safe cut-over: {_iso(earliest)}",
                    ),
                )
            )
        if m.verified is None or m.verified.at < m.ttl_lowered_at:
            out.append(
                (
                    f"{path}.verified",
                    (
                        _iso(m.verified.at) if m.verified else None,
                        "a pass of scripts/verify --record made after ttlLoweredAt",
                        "cut over only once every name server serves the lowered records",
                    ),
                )
            )
    if m.cutover_at is not None and m.cutover_at < earliest:
        out.append(
            (
                f"{path}.cutoverAt",
                (
                    _iso(m.cutover_at),
                    f"a time from {_iso(earliest)} on",
                    "that is before the earliest safe cut-over",
                ),
            )
        )
    if phase in ("dual-run", "done") and m.cutover_at is None:
        out.append(
            (
                f"{path}.cutoverAt",
                (None, "the time the cutover phase was applied", f"phase {phase} follows cutover"),
            )
        )
    done_at = m.earliest_done
    if phase == "done" and done_at is not None and now < done_at:
        out.append(
            (
                f"{path}.phase",
                (
                    phase,
                    f"cutover or dual-run until {_iso(done_at)}",
                    f"the new MX has been live for less than the lowered TTL ({m.low_ttl}s)",
                ),
            )
        )
    return out


# --------------------------------------------------------------------------------------------
# The components' front door: the same readers, on one component's args
# --------------------------------------------------------------------------------------------


def read_domain_args(
    domain: Mapping[str, object],
    *,
    dns_provider: object,
    dns_plan: object = None,
    private_server: object = None,
    report_sources: object = None,
    path: str = "args",
    subject: str = "component args",
) -> tuple[DomainSpec, tuple[tuple[str, str], ...]]:
    """One mail domain's args (the keys of a ``hkmail:domains`` entry, camelCase), validated by
    the readers of :func:`read_stack`; errors name ``<path>.<field>``. Returns the domain and its
    DMARC report sources as (source domain, destination host) pairs.

    Raises :class:`hkmail.errors.SpecErrors` listing every problem.
    """
    r = _Reader()
    provider = r.choice(f"{path}.dnsProvider", dns_provider, DNS_PROVIDERS)
    plan = "free"
    if provider is not None:
        plans = tuple(TTL_FLOOR[provider])
        plan = r.choice(f"{path}.dnsPlan", dns_plan, plans, "free") or "free"
    server = None
    if private_server is not None:
        raw = (
            {**private_server, "domain": domain.get("name")}
            if isinstance(private_server, Mapping)
            else private_server
        )
        server = _read_private_server(r, raw, f"{path}.privateServer")
    spec = _read_domain(r, path, domain, provider, plan, server)
    if server is not None and spec is not None and spec.server is None:
        r.fail(f"{path}.mail.suite", domain.get("mail"), "private", "privateServer is set")
    sources: list[tuple[str, str]] = []
    for item_path, item in r.items(f"{path}.dmarcReportSources", report_sources):
        m = r.mapping(item_path, item, ("domain", "destination"))
        if m is None:
            continue
        source = r.hostname(f"{item_path}.domain", m.get("domain"), min_labels=2)
        zone = spec.name if spec is not None else ""
        dest = r.hostname(f"{item_path}.destination", m.get("destination", zone), min_labels=2)
        if dest and zone and not (dest == zone or dest.endswith("." + zone)):
            r.fail(f"{item_path}.destination", dest, f"{zone} or a name inside it")
        elif source and dest:
            sources.append((source, dest))
    raise_all(r.errors, subject)
    assert spec is not None  # raise_all reported why otherwise
    return spec, tuple(sources)


def read_private_server_args(
    raw: Mapping[str, object], *, path: str = "args", subject: str = "component args"
) -> PrivateServerSpec:
    """A private server's args (the keys of ``hkmail:privateServer``, camelCase), validated by
    the reader of :func:`read_stack`. Raises :class:`hkmail.errors.SpecErrors`."""
    r = _Reader()
    server = _read_private_server(r, raw, path)
    raise_all(r.errors, subject)
    assert server is not None
    return server


def read_migration_args(
    raw: object,
    domain: DomainSpec,
    *,
    dns_provider: DnsProvider,
    dns_plan: str,
    subject: str = "component args",
) -> MigrationSpec:
    """One domain's hkmail:migration section, validated by the stack's reader (read_migration)."""
    r = _Reader()
    m = read_migration(r, raw, [domain], dns_provider, dns_plan)
    raise_all(r.errors, subject)
    assert m is not None
    return m
