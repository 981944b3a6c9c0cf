"""Checks of a whole stack that need more than one field: run by :func:`hkmail.spec.read_stack`
after every field has been read, before any record or resource exists, each reported once under
the config path a person edits.

- secrets given in plain text (not ``secure:``), with the ``pulumi config set --secret`` fix;
- mailbox users without a password hash (and hashes for no user);
- the DKIM key pair, when the private key is there to check (a PEM block);
- generated names (DKIM, DMARC, MTA-STS, TLS-RPT, SRV) longer than DNS allows;
- cross-border exemptions that are not on file, or have expired;
- in-zone MX, SRV and MTA-STS hosts for which the stack publishes no address;
- what the policy pack's mail-authentication rules would block: RSA DKIM keys under 2048 bits,
  and ``p=none`` DMARC without a current ramp date (in the rules' own words).
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass

from hkmail.errors import SECRET_HIDDEN, SpecError
from hkmail.mailserver.fetch_secrets import MIN_BACKUP_PASSWORD
from hkmail.presets import TENCENT_SES_DKIM_SELECTOR
from hkmail.spec.domains import DomainSpec
from hkmail.spec.private_server import PRIVATE_SECRETS, PrivateServerSpec
from hkmail.spec.reader import display_name, normalize_hostname

# The policy pack's mail-authentication rules (policies/hkmail_policy/rules/mailauth.py), in their
# words: the library cannot import the pack, so tests/test_stack_validation.py holds the two
# texts equal.
DKIM_RULE = "mailauth-dkim-key-strength"
DKIM_MIN_BITS = 2048
DKIM_EXPECTED = f"RSA of at least {DKIM_MIN_BITS} bits or k=ed25519"
DKIM_REMEDIATION = (
    "Generate a 2048-bit RSA (or Ed25519, alongside RSA) selector in the mail console or with "
    "opendkim-genkey -b 2048, publish it, then retire the short key."
)
DMARC_RULE = "mailauth-dmarc-enforced"
DMARC_MAX_RAMP_DAYS = 180
DMARC_EXPECTED = (
    "p=quarantine or p=reject; p=none only until a ramp date (noneRampUntil config or record "
    "remark dmarc-ramp-until=YYYY-MM-DD) at most maxRampDays ahead"
)
DMARC_REMEDIATION = (
    "Set p=quarantine or p=reject; while monitoring a new domain, declare the end of the ramp: "
    "remark='dmarc-ramp-until=YYYY-MM-DD' on the _dmarc record, or "
    '"noneRampUntil": {"example.com": "YYYY-MM-DD"} in the policy pack config.'
)

_HIDDEN = SECRET_HIDDEN


@dataclass(frozen=True)
class Exemption:
    """What the stack checks need of an exemption the policy pack's module has validated (the
    library does not read the file: policies/hkmail_policy/exemptions.py does, for every tool)."""

    id: str
    expires: dt.date | None
    stack: str | None = None  # the one stack its scope names


NEW_EXEMPTION = "scripts/exemption new --stack <stack> prints an entry for the stack's findings"


def _secret_command(name: str) -> str:
    if name == "mailboxPasswordHashes":
        return (
            "pulumi config set --secret --path 'hkmail:mailboxPasswordHashes.<user>' "
            '"$(doveadm pw -s SHA512-CRYPT)"'
        )
    if name == "dkimPrivateKey":
        return "pulumi config set --secret hkmail:dkimPrivateKey < dkim.pem"
    if name == "backupPassword":
        return "openssl rand -base64 32 | pulumi config set --secret hkmail:backupPassword"
    return f"pulumi config set --secret hkmail:{name}"


def plain_text_secrets(
    config: Mapping[str, object], secret_keys: Collection[str]
) -> Iterator[SpecError]:
    for name in PRIVATE_SECRETS:
        key = f"hkmail:{name}"
        if config.get(key) is None or key in secret_keys:
            continue
        yield SpecError(
            key,
            "(plain text)",
            f"a secret: {_secret_command(name)}",
            "given in plain text (not secure:), it would sit unencrypted in the stack file and "
            "the state",
        )


def _raw_domains(config: Mapping[str, object]) -> list[tuple[int, Mapping[str, object]]]:
    raw = config.get("hkmail:domains")
    if not isinstance(raw, Sequence) or isinstance(raw, str):
        return []
    return [(i, d) for i, d in enumerate(raw) if isinstance(d, Mapping)]


def domain_paths(config: Mapping[str, object], domains: Sequence[DomainSpec]) -> dict[str, str]:
    """domain name (A-label) -> its config path ``hkmail:domains[i]``."""
    out: dict[str, str] = {}
    for i, raw in _raw_domains(config):
        name = normalize_hostname(raw.get("name"), min_labels=2)
        if name is not None and name not in out:
            out[name] = f"hkmail:domains[{i}]"
    return {d.name: out.get(d.name, "hkmail:domains") for d in domains}


def mailbox_hashes(
    config: Mapping[str, object], server: PrivateServerSpec | None
) -> Iterator[SpecError]:
    hashes = config.get("hkmail:mailboxPasswordHashes")
    if server is None or not isinstance(hashes, Mapping):
        return  # missing: reported by the spec; one secure blob: its keys cannot be seen
    for user in server.users:
        if hashes.get(user) in (None, ""):
            yield SpecError(
                f"hkmail:mailboxPasswordHashes.{user}",
                None,
                "a password hash: pulumi config set --secret --path "
                f"'hkmail:mailboxPasswordHashes.{user}' \"$(doveadm pw -s SHA512-CRYPT)\"",
                f"{user} is a mailbox user (hkmail:privateServer.users) without a password hash",
            )
    for user in hashes:
        if user not in server.users:
            yield SpecError(
                f"hkmail:mailboxPasswordHashes.{user}",
                _HIDDEN,
                f"a user of hkmail:privateServer.users ({', '.join(server.users)})",
                "a hash for a mailbox that does not exist",
            )


BACKUP_PASSWORD_ALLOWED = (
    f"{MIN_BACKUP_PASSWORD}+ characters, one line (e.g. openssl rand -base64 32)"
)


def backup_password(
    config: Mapping[str, object], server: PrivateServerSpec | None
) -> Iterator[SpecError]:
    """The server's fetch refuses a short or multi-line restic password at boot; refuse it here,
    before any resource, with the same minimum (its value is never shown)."""
    raw = config.get("hkmail:backupPassword")
    if server is None or raw is None:
        return  # missing: reported by the spec
    if isinstance(raw, Mapping) and set(raw) == {"secure"}:
        return  # a stack file's ciphertext, not decrypted here: judged where it is (the program)
    value = str(raw).strip()
    if isinstance(raw, (Mapping, list)):
        reason = "an object or list, not one string"
    elif "\n" in value or "\r" in value:
        reason = "it contains a line break"
    elif len(value) < MIN_BACKUP_PASSWORD:
        # the length is not shown either: it narrows a guess
        reason = "too short: the backup repository's key is derived from it"
    else:
        return
    yield SpecError("hkmail:backupPassword", "[not shown]", BACKUP_PASSWORD_ALLOWED, reason)


def dkim_pair(
    config: Mapping[str, object],
    server: PrivateServerSpec | None,
    domains: Sequence[DomainSpec],
    paths: Mapping[str, str],
) -> Iterator[SpecError]:
    pem = config.get("hkmail:dkimPrivateKey")
    if server is None or not isinstance(pem, str) or "-----BEGIN" not in pem:
        return  # no key, or a stand-in for a secret that cannot be decrypted here
    domain = next((d for d in domains if d.server is not None), None)
    if domain is None:
        return
    index, key = next(
        ((i, k) for i, k in enumerate(domain.dkim) if k.selector == server.dkim_selector),
        (None, None),
    )
    if key is None:
        return  # reported by the spec
    from cryptography.hazmat.primitives import serialization

    try:
        private = serialization.load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError) as exc:
        yield SpecError(
            "hkmail:dkimPrivateKey",
            _HIDDEN,
            "an unencrypted PEM private key (opendkim-genkey writes one)",
            str(exc).split("\n")[0],
        )
        return
    der = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    if base64.b64encode(der).decode() != key.public_key:
        yield SpecError(
            "hkmail:dkimPrivateKey",
            _HIDDEN,
            f"the private half of {paths[domain.name]}.dkim[{index}].publicKey (selector "
            f"{key.selector})",
            "the key pair does not match: receivers would fail every signature",
        )


def _generated_names(domain: DomainSpec) -> Iterator[str]:
    zone = domain.name
    for key in domain.dkim:
        yield f"{key.selector}._domainkey.{zone}"
    for name in ("_dmarc", "_mta-sts", "mta-sts", "_smtp._tls", "_submissions._tcp"):
        yield f"{name}.{zone}"
    for sender in domain.senders:
        yield f"{TENCENT_SES_DKIM_SELECTOR}._domainkey.{sender.domain}"
    if domain.dmarc is not None:
        for uri in (*domain.dmarc.rua, *domain.dmarc.ruf):
            dest = uri.rsplit("@", 1)[-1]
            if dest != zone and not dest.endswith("." + zone):
                yield f"{zone}._report._dmarc.{dest}"


def name_lengths(domains: Sequence[DomainSpec], paths: Mapping[str, str]) -> Iterator[SpecError]:
    for domain in domains:
        too_long = [n for n in _generated_names(domain) if len(n) > 253]
        if not too_long:
            continue
        longest = max(too_long, key=len)
        room = len(domain.name) - (len(longest) - 253)
        yield SpecError(
            f"{paths[domain.name]}.name",
            display_name(domain.name),
            f"a domain of at most {room} characters (DNS names end at 253)",
            f"the name {longest[:40]}...{longest[-30:]} it needs is {len(longest)} characters"
            + (f"; {len(too_long) - 1} more too long" if len(too_long) > 1 else ""),
        )


def _declared_exemptions(config: Mapping[str, object]) -> Iterator[tuple[str, str]]:
    """(config path, exemption id) of every cross-border declaration: senders and notify rules."""
    for i, raw in _raw_domains(config):
        sending = raw.get("sending")
        if not isinstance(sending, Sequence) or isinstance(sending, str):
            continue
        for j, sender in enumerate(sending):
            cross = sender.get("crossBorder") if isinstance(sender, Mapping) else None
            ref = cross.get("exemption") if isinstance(cross, Mapping) else None
            if isinstance(ref, str):
                yield f"hkmail:domains[{i}].sending[{j}].crossBorder.exemption", ref
    server = config.get("hkmail:privateServer")
    notify = server.get("notify") if isinstance(server, Mapping) else None
    rules = notify.get("rules") if isinstance(notify, Mapping) else None
    if isinstance(rules, Sequence) and not isinstance(rules, str):
        for k, rule in enumerate(rules):
            cross = rule.get("crossBorder") if isinstance(rule, Mapping) else None
            ref = cross.get("exemption") if isinstance(cross, Mapping) else None
            if isinstance(ref, str):
                yield f"hkmail:privateServer.notify.rules[{k}].crossBorder.exemption", ref


def exemption_on_file(
    path: str,
    ref: str,
    exemptions: Mapping[str, Exemption],
    today: dt.date,
    stack: str | None,
    blocked: str,
) -> SpecError | None:
    """Why the exemption ``ref`` at ``path`` would not cover its cross-border declaration (none
    on file, another stack's, expired), or None; ``blocked``: what the gate would then block."""
    known = exemptions.get(ref)
    new = NEW_EXEMPTION.replace("<stack>", stack or "<stack>")
    if known is None:
        on_file = ", ".join(sorted(exemptions)) or "none"
        return SpecError(
            path,
            ref,
            f"the id of an exemption in policies/exemptions.yaml (on file: {on_file})",
            f"no such exemption on file: the gate would block {blocked}; to request "
            f"one, {new} (format: policies/README.md#exemptions)",
        )
    if stack is not None and known.stack is not None and known.stack != stack:
        return SpecError(
            path,
            ref,
            f"an exemption whose resources.stack is this stack ({stack})",
            f"{ref} covers stack '{known.stack}' only, so the gate would block {blocked} "
            f"here; an exemption is approved for one stack: {new}",
        )
    if known.expires is not None and known.expires < today:
        return SpecError(
            path,
            ref,
            "an exemption that has not expired (renew it in policies/exemptions.yaml)",
            f"it expired on {known.expires.isoformat()}; an expired exemption is a violation again",
        )
    return None


def exemptions_on_file(
    config: Mapping[str, object],
    exemptions: Mapping[str, Exemption],
    today: dt.date,
    stack: str | None = None,
) -> Iterator[SpecError]:
    for path, ref in _declared_exemptions(config):
        error = exemption_on_file(path, ref, exemptions, today, stack, "the transfer")
        if error is not None:
            yield error


def _targets(domain: DomainSpec, path: str) -> Iterator[tuple[str, str, str]]:
    """(host, config path, what) for every in-zone-capable target the domain's records name."""
    if domain.server is None and domain.suite.stack_mx:
        for k, mx in enumerate(domain.mx):
            yield mx.host, f"{path}.mail.mx[{k}].host", "MX"
    ad = domain.autodiscovery
    if ad is not None and domain.server is None:
        for svc in ("submission", "submissions", "imaps"):
            target = getattr(ad, svc)
            if target is not None:
                yield target.host, f"{path}.autodiscovery.{svc}.host", "SRV"
    mta = domain.mta_sts
    cname = mta.policy_host.cname if mta is not None and mta.policy_host is not None else None
    if cname and (domain.server is None or cname != domain.server.hostname):
        yield cname, f"{path}.mtaSts.policyHost.cname", "MTA-STS host"


_CONSEQUENCE = {
    "MX": "mail to it would bounce",
    "SRV": "mail clients could not connect to it",
    "MTA-STS host": "senders could not fetch the MTA-STS policy",
}


def in_zone_addresses(
    domains: Sequence[DomainSpec], paths: Mapping[str, str]
) -> Iterator[SpecError]:
    zones = {d.name: d for d in domains}
    addressed: set[str] = set()
    for d in domains:
        addressed.update(h.name for h in d.hosts if h.addresses)
        if d.server is not None:
            addressed.add(d.server.hostname)  # A record from the server's public IP
        if d.mta_sts is not None and d.mta_sts.policy_host and d.mta_sts.policy_host.ipv4:
            addressed.add(f"mta-sts.{d.name}")
    uses: dict[str, list[tuple[str, str]]] = {}
    for d in domains:
        for host, path, what in _targets(d, paths[d.name]):
            zone = next((z for z in zones if host == z or host.endswith("." + z)), None)
            if zone is None or host in addressed:
                continue
            uses.setdefault(host, []).append((path, what))
    for host, where in uses.items():
        zone = next(z for z in zones if host == z or host.endswith("." + z))
        relative = host[: -len(zone) - 1] if host != zone else "@"
        first_path, what = where[0]
        others = [p for p, _ in where[1:]]
        yield SpecError(
            first_path,
            host,
            f"an address for it: {paths[zone]}.hosts: {{{relative}: [<IPv4/IPv6>, ...]}}, or a "
            "host outside the stack's zones",
            f"{what} target inside the zone {zone}, which publishes no address for it: "
            + _CONSEQUENCE[what]
            + (f" (also named by {', '.join(others)})" if others else ""),
        )


def _ramp_problem(domain: DomainSpec, today: dt.date) -> str | None:
    """The rule's own reasons (mailauth.py ``_ramp``), for the ramp the stack declares."""
    until = domain.dmarc.ramp_until if domain.dmarc else None
    if until is None:
        return f"no ramp date for {domain.name} (noneRampUntil or remark dmarc-ramp-until=)"
    if until < today:
        return f"the p=none ramp for {domain.name} ended on {until.isoformat()}"
    if (until - today).days > DMARC_MAX_RAMP_DAYS:
        return f"ramp date {until.isoformat()} is more than {DMARC_MAX_RAMP_DAYS} days away"
    return None


def mail_authentication(
    domains: Sequence[DomainSpec], paths: Mapping[str, str], today: dt.date
) -> Iterator[SpecError]:
    for d in domains:
        path = paths[d.name]
        for k, key in enumerate(d.dkim):
            if key.key_type == "rsa" and key.bits < DKIM_MIN_BITS:
                yield SpecError(
                    f"{path}.dkim[{k}].publicKey",
                    f"{key.bits}-bit RSA key",
                    DKIM_EXPECTED,
                    f"{DKIM_RULE}: DKIM key at {key.selector}._domainkey: RSA key is "
                    f"{key.bits} bits; {DKIM_REMEDIATION}",
                )
        dmarc = d.dmarc
        if dmarc is None:
            continue
        for tag, value in (("p", dmarc.policy), ("sp", dmarc.subdomain_policy)):
            if value != "none":
                continue
            why = _ramp_problem(d, today)
            if why is None:
                continue
            field = "policy" if tag == "p" else "subdomainPolicy"
            yield SpecError(
                f"{path}.dmarc.{field}" if why.startswith("no ramp") else f"{path}.dmarc.rampUntil",
                "none"
                if why.startswith("no ramp")
                else d.dmarc.ramp_until.isoformat()
                if d.dmarc and d.dmarc.ramp_until
                else None,
                DMARC_EXPECTED + " (dmarc.rampUntil sets the record's remark)",
                f"{DMARC_RULE}: DMARC for {d.name}: {tag}=none without a valid ramp ({why}); "
                + DMARC_REMEDIATION,
            )
            break  # one cause: the ramp


def stack_checks(
    config: Mapping[str, object],
    domains: Sequence[DomainSpec],
    server: PrivateServerSpec | None,
    *,
    secret_keys: Collection[str] | None,
    exemptions: Mapping[str, Exemption] | None,
    today: dt.date,
    stack: str | None = None,
) -> list[SpecError]:
    paths = domain_paths(config, domains)
    errors: list[SpecError] = []
    if secret_keys is not None:
        errors += plain_text_secrets(config, secret_keys)
    errors += mailbox_hashes(config, server)
    errors += backup_password(config, server)
    errors += dkim_pair(config, server, domains, paths)
    errors += name_lengths(domains, paths)
    if exemptions is not None:
        errors += exemptions_on_file(config, exemptions, today, stack)
    errors += in_zone_addresses(domains, paths)
    errors += mail_authentication(domains, paths, today)
    return errors
