"""The attestations file: a vendor's written confirmation that a mail system keeps the data in
Hong Kong (who at the vendor confirmed it, the document or contract clause, when), approved like
an exemption (approvals.py: requester, an approver from approvers.yaml, approvedOn, reason,
reference, expires at most maxLifetimeMonths later). Validated strictly when the pack starts: a
bad file stops the pack.

An attestation turns a "not published" mail system, or a host data is sent to (a webhook, a
regional service host of unpublished region named in a value), into attested Hong Kong storage
for as long
as it is in date (flows.judge), and only for the stacks it names (`stacks:`, names or
globs; required, so that no entry silently covers every company's stack: `["*"]` says so
explicitly); an expired one blocks again. A host glob must fix one organisation's domain after
its last wildcard (`*.aliyuncs.com`, `mx?.example.com.hk`; not `*.com`, `*.com.hk`): a vendor
confirms its own hosts, never a whole top-level domain. A host the pack's host table places
outside Hong Kong is not declared by any attestation (rules/residency.py `_attestable`), and a
mail-systems row documented outside Hong Kong (DirectMail, Tencent SES's other regions) is refused.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

from .approvals import (
    APPROVAL_FIELDS,
    RecordError,
    check_fields,
    governance_path,
    load_governance,
    load_records,
    parse_approval,
    text,
)
from .flows import Attestation
from .mail_systems import BY_ID

DEFAULT_FILE = Path(__file__).resolve().parent.parent / "attestations.yaml"
ENV_FILE = "HKMAIL_ATTESTATIONS_FILE"  # tests point the pack at fixture files
EXAMPLE_MARK = "EXAMPLE, replace with your vendor's own confirmation: "
ID_PATTERN = r"ATT-[A-Za-z0-9-]+"

_OWN = {"system", "stacks", "confirmedBy", "document", "confirmedOn"}
_FIELDS = {"id", *APPROVAL_FIELDS, *_OWN, "example"}
_REQUIRED = {"id", *APPROVAL_FIELDS, *_OWN}
_HOST_GLOB = re.compile(r"^[a-z0-9*?][a-z0-9*?.-]*\.[a-z0-9*?-]+$")
# a stack name (letters, digits, _ . -) or a glob of them
_STACK_GLOB = re.compile(r"^[A-Za-z0-9_.*?-]+$")
# Second-level labels under which every organisation registers (com.hk, co.uk, net.cn): a glob
# whose fixed part is one of these plus a top-level label covers every company there.
_GENERIC_SECOND_LEVEL = frozenset(
    {"ac", "biz", "co", "com", "edu", "gen", "go", "gov", "idv", "info", "int", "ltd", "mil",
     "ne", "net", "nom", "or", "org", "plc"}
)  # fmt: skip
GLOB_ALLOWED = (
    "a host glob whose part after its last wildcard is a domain one organisation registers: at "
    "least two labels, three under a generic second level such as com.hk or co.uk (e.g. "
    "*.aliyuncs.com, mx?.example.com.hk; not *.com, *.com.hk, *example.com)"
)

AttestationsError = RecordError


def system_glob(system: str) -> str | None:
    """The Place-name glob a `system:` value stands for: a row of the mail-systems table (any of
    its hosts), or a host glob for a host the table does not list (the stack's own server)."""
    if system in BY_ID:
        return f"{BY_ID[system].title} (*)"
    host = system.lower().rstrip(".")
    return host if _HOST_GLOB.match(host) and host.strip("*?.") else None


def glob_too_broad(host: str) -> str | None:
    """Why a host glob reaches beyond one organisation's domain (None if it does not): the labels
    after the last one holding a wildcard must be a registrable domain, else `*.com` would
    attest every host of a top-level domain."""
    labels = host.split(".")
    wild = [i for i, label in enumerate(labels) if "*" in label or "?" in label]
    if not wild:
        return None  # one host
    fixed = labels[wild[-1] + 1 :]
    if len(fixed) < 2 or (len(fixed) == 2 and fixed[0] in _GENERIC_SECOND_LEVEL):
        named = ".".join(fixed) or "nothing"
        return (
            f"the glob {host!r} fixes only {named!r} after its last wildcard, which is not one "
            "organisation's domain: it would attest hosts of every company there"
        )
    return None


def _stacks(entry: Mapping[str, Any], file: str, where: str) -> tuple[str, ...]:
    raw = entry.get("stacks")
    allowed = "a non-empty list of stack names or globs, e.g. [tencent-exmail] (['*']: every stack)"
    if "stacks" not in entry:
        why = "missing: every attestation names the stacks it covers (a vendor confirms one tenant)"
        raise RecordError(file, where, "stacks", why, allowed)
    if not isinstance(raw, list) or not raw:
        raise RecordError(file, where, "stacks", f"{raw!r} is not a non-empty list", allowed)
    for name in raw:
        if not isinstance(name, str) or not _STACK_GLOB.match(name):
            why = f"{name!r} is not a stack name or glob"
            raise RecordError(file, where, "stacks", why, allowed)
    return tuple(raw)


def _parse(
    entry: Mapping[str, Any], file: str, where: str, today: date, gov: Any
) -> tuple[Attestation, str]:
    check_fields(entry, _FIELDS, _REQUIRED - {"stacks"}, file, where)
    stacks = _stacks(entry, file, where)
    approval = parse_approval(entry, gov, file, where, today)
    system = text(entry, "system", file, where)
    glob = system_glob(system)
    if glob is None:
        raise RecordError(
            file,
            where,
            "system",
            f"{system!r} is neither a row of the mail-systems table nor a host glob",
            f"{', '.join(BY_ID)}, or a host glob such as mx?.example.com.hk",
        )
    row = BY_ID.get(system)
    if row is not None and row.jurisdiction == "outside":
        # like a host the host table places outside (rules/residency.py _attestable): the
        # vendor's own documentation places it; a crossBorder declaration says so instead
        attestable = ", ".join(k for k, v in BY_ID.items() if v.jurisdiction != "outside")
        raise RecordError(
            file,
            where,
            "system",
            f"{system!r} ({row.title}) is documented outside Hong Kong (mail_systems.py), so no "
            "vendor statement makes it Hong Kong storage",
            f"a row whose location is not published ({attestable}) or a host glob; for "
            f"{system}, a crossBorder declaration in the stack with a reviewed exemption",
        )
    broad = None if row is not None else glob_too_broad(glob)
    if broad is not None:
        raise RecordError(file, where, "system", broad, f"a row of the table, or {GLOB_ALLOWED}")
    confirmed_on = entry.get("confirmedOn")
    if isinstance(confirmed_on, str):
        try:
            confirmed_on = date.fromisoformat(confirmed_on)
        except ValueError:
            confirmed_on = None
    if not isinstance(confirmed_on, date):
        raise RecordError(
            file,
            where,
            "confirmedOn",
            f"{entry.get('confirmedOn')!r} is not a date",
            "the day the vendor confirmed it, YYYY-MM-DD",
        )
    if confirmed_on > approval.approved_on:
        raise RecordError(
            file,
            where,
            "confirmedOn",
            f"{confirmed_on} is after approvedOn {approval.approved_on}",
            "a confirmation approved after it was given",
        )
    example = entry.get("example", False)
    if not isinstance(example, bool):
        raise RecordError(file, where, "example", f"{example!r}", "true or false")
    confirmed_by = text(entry, "confirmedBy", file, where, 3)
    document = text(entry, "document", file, where, 5)
    return Attestation(
        id=str(entry["id"]),
        system=glob,
        confirmed_by=confirmed_by,
        document=(EXAMPLE_MARK if example else "")
        + f"{document}; approved by {approval.approver} on {approval.approved_on.isoformat()}, "
        f"{approval.reference}; for stacks {', '.join(stacks)}",
        confirmed_on=confirmed_on,
        expires=approval.expires,
        stacks=stacks,
    ), system


def load_with_systems(
    path: Path | None = None, today: date | None = None
) -> tuple[tuple[Attestation, str], ...]:
    """Each attestation with the `system:` its entry names (the stack reader compares it with
    what a stack declares)."""
    path = path or Path(os.environ.get(ENV_FILE) or DEFAULT_FILE)
    day = today or date.today()
    governance: list[Any] = []

    def one(entry: Mapping[str, Any], file: str, where: str) -> tuple[Attestation, str]:
        if not governance:  # an empty file needs no approvers file
            governance.append(load_governance(governance_path(path)))
        return _parse(entry, file, where, day, governance[0])

    return load_records(path, "attestations", ID_PATTERN, one)


def load(path: Path | None = None, today: date | None = None) -> tuple[Attestation, ...]:
    return tuple(a for a, _ in load_with_systems(path, today))


@cache
def on_file() -> tuple[Attestation, ...]:
    """The file the pack process was started with (validated once, at start: pack.serve)."""
    return load()


def for_stack(stack: str) -> tuple[Attestation, ...]:
    """The attestations on file that cover this stack's flows."""
    return tuple(a for a in on_file() if a.applies_to(stack))
