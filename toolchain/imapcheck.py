"""The closing check of the copy: every source message present on the destination, with the same
size and internal date and its flags set there; each difference named (folder, Message-ID or
digest). Results of a folder and an account."""

from __future__ import annotations

import collections
from collections.abc import Sequence
from dataclasses import dataclass, field

from toolchain.imapscan import Msg


@dataclass(frozen=True)
class Problem:
    """One source message the closing check could not match on the destination."""

    kind: str  # missing | flags | internaldate | size
    folder: str  # its source folder
    message: str  # Message-ID, or "digest hdr:..." for one without
    detail: str = ""

    def text(self) -> str:
        return f"{self.kind}: {self.message} in {self.folder}" + (
            f" ({self.detail})" if self.detail else ""
        )


MAX_PROBLEMS = 50  # named per folder; the counts are always complete


@dataclass
class FolderResult:
    source: list[str]
    destination: str
    source_count: int
    destination_count: int = 0
    to_copy: int = 0
    copied: int = 0
    copied_bytes: int = 0
    flags_updated: int = 0
    missing: int = 0
    mismatched: int = 0
    problems: list[Problem] = field(default_factory=list)
    uidvalidity: dict[str, int | None] = field(default_factory=dict)  # "source:<name>" / "dest"


@dataclass
class AccountResult:
    source: str
    destination: str
    folders: list[FolderResult] = field(default_factory=list)
    error: str = ""
    attempts: int = 0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def missing(self) -> int:
        return sum(f.missing for f in self.folders)

    @property
    def mismatched(self) -> int:
        return sum(f.mismatched for f in self.folders)


def _stamp(m: Msg) -> float | None:
    return m.internaldate.timestamp() if m.internaldate else None


def _label(key: str) -> str:
    return key[4:] if key.startswith("mid:") else f"digest {key}"


def _same(s: Msg, d: Msg) -> bool:
    return (
        s.size == d.size
        and (_stamp(s) is None or _stamp(s) == _stamp(d))
        and set(s.flags) <= set(d.flags)
    )


def compare(source: Sequence[tuple[str, Msg]], destination: Sequence[Msg]) -> list[Problem]:
    """Every source message (folder, message) against the destination folder: present, same size,
    same internal date, and its flags set there (the destination may have more: a user who read
    a message on the new system). Duplicates are matched one to one."""
    by_key: dict[str, list[Msg]] = collections.defaultdict(list)
    for d in destination:
        by_key[d.key].append(d)
    unmatched: list[tuple[str, Msg]] = []
    for folder, s in source:
        pool = by_key.get(s.key, [])
        exact = next((i for i, d in enumerate(pool) if _same(s, d)), None)
        if exact is None:
            unmatched.append((folder, s))
        else:
            pool.pop(exact)
    problems = []
    for folder, s in unmatched:
        pool = by_key.get(s.key, [])
        if not pool:
            problems.append(Problem("missing", folder, _label(s.key)))
            continue
        d = pool.pop(0)
        if s.size != d.size:
            problems.append(
                Problem("size", folder, _label(s.key), f"source {s.size}, destination {d.size}")
            )
        elif _stamp(s) != _stamp(d):
            problems.append(
                Problem(
                    "internaldate",
                    folder,
                    _label(s.key),
                    f"source {s.internaldate}, destination {d.internaldate}",
                )
            )
        else:
            lacking = b" ".join(sorted(set(s.flags) - set(d.flags))).decode(errors="replace")
            problems.append(Problem("flags", folder, _label(s.key), f"not set: {lacking}"))
    return problems


def record_problems(fr: FolderResult, problems: Sequence[Problem]) -> None:
    fr.missing = sum(1 for p in problems if p.kind == "missing")
    fr.mismatched = len(problems) - fr.missing
    fr.problems = list(problems[:MAX_PROBLEMS])
