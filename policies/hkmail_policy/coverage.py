"""Loads the region-property map generated from the SDKs (tools/region_coverage.py)."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

DATA_FILE = Path(__file__).with_name("region_properties.json")
# Same classification as tools/region_coverage.py: a path is a copy target (replication, backup
# copy, log shipping) when one of its segments says so.
_COPY_WORD = re.compile(
    r"(?i)copy|replica|replicat|backup|destination|dest[A-Z]|^dest|target|deliver|cross|"
    r"sync|standby|secondary|disaster|dr[A-Z]|^dr|peer|remote|dst"
)


def is_copy_target(path: str) -> bool:
    return any(_COPY_WORD.search(seg.rstrip("[]")) for seg in path.split("."))


@cache
def region_paths() -> dict[str, tuple[str, ...]]:
    data = json.loads(DATA_FILE.read_text())
    return {t: tuple(paths) for t, paths in data["types"].items()}


@cache
def placement_paths(type_token: str) -> tuple[str, ...]:
    return tuple(p for p in region_paths().get(type_token, ()) if not is_copy_target(p))


@cache
def copy_target_paths(type_token: str) -> tuple[str, ...]:
    return tuple(p for p in region_paths().get(type_token, ()) if is_copy_target(p))
