"""The mail-data flows of a plan, without a pack run: the policy pack's own flow functions
(rules/mailflows.py FLOWS_BY_RULE, loaded from the pack directory by path) applied to the planned
records, with the attestations and exemptions on file. So `scripts/plan` lists the same flows the
gate judges, each marked Hong Kong, attested, declared by an exemption, or what the gate would
say of it (blocked or advisory at the rule's default level); the verdict itself needs --gate,
where the policy config may set other levels."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from toolchain.engine.model import EngineError, Plan, PlannedResource
from toolchain.engine.wire import encode
from toolchain.governance import (
    DEFAULT_PACK,
    PACKAGE,
    has_records,
    hong_kong_today,
    load_exemptions,
    pack_module,
)
from toolchain.mailflows import FlowRow

NOTE = "listed from the planned records; --gate gives the verdict under the policy config"


def _pack_dir(pack_dir: str | os.PathLike[str]) -> Path:
    """A pack without the mail-flow rules (another team's, or an older copy of this one, such as
    a base branch's in CI) lists the blueprint's own flows."""
    own = Path(pack_dir) / PACKAGE / "rules" / "mailflows.py"
    if own.is_file() and "FLOWS_BY_RULE" in own.read_text(encoding="utf-8"):
        return Path(pack_dir)
    return DEFAULT_PACK


def rows(plan: Plan, pack_dir: str | os.PathLike[str]) -> list[FlowRow]:
    pack = _pack_dir(pack_dir)
    model = pack_module(pack, "model")
    rules = pack_module(pack, "rules")
    mailflows = pack_module(pack, "rules.mailflows")
    flows = pack_module(pack, "flows")
    approvals = pack_module(pack, "approvals")
    today = hong_kong_today()
    # the exemptions of the pack the user named (check_pack_records validated them)
    exemptions = load_exemptions(pack_dir) if has_records(pack_dir) else ()

    def provider(r: PlannedResource) -> Any:
        p = plan.provider_of(r)
        return None if p is None else model.ProviderRef(p.urn, p.type, p.name, encode(p.inputs))

    def resource(r: PlannedResource) -> Any:
        deps = {k: list(v) for k, v in r.property_dependencies.items()}
        inputs = encode(r.inputs)
        return model.Resource(
            r.urn, r.type, r.name, inputs, r.options.protect, provider(r), r.parent, deps
        )

    stack = tuple(resource(r) for r in plan.resources)
    out: list[FlowRow] = []
    for rule_id, flows_of in mailflows.FLOWS_BY_RULE.items():
        rule = rules.RULES_BY_ID[rule_id]
        ctx = model.Context(config=rule.defaults(), today=today, stack=stack)
        for res in stack:
            if not rule.judges(res.type, ctx.config):
                continue
            found = flows_of(res, ctx)
            if not found:
                continue
            try:
                declared = mailflows.declarations_for(res)
            except approvals.RecordError as exc:
                raise EngineError(f"attestations: {exc}") from None
            for flow in found:
                j = flows.judge(flow, declared, today)
                out.append(_row(rule, res, flow, j, declared, exemptions, today))
    return out


def _row(
    rule: Any, res: Any, flow: Any, j: Any, declared: Any, exemptions: Any, today: Any
) -> FlowRow:
    status, by, blocking, undeclared = "Hong Kong", "", False, False
    if j.verdict == "declared":
        # short: who confirmed it and the document are in the attestations file and the gate
        by = str(j.declared_by)
        att = next(a for a in declared.attestations if by == f"attestation {a.id}")
        example = "; EXAMPLE, replace with your own evidence" if "EXAMPLE" in att.document else ""
        status = f"attested ({by}): Hong Kong storage until {att.expires.isoformat()}{example}"
    elif j.blocking:
        exempt = next(
            (
                e
                for e in exemptions
                if e.matches(rule.id, res.urn, res.type, res.name) and not e.expired(today)
            ),
            None,
        )
        if exempt is not None:
            by = f"exemption {exempt.id}"
            status = (
                f"declared cross-border by exemption {exempt.id} until "
                f"{exempt.expires.isoformat()} ({exempt.reference})"
            )
        elif rule.enforcement == "mandatory":
            status, blocking, undeclared = _would("BLOCK"), True, True
        else:
            status, undeclared = _would("report as advisory"), True
    return FlowRow(
        rule.id,
        flow.kind,
        flow.data,
        flow.source.shown(),
        flow.destination.shown(),
        flow.via,
        status,
        blocking,
        undeclared,
        by,
    )


def _would(what: str) -> str:
    return f"not Hong Kong or not published, and not declared: the gate would {what} it"
