"""A cloud-init user-data file summarised for the human plan: what it writes, installs, enables
and runs, and its digest (the file itself is 1,000+ lines; ``scripts/plan --verbose`` and
``--format json`` show it in full)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import yaml

CLOUD_CONFIG = "#cloud-config"


def is_cloud_config(text: str) -> bool:
    return text.lstrip().startswith(CLOUD_CONFIG)


def _command(entry: object) -> list[str]:
    if isinstance(entry, list):
        return [str(x) for x in entry]
    return str(entry).split()


def _services(runcmd: Sequence[object], verb: str) -> list[str]:
    """Units named by ``systemctl <verb>`` in runcmd (flags such as --now left out)."""
    out: list[str] = []
    for entry in runcmd:
        words = _command(entry)
        for i, word in enumerate(words[:-1]):
            if word == "systemctl" and words[i + 1] == verb:
                for unit in words[i + 2 :]:
                    if unit in ("&&", "||", ";"):
                        break
                    if not unit.startswith("-") and unit not in out:
                        out.append(unit)
    return out


def summary(text: str) -> list[tuple[str, str]]:
    """(label, value) lines describing the file; a file that is not valid YAML says so."""
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    head = (
        f"cloud-config, {len(text.splitlines()):,} lines, {len(text.encode('utf-8')):,} bytes, "
        f"sha256:{digest} (in full: --verbose or --format json)"
    )
    lines = [("user-data", head)]
    try:
        doc: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        return [*lines, ("not valid YAML", str(exc).splitlines()[0])]
    if not isinstance(doc, dict):
        return [*lines, ("not a mapping", "cloud-init would not read it as cloud-config")]
    packages = [str(p) for p in doc.get("packages") or []]
    files = [str(f.get("path")) for f in doc.get("write_files") or [] if isinstance(f, dict)]
    runcmd = doc.get("runcmd") or []
    if packages:
        lines.append((f"packages ({len(packages)})", ", ".join(packages)))
    if files:
        lines.append((f"files written ({len(files)})", ", ".join(files)))
    enabled = _services(runcmd, "enable")
    if enabled:
        lines.append(("services enabled", ", ".join(enabled)))
    disabled = _services(runcmd, "disable")
    if disabled:
        lines.append(("services disabled", ", ".join(disabled)))
    if runcmd:
        lines.append(("commands at first boot", str(len(runcmd))))
    mounts = [str(m[1]) for m in doc.get("mounts") or [] if isinstance(m, list) and len(m) > 1]
    if mounts:
        lines.append(("mounts", ", ".join(mounts)))
    return lines
