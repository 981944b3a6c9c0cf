"""``--output FILE`` of the command-line tools: checked before any work, written cleanly."""

from __future__ import annotations

import os
from pathlib import Path


class OutputError(Exception):
    """``--output`` names a file that cannot be written; the message says why."""


def check_output(path: str) -> Path:
    """The file to write, or :class:`OutputError` if it cannot be: a directory, or a file in a
    directory that does not exist or is not writable. Checked before the (slow) run."""
    target = Path(path)
    if target.is_dir():
        raise OutputError(f"--output {path} is a directory; give a file name inside it")
    parent = target.parent
    if not parent.exists():
        raise OutputError(f"--output {path}: the directory {parent} does not exist")
    if not parent.is_dir():
        raise OutputError(f"--output {path}: {parent} is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK) or (
        target.exists() and not os.access(target, os.W_OK)
    ):
        raise OutputError(f"--output {path}: not writable")
    return target


def write_output(path: str, text: str) -> None:
    target = check_output(path)
    try:
        target.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise OutputError(f"--output {path}: {exc.strerror or exc}") from exc
