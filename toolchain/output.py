"""``--output FILE`` of the command-line tools: checked before any work, written cleanly."""

from __future__ import annotations

import os
from pathlib import Path


class OutputError(Exception):
    """``--output`` names a file that cannot be written; the message says why."""


def _existing_ancestor(path: Path) -> Path:
    for candidate in path.parents:
        if candidate.exists():
            return candidate
    return Path(".")


def check_output(path: str, *, flag: str = "--output ", create_dirs: bool = False) -> Path:
    """The file to write, or :class:`OutputError` if it cannot be: a directory, or a file in a
    directory that does not exist (unless ``create_dirs``: then the nearest existing ancestor
    must be a writable directory) or is not writable. Checked before the (slow) run; ``flag``
    is the option as the user typed it (``--output `` or ``--report sarif=``), so that the
    message names it."""
    target = Path(path)
    if target.is_dir():
        raise OutputError(f"{flag}{path} is a directory; give a file name inside it")
    parent = target.parent
    if not parent.exists():
        if not create_dirs:
            raise OutputError(f"{flag}{path}: the directory {parent} does not exist")
        parent = _existing_ancestor(target)
    if not parent.is_dir():
        raise OutputError(f"{flag}{path}: {parent} is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK) or (
        target.exists() and not os.access(target, os.W_OK)
    ):
        raise OutputError(f"{flag}{path}: not writable")
    return target


def write_output(path: str, text: str) -> None:
    target = check_output(path)
    try:
        target.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise OutputError(f"--output {path}: {exc.strerror or exc}") from exc


def check_output_dir(
    path: str, names: tuple[str, ...] = (), *, flag: str = "--output-dir "
) -> Path:
    """The directory to write ``names`` into, or :class:`OutputError` if it cannot be: a file,
    under a file, or not writable. A missing directory is fine (created when writing).
    Checked before the (slow) run, so a typo is exit 2, never a policy verdict."""
    target = Path(path)
    if target.exists() and not target.is_dir():
        raise OutputError(f"{flag}{path} is a file, not a directory; give a directory")
    base = target if target.exists() else _existing_ancestor(target / "x")
    if not base.is_dir():
        raise OutputError(f"{flag}{path}: {base} is not a directory")
    if not os.access(base, os.W_OK | os.X_OK):
        raise OutputError(f"{flag}{path}: {base} is not writable")
    for name in names:
        if (target / name).is_dir():
            raise OutputError(f"{flag}{path}: {target / name} is a directory, not a file")
    return target
