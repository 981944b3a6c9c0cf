"""The command line every generated table of the pack shares: write the data file, or, with
--check, fail when the committed file no longer matches what the installed SDKs give."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path


def render(data: dict[str, object]) -> str:
    return json.dumps(data, indent=1, ensure_ascii=False) + "\n"


def main(
    argv: list[str] | None,
    script: str,
    data_file: Path,
    generate: Callable[[], dict[str, object]],
    doc: str,
) -> int:
    """`script` is the generator's own file (its name goes in the stale message)."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the data file is stale")
    args = parser.parse_args(argv)
    text = render(generate())
    if args.check:
        if not data_file.exists() or data_file.read_text() != text:
            print(f"{data_file} is stale: run python policies/tools/{Path(script).name}")
            return 1
        return 0
    data_file.write_text(text)
    print(f"wrote {data_file}")
    return 0
