"""The copy's reports: JSON (rewritten atomically as each account finishes), text, and the
UIDVALIDITY notes against the previous report."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from toolchain.imapcheck import AccountResult


def _account_json(a: AccountResult) -> dict[str, Any]:
    return {
        "source": a.source,
        "destination": a.destination,
        "error": a.error or None,
        "attempts": a.attempts,
        "seconds": a.seconds,
        "missing": a.missing,
        "mismatched": a.mismatched,
        "notes": a.notes,
        "folders": [
            {
                "source": f.source,
                "destination": f.destination,
                "sourceMessages": f.source_count,
                "destinationMessages": f.destination_count,
                "toCopy": f.to_copy,
                "copied": f.copied,
                "copiedBytes": f.copied_bytes,
                "flagsUpdated": f.flags_updated,
                "missing": f.missing,
                "mismatched": f.mismatched,
                "problems": [
                    {"kind": p.kind, "folder": p.folder, "message": p.message, "detail": p.detail}
                    for p in f.problems
                ],
                "uidValidity": f.uidvalidity,
            }
            for f in a.folders
        ],
    }


def to_json(
    results: Iterable[AccountResult | None], mode: str, complete: bool = True
) -> dict[str, Any]:
    all_results = list(results)
    accounts = [a for a in all_results if a is not None]
    return {
        "mode": mode,
        "complete": complete,
        "accountsTotal": len(all_results),
        "accountsDone": len(accounts),
        "failed": sum(1 for a in accounts if a.error),
        "missing": sum(a.missing for a in accounts),
        "mismatched": sum(a.mismatched for a in accounts),
        "copied": sum(f.copied for a in accounts for f in a.folders),
        "copiedBytes": sum(f.copied_bytes for a in accounts for f in a.folders),
        "accounts": [_account_json(a) for a in accounts],
    }


def write_report(path: Path, doc: Mapping[str, Any]) -> None:
    """Atomically: a crash mid-run leaves the previous complete version, never half a file."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def uidvalidity_notes(previous: Mapping[str, Any] | None, result: AccountResult) -> list[str]:
    """Folders whose UIDVALIDITY changed since the run that wrote ``previous`` (the last report).
    Messages are matched by Message-ID or digest, never by UID, so a change (a restored or rebuilt
    mailbox) costs a rescan, not a duplicate."""
    if not previous:
        return []
    before = {
        (a.get("source"), a.get("destination"), f.get("destination")): f.get("uidValidity", {})
        for a in previous.get("accounts", [])
        if isinstance(a, dict)
        for f in a.get("folders", [])
        if isinstance(f, dict)
    }
    notes = []
    for f in result.folders:
        old = before.get((result.source, result.destination, f.destination))
        if not isinstance(old, dict):
            continue
        for side, value in f.uidvalidity.items():
            if side in old and old[side] is not None and value is not None and old[side] != value:
                notes.append(
                    f"UIDVALIDITY of {side.replace('source:', 'source folder ')} "
                    f"({f.destination}) changed since the last run ({old[side]} -> {value}); "
                    "messages are matched by Message-ID or digest, so nothing is copied twice"
                )
    return notes


def to_text(results: Iterable[AccountResult], mode: str) -> str:
    lines = []
    accounts = list(results)
    for a in accounts:
        lines.append(f"{a.source} -> {a.destination}" + (f": ERROR {a.error}" if a.error else ""))
        lines += [f"  note: {n}" for n in a.notes]
        for f in a.folders:
            bad = [f"MISSING {f.missing}"] if f.missing else []
            bad += [f"DIFFERENT {f.mismatched}"] if f.mismatched else []
            verdict = ", ".join(bad) or "OK"
            if mode == "dry-run":
                verdict = f"would copy {f.to_copy}"
            lines.append(
                f"  {' + '.join(f.source)} -> {f.destination}: {f.source_count} on source, "
                f"{f.destination_count} on destination, copied {f.copied}: {verdict}"
            )
            lines += [f"    {p.text()}" for p in f.problems]
            if len(f.problems) < f.missing + f.mismatched:
                lines.append(f"    ... and {f.missing + f.mismatched - len(f.problems)} more")
    missing = sum(a.missing for a in accounts)
    mismatched = sum(a.mismatched for a in accounts)
    failed = [a for a in accounts if a.error]
    copied = sum(f.copied for a in accounts for f in a.folders)
    if mode == "dry-run":
        todo = sum(f.to_copy for a in accounts for f in a.folders)
        lines.append(f"dry run: {todo} message(s) would be copied; nothing was written")
    elif missing or mismatched:
        lines.append(
            f"FAILED: {missing} source message(s) are not on the destination, {mismatched} "
            "differ there (size, internal date or flags)"
        )
    elif not failed:
        lines.append(
            f"all {sum(f.source_count for a in accounts for f in a.folders)} source messages are "
            f"on the destination ({copied} copied in this run)"
        )
    if failed:
        lines.append(f"FAILED: {len(failed)} account(s) could not be copied (see ERROR above)")
    return "\n".join(lines) + "\n"
