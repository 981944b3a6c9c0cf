"""Approved records (exemptions, attestations): who asked, who approved and when, why, the
ticket or contract, and until when; checked against the reviewers' own file (approvers.yaml).

Pure (PyYAML and the standard library): the pack reads it when it starts, and the toolchain and
the program load this same module from the pack directory, so one validation serves plan, gate
and pack. A record type adds its own fields on top (:func:`check_fields`, :func:`parse_approval`).

Every problem is a :class:`RecordError` naming the file, the entry and the field."""

from __future__ import annotations

import contextlib
import difflib
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

import yaml

APPROVERS_FILE = "approvers.yaml"
ENV_APPROVERS_FILE = "HKMAIL_APPROVERS_FILE"  # tests point at fixture files
APPROVAL_FIELDS = ("requester", "approver", "approvedOn", "reason", "reference", "expires")
DEFAULT_MAX_LIFETIME_MONTHS = 12
DEFAULT_WARNING_DAYS = 30
# A ticket or contract id: SEC-1234, DPA-2026-07, CHG-88 (approvers.yaml can set another)
DEFAULT_REFERENCE_PATTERN = r"^[A-Z][A-Z0-9]{1,15}-[0-9][0-9-]*\b"
# Providers that ignore dots in the local part: Gmail ("Dots don't matter in Gmail addresses",
# support.google.com/mail/answer/7436150), where googlemail.com is the same mailbox. Other
# providers deliver a.b@ and ab@ to different mailboxes unless approvers.yaml says otherwise.
DOTLESS_DOMAINS = ("gmail.com",)
BUILTIN_ALIASES = (("gmail.com", "googlemail.com"),)
_ADDRESS = re.compile(r"^[^@\s]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$")
_GOVERNANCE_FIELDS = (
    "approvers",
    "domainAliases",
    "dotInsensitiveDomains",
    "maxLifetimeMonths",
    "expiryWarningDays",
    "referencePattern",
)


class RecordError(ValueError):
    """A bad record or governance file: ``file: entry: field: problem; allowed: ...``."""

    def __init__(self, file: str, entry: str, field_: str, problem: str, allowed: str = "") -> None:
        self.file, self.entry, self.field, self.problem, self.allowed = (
            file,
            entry,
            field_,
            problem,
            allowed,
        )
        where = ": ".join(p for p in (file, entry, field_) if p)
        super().__init__(f"{where}: {problem}" + (f"; allowed: {allowed}" if allowed else ""))


@dataclass(frozen=True)
class Approver:
    address: str
    github: str | None = None  # the login whose approving pull-request review counts in CI


@dataclass(frozen=True)
class Governance:
    """policies/approvers.yaml: who may approve, and the rules every approval follows."""

    file: str
    approvers: tuple[Approver, ...]
    aliases: Mapping[str, str] = field(default_factory=dict)  # domain -> canonical domain
    dotless: frozenset[str] = frozenset(DOTLESS_DOMAINS)
    max_lifetime_months: int = DEFAULT_MAX_LIFETIME_MONTHS
    warning_days: int = DEFAULT_WARNING_DAYS
    reference_pattern: str = DEFAULT_REFERENCE_PATTERN

    def normalise(self, address: str) -> str:
        """One form per person: case, plus-tags, dots where the provider ignores them, and
        domain aliases folded (alice+dpo@Firm.HK and alice@firm.com.hk are the same person when
        the two domains are aliases)."""
        local, _, domain = address.strip().lower().rpartition("@")
        local = local.split("+", 1)[0]
        domain = self.aliases.get(domain, domain)
        if domain in self.dotless:
            local = local.replace(".", "")
        return f"{local}@{domain}"

    def same_person(self, a: str, b: str) -> bool:
        return self.normalise(a) == self.normalise(b)

    def approver(self, address: str) -> Approver | None:
        mine = self.normalise(address)
        return next((a for a in self.approvers if self.normalise(a.address) == mine), None)

    def approver_list(self) -> str:
        return ", ".join(a.address for a in self.approvers) or "none (approvers.yaml lists none)"


@dataclass(frozen=True)
class Approval:
    requester: str
    approver: str
    approved_on: date
    expires: date
    reason: str
    reference: str

    def expired(self, today: date) -> bool:
        return today > self.expires  # valid through the whole expiry day

    def days_left(self, today: date) -> int:
        return (self.expires - today).days


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later (the month's last day when it has fewer days)."""
    y, m = divmod(day.month - 1 + months, 12)
    year, month = day.year + y, m + 1
    for d in (day.day, 30, 29, 28):
        try:
            return date(year, month, d)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def read_yaml(path: Path, what: str) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise RecordError(str(path), "", "", f"cannot read the {what}: {e.strerror or e}") from e
    except yaml.YAMLError as e:
        raise RecordError(str(path), "", "", f"not valid YAML: {e}") from e


def _as_date(value: Any, file: str, entry: str, key: str) -> date:
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            value = date.fromisoformat(value)
    if not isinstance(value, date):
        raise RecordError(file, entry, key, f"{value!r} is not a date", "YYYY-MM-DD")
    return value


def _int(doc: Mapping[str, Any], key: str, default: int, file: str, minimum: int) -> int:
    value = doc.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise RecordError(file, "", key, f"{value!r} is not a whole number", f">= {minimum}")
    return value


def load_governance(path: Path) -> Governance:
    """approvers.yaml (format: policies/README.md#approvers)."""
    file = str(path)
    doc = read_yaml(path, "approvers file")
    if not isinstance(doc, dict):
        raise RecordError(file, "", "", "expected a mapping", ", ".join(_GOVERNANCE_FIELDS))
    check_fields(doc, set(_GOVERNANCE_FIELDS), {"approvers"}, file, "")
    raw = doc["approvers"]
    if not isinstance(raw, list) or not raw:
        raise RecordError(file, "", "approvers", "must be a non-empty list", "address entries")
    approvers = []
    for i, item in enumerate(raw):
        where = f"approvers[{i}]"
        item = {"address": item} if isinstance(item, str) else item
        if not isinstance(item, dict):
            raise RecordError(file, where, "", "must be an address or {address, github}")
        check_fields(item, {"address", "github"}, {"address"}, file, where)
        address = check_address(item["address"], file, where, "address")
        login = item.get("github")
        if login is not None and (not isinstance(login, str) or not re.fullmatch(r"[\w-]+", login)):
            raise RecordError(file, where, "github", f"{login!r} is not a GitHub login")
        approvers.append(Approver(address, login))
    aliases: dict[str, str] = {}
    groups = [list(g) for g in BUILTIN_ALIASES]
    extra = doc.get("domainAliases", [])
    if not isinstance(extra, list) or not all(
        isinstance(g, list) and len(g) >= 2 and all(isinstance(d, str) for d in g) for g in extra
    ):
        raise RecordError(file, "", "domainAliases", "must be a list of domain lists", "[[a, b]]")
    for group in [*groups, *extra]:
        for domain in group:
            aliases[domain.lower()] = group[0].lower()
    dotless = doc.get("dotInsensitiveDomains", [])
    if not isinstance(dotless, list) or not all(isinstance(d, str) for d in dotless):
        raise RecordError(file, "", "dotInsensitiveDomains", "must be a list of domains")
    pattern = doc.get("referencePattern", DEFAULT_REFERENCE_PATTERN)
    try:
        re.compile(pattern)
    except (re.error, TypeError) as e:
        raise RecordError(file, "", "referencePattern", f"not a regular expression: {e}") from e
    gov = Governance(
        file=file,
        approvers=(),
        aliases=aliases,
        dotless=frozenset(aliases.get(d.lower(), d.lower()) for d in [*DOTLESS_DOMAINS, *dotless]),
        max_lifetime_months=_int(doc, "maxLifetimeMonths", DEFAULT_MAX_LIFETIME_MONTHS, file, 1),
        warning_days=_int(doc, "expiryWarningDays", DEFAULT_WARNING_DAYS, file, 0),
        reference_pattern=pattern,
    )
    seen: dict[str, str] = {}
    for a in approvers:
        key = gov.normalise(a.address)
        if key in seen:
            raise RecordError(file, "approvers", a.address, f"the same person as {seen[key]}")
        seen[key] = a.address
    return replace(gov, approvers=tuple(approvers))


def governance_path(records_file: Path) -> Path:
    """The approvers file that governs a records file: HKMAIL_APPROVERS_FILE, else the one beside
    it (policies/approvers.yaml beside policies/exemptions.yaml)."""
    env = os.environ.get(ENV_APPROVERS_FILE)
    return Path(env) if env else records_file.parent / APPROVERS_FILE


def check_fields(
    entry: Mapping[str, Any], allowed: set[str], required: set[str], file: str, where: str
) -> None:
    """Unknown and missing fields, with the near miss named (``expiry`` -> ``expires``)."""
    for key in sorted(set(entry) - allowed, key=str):
        near = difflib.get_close_matches(str(key), sorted(allowed), n=1)
        hint = f" (did you mean '{near[0]}'?)" if near else ""
        raise RecordError(file, where, str(key), f"unknown field{hint}", ", ".join(sorted(allowed)))
    for key in sorted(required - set(entry)):
        raise RecordError(file, where, key, "missing", ", ".join(sorted(allowed)))


def check_address(value: Any, file: str, where: str, key: str) -> str:
    if not isinstance(value, str) or not _ADDRESS.match(value.strip()):
        raise RecordError(file, where, key, f"{value!r} is not an e-mail address", "name@domain")
    return value.strip()


def text(entry: Mapping[str, Any], key: str, file: str, where: str, min_len: int = 1) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or len(value.strip()) < min_len:
        raise RecordError(
            file, where, key, f"{value!r} is too short", f"a text of {min_len}+ chars"
        )
    return value.strip()


def parse_approval(
    entry: Mapping[str, Any], gov: Governance, file: str, where: str, today: date
) -> Approval:
    """The approval fields of one entry (the caller has checked the field names)."""
    requester = check_address(entry.get("requester"), file, where, "requester")
    approver = check_address(entry.get("approver"), file, where, "approver")
    if gov.same_person(requester, approver):
        raise RecordError(
            file,
            where,
            "approver",
            f"{approver} is the requester {requester} (case, plus-tags, provider dots and domain "
            "aliases are ignored when comparing): nobody approves their own request",
            f"another person from {gov.file}: {gov.approver_list()}",
        )
    if gov.approver(approver) is None:
        raise RecordError(
            file,
            where,
            "approver",
            f"{approver} is not in the approvers' list",
            f"{gov.approver_list()} ({gov.file})",
        )
    approved_on = _as_date(entry.get("approvedOn"), file, where, "approvedOn")
    if approved_on > today:
        raise RecordError(
            file, where, "approvedOn", f"{approved_on} is in the future", f"a day up to {today}"
        )
    expires = _as_date(entry.get("expires"), file, where, "expires")
    latest = add_months(approved_on, gov.max_lifetime_months)
    if expires < approved_on:
        raise RecordError(file, where, "expires", f"{expires} is before approvedOn {approved_on}")
    if expires > latest:
        raise RecordError(
            file,
            where,
            "expires",
            f"{expires} is more than {gov.max_lifetime_months} months after approvedOn "
            f"{approved_on} (maxLifetimeMonths in {gov.file})",
            f"a day up to {latest}; renew with a new approval after that",
        )
    reference = text(entry, "reference", file, where, 3)
    if not re.search(gov.reference_pattern, reference):
        raise RecordError(
            file,
            where,
            "reference",
            f"{reference!r} does not name a ticket or contract",
            f"a text matching {gov.reference_pattern} (referencePattern in {gov.file}), "
            "e.g. SEC-1234 or DPA-2026-07",
        )
    return Approval(
        requester=requester,
        approver=approver,
        approved_on=approved_on,
        expires=expires,
        reason=text(entry, "reason", file, where, 10),
        reference=reference,
    )


T = TypeVar("T")


def load_records(
    path: Path,
    key: str,
    id_pattern: str,
    parse: Callable[[Mapping[str, Any], str, str], T],
) -> tuple[T, ...]:
    """A records file ``{key: [entry, ...]}``: each entry parsed by ``parse(entry, file, where)``
    (``where`` is ``key[i] (id)``), ids matching ``id_pattern`` and unique."""
    file = str(path)
    doc = read_yaml(path, f"{key} file")
    if not isinstance(doc, dict) or set(doc) != {key}:
        raise RecordError(file, "", "", f"expected one top-level key '{key}' (a list)")
    entries = doc[key] or []
    if not isinstance(entries, list):
        raise RecordError(file, "", key, "must be a list")
    out: list[T] = []
    seen: set[str] = set()
    for i, entry in enumerate(entries):
        where = f"{key}[{i}]"
        if not isinstance(entry, dict):
            raise RecordError(file, where, "", "each entry must be a mapping")
        rid = entry.get("id")
        if not isinstance(rid, str) or not re.fullmatch(id_pattern, rid):
            raise RecordError(file, where, "id", f"{rid!r} is not a record id", id_pattern)
        where = f"{where} ({rid})"
        if rid in seen:
            raise RecordError(file, where, "id", "used twice", "unique ids")
        seen.add(rid)
        record = parse(entry, file, where)
        out.append(record)
    return tuple(out)


def status(approval: Approval, today: date, gov: Governance) -> str:
    """'expired', 'expiring' (within expiryWarningDays) or 'current'."""
    if approval.expired(today):
        return "expired"
    return "expiring" if approval.days_left(today) <= gov.warning_days else "current"


def check_reviewers(
    approvals: Iterable[tuple[str, Approval]], gov: Governance, approving_logins: Sequence[str]
) -> list[str]:
    """CI: problems with records whose approver has not approved the pull request (by GitHub
    login, as the allow-list maps it)."""
    logins = {x.lower() for x in approving_logins}
    problems = []
    for name, approval in approvals:
        who = gov.approver(approval.approver)
        if who is None or who.github is None:
            problems.append(
                f"{name}: approver {approval.approver} has no github login in {gov.file}, so the "
                "pull request's approving review cannot be matched"
            )
        elif who.github.lower() not in logins:
            problems.append(
                f"{name}: approver {approval.approver} ({who.github}) has not approved this pull "
                f"request (approving reviews: {', '.join(sorted(logins)) or 'none'})"
            )
    return problems
