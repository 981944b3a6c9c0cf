"""The evidence report's governance sections: what a reviewer files beside the verdict.

- the rules the policy config lowered, and the approved record for each;
- the full exemption register (requester, approver, approved on, reason, scope, expiry,
  reference, state, and whether this run used it);
- what this run could not see (generated from the run: rules the pack could not apply, values
  unknown offline, placement read from the environment, plan vs deployed state);
- the CI run and actor, when the report is made in CI (GitHub Actions' default variables).

Each section is (id, title, header, rows, note), rendered by toolchain/report.py."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from toolchain.engine.model import EngineError
from toolchain.gate.core import GateResult
from toolchain.governance import (
    has_records,
    hong_kong_today,
    load_exemptions,
    load_governance,
    pack_module,
)

Section = tuple[str, str, list[str], list[Sequence[str]], str]


def lowered_section(result: GateResult) -> Section:
    rows: list[Sequence[str]] = [
        (rule, default, level, record or "none needed (not a residency-* or secrets-* rule)")
        for rule, default, level, record in result.pack.lowered
    ]
    note = (
        "Every rule runs at its default level: the verdict table's Level column is the default."
        if not rows
        else f"Lowered by {result.pack.config_name or 'the policy config'}; the verdict table's "
        "Level column is the effective level. A residency-* or secrets-* rule is lowered only "
        "under an approved record in policies/downgrades.yaml."
    )
    return ("lowered", "Rules run below their default level", ["Rule", "Default", "Effective",
            "Approved record"], rows, note)  # fmt: skip


def register_section(result: GateResult, pack_dir: Path) -> Section:
    """Every exemption on file, not only those this stack used."""
    if not has_records(pack_dir):
        return ("register", "Exemption register", [], [], "The policy pack keeps no exemptions.")
    today = hong_kong_today()
    try:
        entries = load_exemptions(pack_dir, today=today)
        gov = load_governance(pack_dir) if entries else None
    except EngineError as exc:  # the gate validated the same file before it ran
        return ("register", "Exemption register", [], [], f"Not readable: {exc}")
    used = {v.exemption.split(" ", 1)[0] for v in result.violations if v.exempt}
    approvals = pack_module(pack_dir, "approvals")
    rows: list[Sequence[str]] = []
    for e in entries:
        state = approvals.status(e.approval, today, gov)
        here = "used" if e.id in used else ("not used" if e.stack == result.stack else "")
        rows.append(
            (
                e.id,
                ", ".join(e.rules),
                e.selector(),
                e.approval.requester,
                e.approver,
                str(e.approval.approved_on),
                str(e.expires),
                state,
                e.reference,
                e.approval.reason,
                here or f"other stack ({e.stack})",
            )
        )
    header = ["Id", "Rules", "Scope", "Requester", "Approver", "Approved on", "Expires", "State",
              "Reference", "Reason", "In this run"]  # fmt: skip
    note = (
        "The whole register from policies/exemptions.yaml, validated against policies/"
        "approvers.yaml (approver on the list and not the requester, lifetime within the maximum). "
        "'expiring' means within the warning period; 'not used' means no finding of this run cited "
        "it (a candidate for removal)."
    )
    return ("register", "Exemption register", header, rows, note)


def limitations_section(result: GateResult) -> Section:
    """What this run could not judge, from the run itself."""
    rows: list[Sequence[str]] = []
    for (urn, policy), why in sorted(result.not_applicable.items()):
        rows.append((policy, urn.rsplit("::", 1)[-1], f"not applied: {why}"))
    plan = result.plan
    for read in plan.env_reads if plan is not None else ():
        rows.append(
            (
                "residency-environment-placement",
                str(getattr(read, "name", read)),
                "placement read from the environment when the program ran: where it points "
                "is not known offline",
            )
        )
    if result.mode == "preview":
        rows.append(
            (
                "all rules",
                "the whole stack",
                "judged from the plan under mocks: values only a provider computes at apply "
                "(ids, endpoints, StackReference outputs) are unknown; in a region input they fail "
                "closed, elsewhere they are not judged. Drift made outside Pulumi is not seen "
                "(use --state on a pulumi stack export).",
            )
        )
    rows.append(
        (
            "residency-*",
            "hosts the pack does not know",
            "an SMTP relay, webhook or backup target given as an IP address or a third party's "
            "host is not located; content fetched at run time is not read; what a hosted suite "
            "does with data behind its API is the provider's contract",
        )
    )
    note = (
        "Generated from this run; the standing list is policies/README.md, 'What the gate "
        "cannot see offline'."
    )
    return ("limitations", "What this run could not see", ["Rule", "Where", "Why"], rows, note)


def ci_rows(env: Mapping[str, str] | None = None) -> list[tuple[str, str]]:
    """Provenance rows naming the CI run and the actor (GitHub Actions), or none outside CI."""
    env = os.environ if env is None else env
    if env.get("GITHUB_ACTIONS") != "true":
        return []
    server = env.get("GITHUB_SERVER_URL", "https://github.com")
    repo, run = env.get("GITHUB_REPOSITORY", ""), env.get("GITHUB_RUN_ID", "")
    attempt = env.get("GITHUB_RUN_ATTEMPT", "")
    return [
        (
            "CI run",
            f"{server}/{repo}/actions/runs/{run}"
            + (f" (attempt {attempt})" if attempt else "")
            + f", workflow {env.get('GITHUB_WORKFLOW', '?')}"
            + f", event {env.get('GITHUB_EVENT_NAME', '?')}",
        ),
        ("CI actor", env.get("GITHUB_ACTOR", "?")),
        ("CI commit", f"{env.get('GITHUB_SHA', '?')} ({env.get('GITHUB_REF', '?')})"),
    ]


def sections(result: GateResult, pack_dir: Path) -> list[Section]:
    return [
        lowered_section(result),
        register_section(result, pack_dir),
        limitations_section(result),
    ]
