"""The policy pack's own record validation (hkmail_policy.exemptions / .approvals), loaded from
the pack directory being used, so that plan, gate and the pack judge an exemptions file with the
same code; in CI that is the base branch's pack, not the pull request's.

The pack knows nothing of the toolchain: this module imports the pack's pure modules by path."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

from toolchain.engine.model import EngineError

PACKAGE = "hkmail_policy"
EXEMPTIONS_ENV = "HKMAIL_EXEMPTIONS_FILE"
APPROVERS_ENV = "HKMAIL_APPROVERS_FILE"
DOWNGRADES_ENV = "HKMAIL_DOWNGRADES_FILE"
#: the blueprint's own pack: its record validation guards the gate's own rules for any pack
DEFAULT_PACK = Path(__file__).resolve().parents[1] / "policies"


def hong_kong_today() -> date:
    """Exemption dates are Hong Kong calendar days (as in the pack)."""
    return (datetime.now(UTC) + timedelta(hours=8)).date()


def has_records(pack_dir: str | os.PathLike[str]) -> bool:
    return (Path(pack_dir) / PACKAGE / "exemptions.py").is_file()


def pack_module(pack_dir: str | os.PathLike[str], name: str) -> ModuleType:
    """``hkmail_policy.<name>`` of this pack directory, under a name of its own (two pack
    directories, e.g. the base branch's and the pull request's, never share modules)."""
    root = (Path(pack_dir) / PACKAGE).resolve()
    alias = f"_hkmail_pack_{hashlib.sha256(str(root).encode()).hexdigest()[:12]}"
    if alias not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            alias, root / "__init__.py", submodule_search_locations=[str(root)]
        )
        if spec is None or spec.loader is None:
            raise EngineError(f"no policy package in {root}", str(root))
        module = importlib.util.module_from_spec(spec)
        sys.modules[alias] = module
        spec.loader.exec_module(module)
    return importlib.import_module(f"{alias}.{name}")


def exemptions_file(pack_dir: str | os.PathLike[str], pass_env: Sequence[str] = ()) -> Path:
    """The file the pack will read: HKMAIL_EXEMPTIONS_FILE when it is passed to the pack, else
    the pack directory's exemptions.yaml."""
    if EXEMPTIONS_ENV in pass_env and os.environ.get(EXEMPTIONS_ENV):
        return Path(os.environ[EXEMPTIONS_ENV])
    return Path(pack_dir) / "exemptions.yaml"


def load_exemptions(
    pack_dir: str | os.PathLike[str],
    pass_env: Sequence[str] = (),
    today: date | None = None,
    file: Path | None = None,
) -> tuple[Any, ...]:
    """Every exemption, validated by the pack's module; a bad file is an EngineError naming the
    file, the entry and the field (the tools exit 2). ``file``: another exemptions file (a pull
    request's), judged with this pack's module and approvers."""
    ex = pack_module(pack_dir, "exemptions")
    rules = pack_module(pack_dir, "rules")
    path = file or exemptions_file(pack_dir, pass_env)
    if not path.is_file():
        if file is not None:
            raise EngineError(f"exemptions: {file}: no such file")
        return ()
    approvers = exemptions_file(pack_dir, pass_env).parent / "approvers.yaml"
    if APPROVERS_ENV in pass_env and os.environ.get(APPROVERS_ENV):  # as the pack will see it
        approvers = Path(os.environ[APPROVERS_ENV])
    try:
        return tuple(ex.load(set(rules.RULES_BY_ID), path, today or hong_kong_today(), approvers))
    except ex.ExemptionsError as exc:
        raise EngineError(f"exemptions: {exc}") from None


def load_governance(pack_dir: str | os.PathLike[str], pass_env: Sequence[str] = ()) -> Any:
    """The approvers file beside the pack's exemptions file, validated (EngineError if bad)."""
    approvals = pack_module(pack_dir, "approvals")
    path = exemptions_file(pack_dir, pass_env).parent / "approvers.yaml"
    if APPROVERS_ENV in pass_env and os.environ.get(APPROVERS_ENV):
        path = Path(os.environ[APPROVERS_ENV])
    try:
        return approvals.load_governance(path)
    except approvals.RecordError as exc:
        raise EngineError(f"approvers: {exc}") from None


def check_downgrades(
    pack_dir: str | os.PathLike[str],
    levels: dict[str, str],
    defaults: dict[str, str],
    source: str,
    pass_env: Sequence[str] = (),
    gate_rules: Sequence[str] = (),
) -> tuple[tuple[str, str, str, str], ...]:
    """The rules a policy config lowers, each (rule, default, level, record id); a residency-* or
    secrets-* rule lowered without a current downgrade record is an EngineError (exit 2).

    Guarded: the hk-mail pack's rules and the gate's own (``gate_rules``). Another pack's rules
    (a pack without hkmail_policy/downgrades.py) are counted, not guarded: its records are not
    ours to read."""
    ours = (Path(pack_dir) / PACKAGE / "downgrades.py").is_file()
    dg = pack_module(pack_dir if ours else DEFAULT_PACK, "downgrades")
    judged = {k: v for k, v in levels.items() if ours or k in gate_rules}
    path = Path(pack_dir) / "downgrades.yaml"
    if DOWNGRADES_ENV in pass_env and os.environ.get(DOWNGRADES_ENV):
        path = Path(os.environ[DOWNGRADES_ENV])
    today = hong_kong_today()
    try:
        records = dg.load(path, today)
    except dg.RecordError as exc:
        raise EngineError(f"downgrades: {exc}") from None
    problems, lowered = dg.judge(judged, defaults, records, today, source, str(path))
    if problems:
        raise EngineError("policy config lowers a rule without approval: " + "; ".join(problems))
    others = [
        (r, defaults[r], lv, "")
        for r, lv in sorted(levels.items())
        if r not in judged and r in defaults and dg.RANK.get(lv, 2) < dg.RANK.get(defaults[r], 2)
    ]
    return tuple([(x.rule, x.default, x.level, x.record) for x in lowered] + others)


def check_pack_records(pack_dir: str | os.PathLike[str], pass_env: Sequence[str] = ()) -> None:
    """Before the pack starts: its exemptions file (and approvers file) must be valid."""
    if has_records(pack_dir):
        load_exemptions(pack_dir, pass_env)
