"""``scripts/exemption``: write, list and check exemptions (policies/exemptions.yaml).

- ``new --stack S``: run the gate on the stack and print one entry per blocking finding's rule and
  resource type, scoped to that stack, for a person to complete (requester, approver from the
  approvers' list, approvedOn, reason, reference). The placeholders fail validation on purpose.
- ``status``: every entry with its approver, dates and state (current, expiring, expired); with
  ``--stack``/``--all-stacks`` the gate runs and entries no finding used are listed as unused.
- ``check-reviews``: in CI, every entry added or changed against the base branch's file must be
  approved (an approving review on the pull request) by its approver's GitHub login.

Exit 0: done (for ``status``: nothing expired or unused); 1: ``status`` found expired or unused
entries, or ``check-reviews`` found an entry its approver did not approve; 2: bad input.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

from toolchain.engine.model import EngineError
from toolchain.governance import (
    exemptions_file,
    hong_kong_today,
    load_exemptions,
    load_governance,
    pack_module,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
PLACEHOLDER = "<{}>"


def _gate(args: argparse.Namespace, stacks: list[str]) -> list[Any]:
    from toolchain.gate.cli import _all_stacks
    from toolchain.gate.core import GateResult, run_gates

    if args.all_stacks:
        stacks = stacks + [s for s in _all_stacks(args.project) if s not in stacks]
    results = run_gates(args.project, stacks, args.policy_pack, timeout=args.timeout)
    failed = [r for r in results if not isinstance(r, GateResult)]
    if failed:
        raise EngineError("; ".join(f"stack {f.stack}: {f.error}" for f in failed))
    return results


def new_entries(results: Sequence[Any], taken: set[str], approvers: str, lifetime: int) -> str:
    """YAML entries for every blocking finding, grouped by (stack, resource type, rules)."""
    today = hong_kong_today()
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for result in results:
        for v in result.blocking:
            g = groups.setdefault(
                (result.stack, v.resource_type),
                {"rules": [], "names": [], "why": []},
            )
            if v.policy_name not in g["rules"]:
                g["rules"].append(v.policy_name)
            if v.resource_name not in g["names"]:
                g["names"].append(v.resource_name)
            g["why"].append(f"{v.policy_name} on {v.resource_name}")
    if not groups:
        return "# no blocking finding: this stack needs no exemption\n"
    out = [
        "# Complete every <...>, have the approver review it, then add it under `exemptions:` in",
        "# policies/exemptions.yaml (format: policies/README.md#exemptions). Narrow `name` to the",
        "# resources the decision covers.",
    ]
    ids = set(taken)
    for (stack, type_), g in sorted(groups.items()):
        ex_id = next(
            f"EX-{today.year}-{i:03d}"
            for i in range(1, 1000)
            if f"EX-{today.year}-{i:03d}" not in ids
        )
        ids.add(ex_id)
        names = g["names"]
        entry: dict[str, Any] = {
            "id": ex_id,
            "rule": g["rules"] if len(g["rules"]) > 1 else g["rules"][0],
            "resources": {
                "stack": stack,
                "types": [type_],
                **({"name": names[0]} if len(names) == 1 else {}),
            },
            "requester": PLACEHOLDER.format("your address"),
            "approver": PLACEHOLDER.format(f"one of: {approvers}"),
            "approvedOn": PLACEHOLDER.format("YYYY-MM-DD, the day it is approved"),
            "reason": PLACEHOLDER.format("why this is acceptable, and what data it concerns"),
            "reference": PLACEHOLDER.format("ticket or contract id, e.g. SEC-1234"),
            "expires": PLACEHOLDER.format(
                f"YYYY-MM-DD, at most {lifetime} months after approvedOn, e.g. "
                f"{today + timedelta(days=90)}"
            ),
        }
        out.append(f"# covers: {'; '.join(g['why'][:5])}" + (" ..." if len(g["why"]) > 5 else ""))
        dumped = yaml.safe_dump([entry], sort_keys=False, allow_unicode=True, width=100)
        out.append(dumped.rstrip())
    return "\n".join(out) + "\n"


def cmd_new(args: argparse.Namespace) -> int:
    exemptions = load_exemptions(args.policy_pack)
    gov = load_governance(args.policy_pack)
    results = _gate(args, list(args.stack))
    taken = {e.id for e in exemptions}
    sys.stdout.write(new_entries(results, taken, gov.approver_list(), gov.max_lifetime_months))
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    exemptions = load_exemptions(args.policy_pack)
    approvals = pack_module(args.policy_pack, "approvals")
    gov = load_governance(args.policy_pack)
    today = hong_kong_today()
    used: set[str] | None = None
    stacks: set[str] = set()
    if args.stack or args.all_stacks:
        results = _gate(args, list(args.stack))
        used = {v.exemption.split(" ", 1)[0] for r in results for v in r.violations if v.exempt}
        stacks = {r.stack for r in results}
    problems = 0
    for e in exemptions:
        state = approvals.status(e.approval, today, gov)
        if state == "expired":
            problems += 1
            state = f"EXPIRED on {e.expires}"
        elif state == "expiring":
            state = f"expires in {e.approval.days_left(today)} days ({e.expires})"
        else:
            state = f"current until {e.expires}"
        if used is not None and e.stack in stacks and e.id not in used:
            problems += 1
            state += "; UNUSED (no finding in the gate run cited it)"
        print(
            f"{e.id}  stack {e.stack}  rules {', '.join(e.rules)}  requested by "
            f"{e.approval.requester}, approved by {e.approver} on {e.approval.approved_on}  "
            f"{e.reference}  {state}"
        )
    if not exemptions:
        print("no exemptions on file")
    return 1 if problems else 0


def cmd_check_reviews(args: argparse.Namespace) -> int:
    file = Path(args.file) if args.file else exemptions_file(args.policy_pack)
    exemptions = load_exemptions(args.policy_pack, file=file)
    approvals = pack_module(args.policy_pack, "approvals")
    gov = load_governance(args.policy_pack)
    base: dict[str, Any] = {}
    if args.base:
        try:
            doc = yaml.safe_load(Path(args.base).read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise EngineError(f"--base {args.base}: cannot read it: {exc}") from None
        base = {str(e.get("id")): e for e in doc.get("exemptions") or [] if isinstance(e, dict)}
    current = yaml.safe_load(file.read_text(encoding="utf-8"))
    raw = {e["id"]: e for e in current.get("exemptions") or []}
    changed = [(e.id, e.approval) for e in exemptions if base.get(e.id) != raw.get(e.id)]
    logins = [x.strip() for x in args.approved_by.split(",") if x.strip()]
    problems = approvals.check_reviewers(changed, gov, logins)
    for p in problems:
        print(f"error: {p}", file=sys.stderr)
    print(
        f"exemption: {len(changed)} added or changed, {len(problems)} lack their approver's review"
    )
    return 1 if problems else 0


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="scripts/exemption",
        description="Write, list and check policy exemptions (policies/exemptions.yaml).",
    )
    ap.add_argument("--project", default=str(REPO_ROOT), help="Pulumi project directory")
    ap.add_argument(
        "--policy-pack",
        default=str(REPO_ROOT / "policies"),
        help="policy pack directory (its exemptions.yaml and approvers.yaml)",
    )
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds each program may run")
    sub = ap.add_subparsers(dest="command", required=True)
    new = sub.add_parser("new", help="print entries for a stack's blocking findings")
    new.add_argument("--stack", action="append", default=[], required=True, help="stack name")
    new.set_defaults(run=cmd_new, all_stacks=False)
    status = sub.add_parser("status", help="list entries: expired, expiring soon, unused")
    status.add_argument("--stack", action="append", default=[], help="judge these stacks")
    status.add_argument("--all-stacks", action="store_true", help="judge every stack")
    status.set_defaults(run=cmd_status)
    reviews = sub.add_parser(
        "check-reviews", help="CI: changed entries are approved by their approver's review"
    )
    reviews.add_argument(
        "--file",
        help="the exemptions file to check (a pull request's), judged with --policy-pack's "
        "module and approvers (default: the pack's own exemptions.yaml)",
    )
    reviews.add_argument("--base", help="the base branch's exemptions.yaml (omit: all entries)")
    reviews.add_argument(
        "--approved-by",
        required=True,
        help="GitHub logins with an approving review, comma-separated",
    )
    reviews.set_defaults(run=cmd_check_reviews)
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        code: int = args.run(args)
    except EngineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main())
