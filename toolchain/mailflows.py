"""The mail-data flows the policy pack judged (rules ``residency-mail-*``), as rows plans and
reports show: what moves, from where to where, and its status (blocked, attested, declared
cross-border, advisory). Read from the pack's own findings, so a report says exactly what the
gate decided, exemptions and attestations applied."""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from toolchain.gate.core import Violation

PREFIX = "residency-mail-"
# flows.Flow.describe(): "<kind> flow of <data>: <source> -> <destination> via <via> (<facts>)"
_FLOW = re.compile(
    r"(?P<kind>[\w-]+) flow of (?P<data>.+?): (?P<src>.+?) -> (?P<dst>.+?) via (?P<via>.+?) \("
)
# the pack's message may follow the rule's description (Pulumi's "description\nmessage")
_DECLARED = re.compile(r"^\[declared: (?P<by>[^\]]+)\].*: attested (?P<what>.+)$", re.M)
# a flow the stack declares cross-border (flows.judge: "cross-border to <country> declared ...")
_CROSS = re.compile(
    r"^\[declared: crossBorder (?P<by>[^\]]+)\].*: cross-border to (?P<what>.+)$", re.M
)
_EXEMPT = re.compile(r"Exempted until (?P<until>\d{4}-\d\d-\d\d) \((?P<ref>.+)\)\.?$", re.M)


@dataclass(frozen=True)
class FlowRow:
    rule: str
    kind: str
    data: str
    source: str
    destination: str
    via: str
    status: str  # "BLOCKED: ...", "attested: ...", "declared cross-border: ...", "advisory"
    blocking: bool
    needs_declaration: bool  # neither Hong Kong nor declared: the plan's "Action needed"
    # what admitted the flow: "attestation ATT-...", "crossBorder EX-...", "exemption EX-..."
    declared_by: str = ""

    def to_json(self) -> dict[str, object]:
        return {
            "rule": self.rule,
            "kind": self.kind,
            "data": self.data,
            "source": self.source,
            "destination": self.destination,
            "via": self.via,
            "status": self.status,
            "declaredBy": self.declared_by or None,
            "blocking": self.blocking,
            "needsDeclaration": self.needs_declaration,
        }


def _status(v: Violation) -> tuple[str, bool, str]:
    declared = _DECLARED.search(v.message)
    if declared:
        return f"attested ({declared['by']}): {declared['what']}", False, declared["by"]
    crossed = _CROSS.search(v.message)
    if crossed:
        by = f"crossBorder {crossed['by']}"
        return f"declared cross-border ({crossed['by']}): {crossed['what']}", False, by
    if v.exempt:
        until = _EXEMPT.search(v.message)
        when = f" until {until['until']} ({until['ref']})" if until else ""
        exemption = v.exemption.split(" ", 1)[0]  # the id (the gate may add its expiry)
        by = f"exemption {exemption}"
        return f"declared cross-border by exemption {exemption}{when}", False, by
    if v.blocking:
        return "BLOCKED: not Hong Kong or not published, and not declared", True, ""
    return "advisory: not Hong Kong or not published, and not declared", True, ""


def rows(violations: Iterable[Violation]) -> list[FlowRow]:
    out = []
    for v in violations:
        if not v.policy_name.startswith(PREFIX):
            continue
        m = _FLOW.search(v.message)
        if m is None:
            continue
        status, undeclared, by = _status(v)
        out.append(
            FlowRow(
                v.policy_name,
                m["kind"],
                m["data"],
                m["src"],
                m["dst"],
                m["via"],
                status,
                v.blocking,
                undeclared,
                by,
            )
        )
    return out


def mailbox_status(flow_rows: Iterable[FlowRow]) -> str | None:
    """One line for the hosted mailboxes box of the data-flow picture (None: no MX flow out)."""
    storage = [r for r in flow_rows if r.kind == "mail-storage"]
    if not storage:
        return None
    if any(r.blocking for r in storage):
        return "BLOCKED: location not Hong Kong / not published"
    return storage[0].status.split(":")[0]


def actions(flow_rows: Iterable[FlowRow]) -> list[str]:
    """The plan's "Action needed" items: every flow that needs an attestation or a declaration,
    and every one that relies on an example declaration."""
    items = []
    for r in flow_rows:
        if r.needs_declaration:
            items.append(
                f"Attest or declare: {r.data} go to {r.destination} ({r.via}): file the vendor's "
                "written confirmation of Hong Kong storage in policies/attestations.yaml, or a "
                "cross-border declaration (a reviewed exemption for the record)"
            )
        elif "EXAMPLE" in r.status:
            items.append(
                f"Confirm where {r.destination} keeps {r.data} ({r.via}): the declaration relied "
                "on is an EXAMPLE; replace it with your own evidence"
            )
    return items


def to_text(flow_rows: list[FlowRow], note: str = "") -> str:
    if not flow_rows:
        return ""
    lines = ["", "Mail data flows (where the mail itself goes):"]
    if note:
        lines += _wrap(f"({note})", "  ", "  ")
    for r in flow_rows:
        lines += _wrap(f"{r.data}: {r.source} -> {r.destination}", "  ", "      ")
        lines += _wrap(f"via {r.via}; {r.status}", "      ", "      ")
    todo = actions(flow_rows)
    if todo:
        lines += ["", "Action needed (mail data flows):"]
        for item in todo:
            lines += _wrap(item, "  - ", "    ")
    return "\n".join(lines) + "\n"


def to_markdown(flow_rows: list[FlowRow], escape: Callable[[str], str]) -> list[str]:
    """The gate's Markdown section: each flow and what admitted it (or that nothing did)."""
    if not flow_rows:
        return []
    lines = ["", "#### Mail data flows", "", "| Data | Destination | Via | Status |",
             "| --- | --- | --- | --- |"]  # fmt: skip
    for r in flow_rows:
        cells = (r.data, r.destination, r.via, r.status)
        lines.append("| " + " | ".join(escape(c) for c in cells) + " |")
    return lines


def _wrap(text: str, first: str, rest: str) -> list[str]:
    # the plan's text fits a 100-column terminal
    return textwrap.wrap(
        text, 100, initial_indent=first, subsequent_indent=rest, break_on_hyphens=False
    )
