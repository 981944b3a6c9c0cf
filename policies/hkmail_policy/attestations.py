"""The attestations file: a vendor's written confirmation that a mail system keeps the data in
Hong Kong (who confirmed it, the document or contract clause, when, until when it holds).
Validated strictly when the pack starts, like the exemptions file: a bad file stops the pack.

An attestation turns a "not published" (or outside) mail system into attested Hong Kong storage
for as long as it is in date (flows.judge); an expired one blocks again.
"""

from __future__ import annotations

import contextlib
import os
import re
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from .flows import Attestation
from .mail_systems import BY_ID

DEFAULT_FILE = Path(__file__).resolve().parent.parent / "attestations.yaml"
ENV_FILE = "HKMAIL_ATTESTATIONS_FILE"  # tests point the pack at fixture files
EXAMPLE_MARK = "EXAMPLE, replace with your vendor's own confirmation: "

_REQUIRED = {"id", "system", "confirmedBy", "document", "confirmedOn", "expires", "reviewedBy"}
_FIELDS = _REQUIRED | {"example"}
_ID = re.compile(r"^ATT-[A-Za-z0-9-]+$")
_HOST_GLOB = re.compile(r"^[a-z0-9*?][a-z0-9*?.-]*\.[a-z0-9*?-]+$")


class AttestationsError(ValueError):
    pass


def _text(entry: dict[str, Any], key: str, where: str, min_len: int) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or len(value.strip()) < min_len:
        raise AttestationsError(f"{where}: '{key}' must be a text of at least {min_len} characters")
    return value.strip()


def _date(entry: dict[str, Any], key: str, where: str) -> date:
    value = entry.get(key)
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            value = date.fromisoformat(value)
    if not isinstance(value, date):
        raise AttestationsError(f"{where}: '{key}' must be a date YYYY-MM-DD, got {value!r}")
    return value


def system_glob(system: str) -> str | None:
    """The Place-name glob a `system:` value stands for: a row of the mail-systems table (any of
    its hosts), or a host glob for a host the table does not list (the stack's own server)."""
    if system in BY_ID:
        return f"{BY_ID[system].title} (*)"
    host = system.lower().rstrip(".")
    return host if _HOST_GLOB.match(host) and host.strip("*?.") else None


def _parse(entry: Any, where: str) -> Attestation:
    if not isinstance(entry, dict):
        raise AttestationsError(f"{where}: each attestation must be a mapping")
    unknown, missing = set(entry) - _FIELDS, _REQUIRED - set(entry)
    if unknown or missing:
        raise AttestationsError(
            f"{where}: unknown fields {sorted(unknown)}, missing fields {sorted(missing)}; "
            f"fields are {sorted(_FIELDS)}"
        )
    att_id = _text(entry, "id", where, 1)
    where = f"{where} ({att_id})"
    if not _ID.match(att_id):
        raise AttestationsError(f"{where}: id must look like ATT-2026-001")
    system = _text(entry, "system", where, 1)
    glob = system_glob(system)
    if glob is None:
        raise AttestationsError(
            f"{where}: system {system!r} is neither a mail system of the pack's table "
            f"({', '.join(BY_ID)}) nor a host glob such as mx1.example.com.hk"
        )
    confirmed_on, expires = _date(entry, "confirmedOn", where), _date(entry, "expires", where)
    if expires <= confirmed_on:
        raise AttestationsError(f"{where}: expires must be after confirmedOn")
    example = entry.get("example", False)
    if not isinstance(example, bool):
        raise AttestationsError(f"{where}: 'example' must be true or false")
    document = _text(entry, "document", where, 5)
    confirmed_by = _text(entry, "confirmedBy", where, 3)
    reviewer = _text(entry, "reviewedBy", where, 3)
    if reviewer.lower() == confirmed_by.lower():
        raise AttestationsError(f"{where}: reviewedBy must not be the vendor who confirmed it")
    return Attestation(
        id=att_id,
        system=glob,
        confirmed_by=confirmed_by,
        document=(EXAMPLE_MARK if example else "") + f"{document}; reviewed by {reviewer}",
        confirmed_on=confirmed_on,
        expires=expires,
    )


def load(path: Path | None = None) -> tuple[Attestation, ...]:
    path = path or Path(os.environ.get(ENV_FILE) or DEFAULT_FILE)
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as e:
        raise AttestationsError(f"{path}: cannot read attestations: {e}") from e
    if not isinstance(doc, dict) or set(doc) != {"attestations"}:
        raise AttestationsError(f"{path}: expected one top-level key 'attestations' (a list)")
    entries = doc["attestations"] or []
    if not isinstance(entries, list):
        raise AttestationsError(f"{path}: 'attestations' must be a list")
    out = [_parse(e, f"{path}: attestations[{i}]") for i, e in enumerate(entries)]
    ids = [a.id for a in out]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise AttestationsError(f"{path}: duplicate attestation ids {dupes}")
    return tuple(out)


@cache
def on_file() -> tuple[Attestation, ...]:
    """The file the pack process was started with (validated once, at start: pack.serve)."""
    return load()
