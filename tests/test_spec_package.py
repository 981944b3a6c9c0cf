"""The spec package's shape: one module per section, imported one way (no cycles)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SPEC = REPO / "components" / "hkmail" / "spec"


def _hkmail_imports(path: Path) -> list[tuple[str, bool]]:
    """(module, at top level) for every ``hkmail.*`` import in ``path``."""
    tree = ast.parse(path.read_text())
    top = {id(node) for node in tree.body}
    return [
        (node.module, id(node) in top)
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("hkmail")
    ]


def test_sections_import_each_other_at_top_level_only_and_never_the_old_modules() -> None:
    # A function-local import was how spec.py and checks.py hid their cycle; none is needed now.
    offenders = [
        f"{p.name}: {module}"
        for p in sorted(SPEC.glob("*.py"))
        for module, top_level in _hkmail_imports(p)
        if not top_level or module == "hkmail.checks"
    ]
    assert offenders == []


SECTIONS = sorted(p.stem for p in SPEC.glob("*.py") if p.stem != "__init__")


@pytest.mark.parametrize("module", SECTIONS)
def test_each_section_imports_first_in_a_fresh_interpreter(module: str) -> None:
    # Imported first, a module inside a cycle finds its partner half-initialised and fails.
    run = subprocess.run(
        [sys.executable, "-c", f"import hkmail.spec.{module}"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr


def test_the_old_checks_module_still_imports_first() -> None:
    run = subprocess.run(
        [sys.executable, "-c", "import hkmail.checks as c; print(c.stack_checks.__module__)"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "hkmail.spec.checks"
