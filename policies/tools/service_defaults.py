"""Generate the pack's table of service defaults for region-bearing inputs from the SDK docs.

A resource that omits a region-bearing input does not stay in the provider's region when the
service has its own default: `tencentcloud.waf.LogPostClsFlow` delivers WAF logs to CLS in
`ap-shanghai` unless `cls_region` says otherwise, `tencentcloud.cwp.LicenseOrder` orders in region
1 (Guangzhou). The SDKs document these defaults in each input's docstring. This script reads, with
`ast` (no import; the same walk as `region_coverage.py`), the docstring of every region-bearing
input, extracts a documented default that is a region id, a
region group or a numeric region id, and the condition the doc attaches to it ("takes effect only
when `CertType` is set to `cas`"), and writes `hkmail_policy/service_defaults.json`. A test
regenerates it and fails if the committed file is stale.

    python policies/tools/service_defaults.py            # rewrite the data file
    python policies/tools/service_defaults.py --check    # exit 1 if the data file is stale
"""

from __future__ import annotations

import re
import sys
from importlib.metadata import version
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import generated_table  # noqa: E402
from hkmail_policy import regions  # noqa: E402
from region_coverage import SDKS, RegionDocs, generate_with_docs  # noqa: E402

DATA_FILE = HERE.parent / "hkmail_policy" / "service_defaults.json"

_Q = r"[`*'\"]*"
_TOKEN = r"(?P<v>[A-Za-z0-9][A-Za-z0-9_-]*[A-Za-z0-9]|[0-9])"
DEFAULT_PATTERNS = (
    # "Default value: `China-mainland`", "The default value is ap-shanghai", "Default is 1",
    # "default to Global", "Defaults to cn-hangzhou"
    re.compile(rf"(?i)\bdefaults?(?:\s+value)?(?:\s+(?:is|to))?\s*[:：]?\s*{_Q}{_TOKEN}{_Q}"),
    # "... and is cn-hangzhou by default"
    re.compile(rf"(?i)\bis\s+{_Q}{_TOKEN}{_Q}\s+by\s+default"),
)
CONDITION = re.compile(
    r"(?i)only\s+when\s+[`*]*(?P<k>[A-Za-z_]+)[`*]*\s+(?:is\s+(?:set\s+to\s+)?|=\s*)"
    r"[`*'\"]*(?P<v>[\w-]+)"
)


def _camel(name: str) -> str:
    if "_" in name:
        first, *rest = name.split("_")
        return first + "".join(p[:1].upper() + p[1:] for p in rest)
    return name[:1].lower() + name[1:]


def region_default(doc: str, kind: str) -> tuple[str | int, str] | None:
    """(default value, the sentence saying so) if the doc names a region-like default."""
    for pattern in DEFAULT_PATTERNS:
        for m in pattern.finditer(doc):
            v = m.group("v")
            sentence = _sentence(doc, m.start())
            if v.isdigit():
                if kind == "int":
                    return int(v), sentence
                continue
            low = v.lower()
            if (
                regions.region_of(low)
                or regions.looks_geographic(low)
                or low in (regions.REGION_GROUPS)
            ):
                return v, sentence
    return None


def _sentence(doc: str, at: int) -> str:
    dot = doc.rfind(". ", 0, at)
    start = dot + 2 if dot >= 0 else 0
    end = doc.find(". ", at)
    text = doc[start : end + 1 if end != -1 else len(doc)]
    return " ".join(text.split())


def defaults_from(docs: RegionDocs) -> dict[str, dict[str, dict[str, object]]]:
    out: dict[str, dict[str, dict[str, object]]] = {}
    for token in sorted(docs):
        for path, (doc, kind) in sorted(docs[token].items()):
            found = region_default(doc, kind)
            if found is None:
                continue
            value, sentence = found
            entry: dict[str, object] = {"default": value, "doc": sentence}
            cond = CONDITION.search(doc)
            if cond:
                entry["when"] = {_camel(cond.group("k")): cond.group("v")}
            out.setdefault(token, {})[path] = entry
    return out


def generate() -> dict[str, object]:
    """From the same SDK walk as region_coverage.py (one walk per process)."""
    _, _, _, docs = generate_with_docs()
    return {
        "generatedBy": "policies/tools/service_defaults.py",
        "sdkVersions": {p: version(p) for p in SDKS},
        "defaults": defaults_from(docs),
    }


render = generated_table.render


def main(argv: list[str] | None = None) -> int:
    return generated_table.main(argv, __file__, DATA_FILE, generate, __doc__ or "")


if __name__ == "__main__":
    sys.exit(main())
