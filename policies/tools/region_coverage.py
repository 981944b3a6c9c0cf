"""Generate the pack's region-property map from the installed provider SDKs.

The pack must not import the ~300MB SDKs at runtime, so this script reads their source with
`ast` (no import), finds every resource type token (`super(...).__init__('<token>', ...)`), walks
the resource's `*Args` input type and the nested `*Args` types in `_inputs.py`, and records every
property path whose engine name (the `@pulumi.getter(name=...)` camelCase name) carries a region
or a zone. The result is committed as `hkmail_policy/region_properties.json`; a test regenerates
it and fails if the committed file is stale.

    python policies/tools/region_coverage.py            # rewrite the data file, print coverage
    python policies/tools/region_coverage.py --check    # exit 1 if the data file is stale
    python policies/tools/region_coverage.py --report   # coverage report only (all paths)
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import json
import re
import sys
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TextIO

SDKS = {"pulumi_alicloud": "alicloud", "tencentcloud_iac_pulumi": "tencentcloud"}
DATA_FILE = Path(__file__).resolve().parent.parent / "hkmail_policy" / "region_properties.json"

# A segment (camelCase engine name) is region-bearing when it names a region or a zone.
REGION_WORD = re.compile(r"(?i)region|zone")
# ...unless it is one of these, which name something else that merely contains the word:
# time zones, DNS zones (Alidns/PrivateZone/DNSPod zone names and ids), zone *counts*/flags.
NOT_GEOGRAPHIC = re.compile(
    r"(?i)^(time_?zone\w*|timezone\w*|\w*TimeZone\w*|zoneName|zoneNames|zoneId(s)?OfDns|"
    r"hostedZone\w*|dnsZone\w*|privateZone\w*|pvtzZone\w*|zoneType|zoneCount|zoneTag\w*|"
    r"multiZone\w*|isMultiZone\w*|multiAz|zoneRule\w*|zoneStatus|zoneStr|zoneDomain\w*|"
    r"\w*TZone|regionType|regionBlock\w*|\w*(Count|Period|Bandwidth|Enabled|Enable|Flag|VpcId|Policy))$"
)
# Modules whose `zone*` properties are DNS/edge zones, not availability zones.
DNS_ZONE_MODULES = re.compile(r"(?i)^(pvtz|dns|alidns\w*|privatedns|dnspod|teo|esa|subdomain)$")
# Paths whose value holds a region inside another value (an OSS location `oss-cn-hangzhou`, a COS
# bucket id `qcs::cos:<region>::<bucket>`): not region-named, so listed here as copy targets.
VALUE_COPY_TARGETS: dict[str, list[str]] = {
    "alicloud:oss/bucketReplication:BucketReplication": ["destination.location"],
    "alicloud:oss/bucket:Bucket": [],
    "tencentcloud:Cos/bucket:Bucket": ["replicaRules[].destinationBucket"],
}
MAX_DEPTH = 6
# type token -> region path -> (the property's docstring, its scalar kind)
RegionDocs = dict[str, dict[str, tuple[str, str]]]

# The pack's own classifier (placement vs copy target), so the report matches what rules do.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from hkmail_policy.coverage import is_copy_target  # noqa: E402


@dataclass
class ArgsClass:
    # engine name -> (nested Args class name or None, is_list, scalar kind: str/int/bool/other,
    # is a map, the property's docstring)
    props: dict[str, tuple[str | None, bool, str, bool, str]] = field(default_factory=dict)


def _getter_name(func: ast.FunctionDef) -> str | None:
    """Engine name of a `@pulumi.getter`-decorated property, or None if not a getter."""
    for dec in func.decorator_list:
        target = dec.func if isinstance(dec, ast.Call) else dec
        if isinstance(target, ast.Attribute) and target.attr == "getter":
            if isinstance(dec, ast.Call):
                for kw in dec.keywords:
                    if kw.arg == "name" and isinstance(kw.value, ast.Constant):
                        return str(kw.value.value)
            return func.name
    return None


def _nested(annotation: ast.expr | None) -> tuple[str | None, bool, str, bool]:
    """(nested Args class, is a list, scalar kind, is a map of names to values)."""
    if annotation is None:
        return None, False, "other", False
    text = ast.unparse(annotation)
    names = re.findall(r"'(\w+Args)'", text)
    is_list = "Sequence[" in text or "List[" in text
    kind = next((k for k in ("bool", "int", "str") if f"_builtins.{k}" in text), "other")
    is_map = not is_list and re.search(r"\bMapping\[", text) is not None
    return (names[0] if names else None), is_list, kind, is_map


def _read_args_classes(tree: ast.Module) -> dict[str, ArgsClass]:
    out: dict[str, ArgsClass] = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name.endswith("Args"):
            cls = ArgsClass()
            for item in node.body:
                if isinstance(item, ast.FunctionDef):
                    name = _getter_name(item)
                    if name is not None and name not in cls.props:
                        doc = ast.get_docstring(item) or ""
                        cls.props[name] = (*_nested(item.returns), doc)
            out[node.name] = cls
    return out


def _resource_tokens(tree: ast.Module) -> dict[str, str]:
    """Class name -> type token for every resource class in a module."""
    out: dict[str, str] = {}
    for node in tree.body:
        if not isinstance(node, ast.ClassDef):
            continue
        for sub in ast.walk(node):
            if (
                isinstance(sub, ast.Call)
                and isinstance(sub.func, ast.Attribute)
                and sub.func.attr == "__init__"
                and isinstance(sub.func.value, ast.Call)
                and isinstance(sub.func.value.func, ast.Name)
                and sub.func.value.func.id == "super"
                and sub.args
                and isinstance(sub.args[0], ast.Constant)
                and isinstance(sub.args[0].value, str)
                and ":" in sub.args[0].value
            ):
                out[node.name] = sub.args[0].value
                break
    return out


def _is_region_segment(segment: str, module: str) -> bool:
    if not REGION_WORD.search(segment) or NOT_GEOGRAPHIC.match(segment):
        return False
    # DNS and edge services call their DNS zones "zone"; only their `region*` names are regions.
    return not (DNS_ZONE_MODULES.match(module) and not re.search(r"(?i)region", segment))


def _walk(
    cls_name: str,
    classes: dict[str, ArgsClass],
    prefix: str,
    module: str,
    depth: int,
    out: list[str],
    seen: tuple[str, ...],
    every: list[str],
    docs: dict[str, tuple[str, str]],
) -> int:
    """Append region-bearing paths under cls_name to out; return how many paths were visited."""
    cls = classes.get(cls_name)
    if cls is None or depth > MAX_DEPTH or cls_name in seen:
        return 0
    visited = 0
    for name, (nested, is_list, kind, is_map, doc) in cls.props.items():
        path = f"{prefix}{name}{'[]' if is_list else ''}"
        visited += 1
        # a map of names to values (environment variables, tags) is listed as `name{}`
        every.append(f"{path}{{}}" if is_map else path)
        # Booleans never hold a region; integers do as numeric zone ids (300002) and numeric
        # region ids (Cwp LicenseOrder.regionId: 1 Guangzhou, 9 Singapore).
        scalar_ok = kind in ("str", "int")
        if nested is None and scalar_ok and _is_region_segment(name, module):
            out.append(path)
            docs[path] = (doc, kind)
        elif nested is not None:
            if _is_region_segment(name, module):
                out.append(path)  # an object named "region..." is checked wholesale by value
            visited += _walk(
                nested, classes, f"{path}.", module, depth + 1, out, (*seen, cls_name), every, docs
            )
    return visited


@dataclass
class SdkCoverage:
    package: str
    resource_types: int = 0
    properties_seen: int = 0
    types_with_region: int = 0
    region_paths: int = 0
    nested_region_paths: int = 0
    copy_target_paths: int = 0


def scan_sdk(
    package: str,
) -> tuple[dict[str, list[str]], SdkCoverage, dict[str, set[str]], RegionDocs]:
    """(region paths per type, coverage numbers, every input path per type, the docstring and
    scalar kind of every region path per type)."""
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise SystemExit(f"{package} is not installed in this interpreter ({sys.executable})")
    root = Path(spec.origin).parent
    cov = SdkCoverage(package)
    result: dict[str, list[str]] = {}
    every: dict[str, set[str]] = {}
    region_docs: RegionDocs = {}
    shared = _read_args_classes(ast.parse((root / "_inputs.py").read_text()))
    for module_dir in sorted(p for p in root.iterdir() if p.is_dir() and p.name != "__pycache__"):
        classes = dict(shared)
        inputs = module_dir / "_inputs.py"
        if inputs.exists():
            classes.update(_read_args_classes(ast.parse(inputs.read_text())))
        for source in sorted(module_dir.glob("*.py")):
            if source.name.startswith(("_", "get_")):
                continue
            tree = ast.parse(source.read_text())
            tokens = _resource_tokens(tree)
            if not tokens:
                continue
            local = dict(classes)
            local.update(_read_args_classes(tree))
            for cls_name, token in tokens.items():
                cov.resource_types += 1
                paths: list[str] = []
                all_paths: list[str] = []
                docs: dict[str, tuple[str, str]] = {}
                cov.properties_seen += _walk(
                    f"{cls_name}Args", local, "", module_dir.name, 0, paths, (), all_paths, docs
                )
                if docs:
                    region_docs[token] = docs
                every[token] = set(all_paths)
                paths.extend(VALUE_COPY_TARGETS.get(token, []))
                if paths:
                    result[token] = sorted(set(paths))
    for paths in result.values():
        cov.types_with_region += 1
        cov.region_paths += len(paths)
        cov.nested_region_paths += sum(1 for p in paths if "." in p)
        cov.copy_target_paths += sum(1 for p in paths if is_copy_target(p))
    return result, cov, every, region_docs


@cache  # one SDK walk per process (~15 s); callers treat the result as read-only
def generate() -> tuple[dict[str, object], list[SdkCoverage], dict[str, set[str]]]:
    data, coverage, every, _ = generate_with_docs()
    return data, coverage, every


@cache  # the same walk also yields each region path's docstring (tools/service_defaults.py)
def generate_with_docs() -> tuple[
    dict[str, object], list[SdkCoverage], dict[str, set[str]], RegionDocs
]:
    types: dict[str, list[str]] = {}
    coverage = []
    versions: dict[str, str] = {}
    every: dict[str, set[str]] = {}
    all_docs: RegionDocs = {}
    from importlib.metadata import version

    for package in SDKS:
        found, cov, paths, docs = scan_sdk(package)
        types.update(found)
        every.update(paths)
        all_docs.update(docs)
        coverage.append(cov)
        versions[package] = version(package)
    copy_targets = sorted(
        f"{t}::{p}" for t, paths in types.items() for p in paths if is_copy_target(p)
    )
    data: dict[str, object] = {
        "generatedBy": "policies/tools/region_coverage.py",
        "sdkVersions": versions,
        "coverage": {
            c.package: {
                "resourceTypes": c.resource_types,
                "inputPropertiesWalked": c.properties_seen,
                "typesWithRegionInputs": c.types_with_region,
                "regionPaths": c.region_paths,
                "nestedRegionPaths": c.nested_region_paths,
                "copyTargetPaths": c.copy_target_paths,
            }
            for c in coverage
        },
        "types": dict(sorted(types.items())),
        "copyTargets": copy_targets,
    }
    return data, coverage, every, all_docs


def render(data: dict[str, object]) -> str:
    return json.dumps(data, indent=1, ensure_ascii=False) + "\n"


def print_coverage(coverage: list[SdkCoverage], stream: TextIO = sys.stdout) -> None:
    for c in coverage:
        print(
            f"{c.package}: {c.resource_types} resource types, {c.properties_seen} input "
            f"properties walked (incl. nested); {c.types_with_region} types carry "
            f"{c.region_paths} region/zone paths ({c.nested_region_paths} nested, "
            f"{c.copy_target_paths} copy/replication targets)",
            file=stream,
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the data file is stale")
    parser.add_argument("--report", action="store_true", help="print every path the rules see")
    args = parser.parse_args(argv)
    data, coverage, _ = generate()
    text = render(data)
    if args.report:  # every path, tab-separated, then the numbers (on stderr)
        types = data["types"]
        assert isinstance(types, dict)
        for token, paths in types.items():
            for p in paths:
                kind = "copy-target" if is_copy_target(p) else "placement"
                print(f"{token}\t{p}\t{kind}")
    if args.check or args.report:
        print_coverage(coverage, sys.stderr if args.report else sys.stdout)
        current = DATA_FILE.read_text() if DATA_FILE.exists() else ""
        if args.check and current != text:
            print(f"{DATA_FILE} is stale: run python policies/tools/region_coverage.py")
            return 1
        return 0
    DATA_FILE.write_text(text)
    print_coverage(coverage)
    print(f"wrote {DATA_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
