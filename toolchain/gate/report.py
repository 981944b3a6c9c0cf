"""The gate's verdicts as text, JSON (the DESIGN.md contract), SARIF 2.1.0, JUnit XML, Markdown."""

from __future__ import annotations

import hashlib
import json
import sys
import textwrap
import xml.etree.ElementTree as ET
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from toolchain import mailflows
from toolchain.gate.core import GateResult, StackFailure, Violation, rule_pairs

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_SARIF_LEVEL = {"mandatory": "error", "remediate": "error", "advisory": "warning"}
# GitHub code scanning ranks results by this numeric property (CVSS-like)
_SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "2.0"}


def _status(v: Violation) -> str:
    if v.exempt:
        return "exempt"
    return "blocking" if v.blocking else v.enforcement_level


def lowered_note(result: GateResult) -> str:
    """What the policy config lowered, for every headline ("" when nothing)."""
    low = result.pack.lowered
    if not low:
        return ""
    each = ", ".join(
        f"{rule} {level}" + (f" under {record}" if record else "")
        for rule, _default, level, record in low
    )
    verb = "disabled" if all(x[2] == "disabled" for x in low) else "lowered"
    source = result.pack.config_name or "the policy config"
    return f"; {len(low)} rule{'s' if len(low) != 1 else ''} {verb} by {source} ({each})"


def _lowered_rules(result: GateResult) -> list[tuple[str, str]]:
    """(rule, sentence) for every rule the policy config set below its default level."""
    source = result.pack.config_name or "the policy config"
    return [
        (
            rule,
            f"{rule}: {level} (default {default}) by {source}"
            + (f", under approved record {record}" if record else ""),
        )
        for rule, default, level, record in result.pack.lowered
    ]


def _verdict(result: GateResult) -> str:
    blocking = len(result.blocking)
    if blocking:
        head = f"FAIL: {blocking} mandatory violation{'s' if blocking != 1 else ''}"
    else:
        head = "PASS: no mandatory violation"
    return head + lowered_note(result)


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


def _detail(v: Violation) -> str:
    """The violation message without the policy description the pack prepends to it."""
    msg = v.message
    if v.description and msg.startswith(v.description):
        msg = msg[len(v.description) :]
    return msg.strip() or v.description


TEXT_WIDTH = 100


def _wrapped(text: str, indent: str) -> list[str]:
    """``text`` wrapped to TEXT_WIDTH under ``indent``; a long token (a URN) is kept whole."""
    return textwrap.wrap(
        text,
        width=TEXT_WIDTH,
        initial_indent=indent,
        subsequent_indent=indent + "  ",
        break_long_words=False,
        break_on_hyphens=False,
    ) or [indent.rstrip()]


def to_text(result: GateResult) -> str:
    """The verdicts for a terminal: messages wrapped to TEXT_WIDTH columns; a heading that names
    a resource, and a URN, stay whole, to be searched for and copied."""
    lines = [
        f"Policy gate for stack {result.stack} of project {result.project} "
        f"({'deployed state' if result.mode == 'state' else 'preview under mocks'}):",
        f"policy pack {result.pack.name} {result.pack.version}, {len(result.pack.rules)} policies, "
        f"{len(result.resources)} resources analysed",
        "",
    ]
    order = {"blocking": 0, "remediate": 1, "advisory": 2, "exempt": 3, "mandatory": 0}
    for v in sorted(result.violations, key=lambda v: (order.get(_status(v), 4), v.resource_urn)):
        # the heading names the resource: kept whole, to be searched for and copied
        lines.append(f"[{_status(v)}] {v.policy_name}: {v.resource_type} {v.resource_name}")
        for line in _detail(v).splitlines():
            lines += _wrapped(line, "    ")
        if v.exempt:
            lines += _wrapped(f"exemption: {v.exemption}", "    ")
        if v.source:
            lines += _wrapped(f"declared at {v.source}", "    ")
    if not result.violations:
        lines.append("No policy violations.")
    for urn, policy in result.remediated:
        lines += _wrapped(f"[remediated] {policy}: {urn}", "")
    if result.update_only:
        lines.append("")
        lines += _wrapped(
            f"{len(result.update_only)} resource(s) registered only inside an apply() on a value "
            "unknown during preview; `pulumi preview` would not show them, the gate's update-mode "
            "pass (mock ids) found and judged them:",
            "",
        )
        lines += [f"    {urn}" for urn in result.update_only]
    lines += ["", _verdict(result)]
    return "\n".join(lines) + "\n"


def to_json(result: GateResult) -> dict[str, Any]:
    return {
        "stack": result.stack,
        "project": result.project,
        "resources": len(result.resources),
        "policyPack": result.pack.name,
        "policyPackVersion": result.pack.version,
        "mode": result.mode,
        "passed": result.exit_code == 0,
        "violations": [
            {
                "policyName": v.policy_name,
                "policyPackName": v.policy_pack_name,
                "policyPackVersion": v.policy_pack_version,
                "enforcementLevel": v.enforcement_level,
                "severity": v.severity,
                "resourceUrn": v.resource_urn,
                "resourceType": v.resource_type,
                "resourceName": v.resource_name,
                "message": v.message,
                "exempt": v.exempt,
                "exemption": v.exemption,
                "foundByUpdatePass": v.resource_urn in result.update_only,
            }
            for v in result.violations
        ],
        # each mail-data flow and what admitted it (attestation, cross-border, exemption)
        "mailFlows": [row.to_json() for row in mailflows.rows(result.violations)],
        "updateOnlyResources": list(result.update_only),
        "updatePass": result.update_pass,
        "lowered": [
            {"policyName": r, "defaultLevel": d, "enforcementLevel": lv, "record": rec}
            for r, d, lv, rec in result.pack.lowered
        ],
    }


def _relative(path: str, root: Path | None) -> str | None:
    if not path:
        return None
    p = Path(path)
    if root is None:
        return p.as_posix()
    try:
        return p.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return None


def _location(v: Violation, result: GateResult) -> dict[str, Any]:
    physical: dict[str, Any] | None = None
    if v.source and result.project_root is not None:
        file, _, line = v.source.rpartition(":")
        rel = _relative(file, result.project_root)
        if rel is not None and line.isdigit():
            physical = {
                "artifactLocation": {"uri": rel, "uriBaseId": "%SRCROOT%"},
                "region": {"startLine": int(line)},
            }
    if physical is None and result.config_file is not None:
        # the stack's config file (or, for --state, the state file), relative to the project,
        # else to the working directory (where CI checks the repository out), else absolute
        rel = _relative(str(result.config_file), result.project_root or Path.cwd())
        artifact: dict[str, Any] = (
            {"uri": rel, "uriBaseId": "%SRCROOT%"}
            if rel is not None
            else {"uri": result.config_file.resolve().as_uri()}
        )
        physical = {"artifactLocation": artifact, "region": {"startLine": 1}}
    location: dict[str, Any] = {
        "logicalLocations": [
            {"fullyQualifiedName": v.resource_urn, "name": v.resource_name, "kind": "resource"}
        ]
    }
    if physical is not None:
        location["physicalLocation"] = physical
    return location


def to_sarif(result: GateResult) -> dict[str, Any]:
    rules = list(result.pack.rules)
    index = {r.name: i for i, r in enumerate(rules)}
    sarif_rules = []
    for r in rules:
        props: dict[str, Any] = {
            "enforcementLevel": r.enforcement_level,
            "policyType": r.kind,
            "tags": ["policy", "pulumi", *r.tags],
        }
        if r.severity:
            props["severity"] = r.severity
            props["security-severity"] = _SECURITY_SEVERITY[r.severity]
        if r.framework:
            props["framework"] = r.framework
        rule: dict[str, Any] = {
            "id": r.name,
            "name": r.display_name or r.name,
            "shortDescription": {"text": _first_line(r.description) or r.name},
            "fullDescription": {"text": r.description or r.name},
            "help": {"text": r.remediation_steps or r.description or r.name},
            "defaultConfiguration": {"level": _SARIF_LEVEL.get(r.enforcement_level, "none")},
            "properties": props,
        }
        if r.url:
            rule["helpUri"] = r.url
        sarif_rules.append(rule)
    results = []
    for v in result.violations:
        entry: dict[str, Any] = {
            "ruleId": v.policy_name,
            "level": "note" if v.exempt else _SARIF_LEVEL.get(v.enforcement_level, "note"),
            "message": {"text": f"{v.resource_type} {v.resource_name}: {_detail(v)}"},
            "locations": [_location(v, result)],
            "partialFingerprints": {
                "hkmailPolicyResource/v1": hashlib.sha256(
                    f"{v.policy_name}\n{v.resource_urn}".encode()
                ).hexdigest()
            },
            "properties": {
                "enforcementLevel": v.enforcement_level,
                "severity": v.severity,
                "resourceUrn": v.resource_urn,
                "resourceType": v.resource_type,
                "policyPackName": v.policy_pack_name,
                "policyPackVersion": v.policy_pack_version,
            },
        }
        if v.policy_name in index:
            entry["ruleIndex"] = index[v.policy_name]
        if v.exempt:
            entry["suppressions"] = [
                {"kind": "external", "status": "accepted", "justification": v.exemption}
            ]
        results.append(entry)
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "hk-mail policy gate",
                "semanticVersion": result.pack.version or "0.0.0",
                "informationUri": "https://www.pulumi.com/docs/iac/using-pulumi/crossguard/",
                "rules": sarif_rules,
                "properties": {"policyPack": result.pack.name},
            }
        },
        "automationDetails": {"id": f"hk-mail-gate/{result.project}/{result.stack}/"},
        "invocations": [
            {
                "executionSuccessful": True,
                "exitCode": result.exit_code,
                # A rule the policy config lowered is a fact about this run's configuration:
                # SARIF's place for it, so a viewer shows it beside the results.
                "toolConfigurationNotifications": [
                    {"level": "warning", "descriptor": {"id": rule}, "message": {"text": text}}
                    for rule, text in _lowered_rules(result)
                ],
            }
        ],
        "results": results,
        "properties": {"verdict": _verdict(result)},
    }
    if result.project_root is not None:
        run["originalUriBaseIds"] = {"%SRCROOT%": {"uri": result.project_root.as_uri() + "/"}}
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}


def to_junit(result: GateResult) -> str:
    """One test case per (resource, rule) pair. Only what blocks (a mandatory, unexempted
    violation) is a ``<failure>``, so CI's failure count agrees with the exit code; an advisory
    finding passes, carried in ``<system-out>`` and a ``hkmail.advisory`` property; an exempt
    finding and a rule the pack did not apply are ``<skipped>``."""
    by_pair: dict[tuple[str, str], list[Violation]] = defaultdict(list)
    stack_urn = next((r.urn for r in result.resources if r.type == "pulumi:pulumi:Stack"), "stack")
    for v in result.violations:
        by_pair[(v.resource_urn, v.policy_name)].append(v)
    suite = ET.Element(
        "testsuite",
        name=f"hk-mail gate {result.project}/{result.stack} ({result.pack.name})",
    )
    counts = {"tests": 0, "failures": 0, "skipped": 0}
    # The verdict line, and every rule the policy config lowered, where CI shows the suite's
    # properties: a PASS with a rule disabled never reads as a plain PASS.
    props = ET.SubElement(suite, "properties")
    ET.SubElement(props, "property", name="hkmail.verdict", value=_verdict(result))
    for rule, text in _lowered_rules(result):
        ET.SubElement(props, "property", name=f"hkmail.lowered.{rule}", value=text)
    pairs = list(rule_pairs(result))
    seen = {(r.urn if r else stack_urn, rule) for r, rule in pairs}
    # violations reported against a resource/rule pair outside the matrix still show up
    extra = [key for key in by_pair if key not in seen]
    for resource, rule in pairs:
        urn = resource.urn if resource is not None else stack_urn
        name = resource.name if resource is not None else f"{result.project}-{result.stack}"
        rtype = resource.type if resource is not None else "pulumi:pulumi:Stack"
        _case(suite, counts, urn, name, rtype, rule, by_pair.get((urn, rule), []), result)
    for urn, rule in extra:
        parts = urn.split("::")
        rtype = parts[2].split("$")[-1] if len(parts) > 3 else ""
        _case(suite, counts, urn, parts[-1], rtype, rule, by_pair[(urn, rule)], result)
    for key, value in counts.items():
        suite.set(key, str(value))
    suite.set("errors", "0")
    root = ET.Element("testsuites")
    root.append(suite)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _case(
    suite: ET.Element,
    counts: dict[str, int],
    urn: str,
    name: str,
    rtype: str,
    rule: str,
    violations: list[Violation],
    result: GateResult,
) -> None:
    case = ET.SubElement(suite, "testcase", classname=f"{rtype}.{name}", name=rule)
    case.set("file", "")
    counts["tests"] += 1
    blocking = [v for v in violations if v.blocking]
    advisory = [v for v in violations if not v.exempt and not v.blocking]
    if advisory:  # properties first, as the JUnit schemas order a test case's children
        props = ET.SubElement(case, "properties")
        for v in advisory:
            ET.SubElement(
                props,
                "property",
                name=f"hkmail.{v.enforcement_level}",
                value=_first_line(_detail(v)),
            )
    if blocking:
        failure = ET.SubElement(
            case,
            "failure",
            message=f"{blocking[0].enforcement_level}: {_first_line(_detail(blocking[0]))}",
            type=blocking[0].enforcement_level,
        )
        failure.text = "\n\n".join(f"{urn}\n{_detail(v)}" for v in blocking)
        counts["failures"] += 1
    if advisory:
        out = ET.SubElement(case, "system-out")
        out.text = "\n\n".join(
            f"{v.enforcement_level} (does not fail the gate): {urn}\n{_detail(v)}" for v in advisory
        )
    if blocking or advisory:
        pass  # judged above; an exempt finding beside them is in the reports that list them
    elif violations:
        skipped = ET.SubElement(case, "skipped", message=f"exempt: {violations[0].exemption}")
        skipped.text = _detail(violations[0])
        counts["skipped"] += 1
    elif (urn, rule) in result.not_applicable:
        ET.SubElement(
            case, "skipped", message=f"not applicable: {result.not_applicable[(urn, rule)]}"
        )
        counts["skipped"] += 1
    source = next((v.source for v in violations if v.source), "")
    if source:
        case.set("file", source.rpartition(":")[0])
    else:
        del case.attrib["file"]


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", "<br>")


def to_markdown(result: GateResult) -> str:
    icon = "❌" if result.blocking else "✅"
    lines = [
        f"### {icon} hk-mail policy gate: `{result.project}` / `{result.stack}`",
        "",
        f"**{_verdict(result)}** — policy pack `{result.pack.name}` {result.pack.version}, "
        f"{len(result.resources)} resources, {len(result.violations)} findings "
        f"({sum(v.exempt for v in result.violations)} exempt).",
        "",
    ]
    if result.violations:
        lines += ["| Status | Policy | Resource | Message |", "| --- | --- | --- | --- |"]
        order = {"blocking": 0, "remediate": 1, "advisory": 2, "exempt": 3}
        for v in sorted(result.violations, key=lambda v: order.get(_status(v), 4)):
            msg = _detail(v)
            lines.append(
                f"| {_status(v)} | `{v.policy_name}` | `{v.resource_type}` "
                f"`{_md_escape(v.resource_name)}` | {_md_escape(msg)} |"
            )
    else:
        lines.append("No policy violations.")
    lines += mailflows.to_markdown(mailflows.rows(result.violations), _md_escape)
    if result.update_only:
        lines += [
            "",
            f"{len(result.update_only)} resource(s) were registered only inside an `apply()` on "
            "a value unknown during preview: `pulumi preview` would not show them; the gate's "
            "update-mode pass (mock ids) found and judged them.",
        ]
    return "\n".join(lines) + "\n"


def _failure_text(failure: StackFailure) -> str:
    where = f" (at {failure.error.where})" if failure.error.where else ""
    return f"{failure.error}{where}"


def render_many(results: Sequence[GateResult | StackFailure], fmt: str) -> str:
    """One report for every stack judged in one invocation. With one judged stack and no
    failure it is exactly :func:`render` (the DESIGN.md contract); with several, each format
    holds them all: JSON an object with a ``stacks`` list, SARIF one run per stack, JUnit one
    test suite per stack, text and Markdown one section per stack. A stack that could not be
    run appears as an error (and the gate exits 2)."""
    judged = [r for r in results if isinstance(r, GateResult)]
    failed = [r for r in results if isinstance(r, StackFailure)]
    if len(judged) == 1 and not failed:
        return render(judged[0], fmt)
    if fmt == "json":
        doc = {
            "project": judged[0].project if judged else "",
            "policyPack": judged[0].pack.name if judged else "",
            "passed": not failed and all(r.exit_code == 0 for r in judged),
            "stacks": [to_json(r) for r in judged],
            "errors": [{"stack": f.stack, "message": _failure_text(f)} for f in failed],
        }
        return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    if fmt == "sarif":
        runs = [to_sarif(r)["runs"][0] for r in judged]
        for f in failed:
            runs.append(
                {
                    "tool": {"driver": {"name": "hk-mail policy gate", "rules": []}},
                    "automationDetails": {"id": f"hk-mail-gate/{f.stack}/"},
                    "invocations": [
                        {
                            "executionSuccessful": False,
                            "exitCode": 2,
                            "toolExecutionNotifications": [
                                {"level": "error", "message": {"text": _failure_text(f)}}
                            ],
                        }
                    ],
                    "results": [],
                }
            )
        doc = {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": runs}
        return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    if fmt == "junit":
        root = ET.Element("testsuites")
        for r in judged:
            root.append(ET.fromstring(to_junit(r).split("?>", 1)[1])[0])
        for f in failed:
            suite = ET.SubElement(
                root, "testsuite", name=f"hk-mail gate {f.stack}", tests="1", failures="0",
                errors="1", skipped="0",
            )  # fmt: skip
            case = ET.SubElement(suite, "testcase", classname=f.stack, name="gate")
            err = ET.SubElement(case, "error", message="the gate could not run this stack")
            err.text = _failure_text(f)
        ET.indent(root)
        return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
    parts = [render(r, fmt) for r in judged]
    for f in failed:
        if fmt == "markdown":
            parts.append(
                f"### ⚠️ hk-mail policy gate: stack `{f.stack}` could not be run\n\n"
                f"{_md_escape(_failure_text(f))}\n"
            )
        else:
            parts.append(f"Stack {f.stack}: NOT RUN (failing closed): {_failure_text(f)}\n")
    return "\n".join(parts)


def summary_line(results: Sequence[GateResult | StackFailure]) -> str:
    """One line for the whole run: verdict, stacks, mandatory violations, advisory findings and
    the exemptions used."""
    judged = [r for r in results if isinstance(r, GateResult)]
    failed = len(results) - len(judged)
    violations = [v for r in judged for v in r.violations]
    mandatory = sum(v.blocking for v in violations)
    advisory = sum(not v.blocking and not v.exempt for v in violations)
    exempt = [v for v in violations if v.exempt]
    used = sorted({v.exemption.split(" ", 1)[0] for v in exempt if v.exemption})
    verdict = "NOT RUN" if failed else ("FAIL" if mandatory else "PASS")
    parts = [
        f"{len(judged)} stack{'s' if len(judged) != 1 else ''} judged"
        + (f", {failed} could not be run" if failed else ""),
        f"{mandatory} mandatory violation{'s' if mandatory != 1 else ''}",
        f"{advisory} advisory finding{'s' if advisory != 1 else ''}",
        f"{len(exempt)} exempt finding{'s' if len(exempt) != 1 else ''}"
        + (f" (exemptions used: {', '.join(used)})" if used else ""),
    ]
    return f"gate: {verdict}: " + ", ".join(parts)


def render(result: GateResult, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(to_json(result), indent=2, ensure_ascii=False) + "\n"
    if fmt == "sarif":
        return json.dumps(to_sarif(result), indent=2, ensure_ascii=False) + "\n"
    if fmt == "junit":
        return to_junit(result)
    if fmt == "markdown":
        return to_markdown(result)
    return to_text(result)


def write(text: str, output: str | None) -> None:
    if output:
        Path(output).parent.mkdir(parents=True, exist_ok=True)
        Path(output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
