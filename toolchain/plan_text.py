"""The human plan (``scripts/plan``'s default ``text`` format): readable in a 100-column terminal.

Resources are grouped by mail domain (a program's output ``{"component": <urn>}`` names the
component each domain's resources sit under), DNS records are shown as records with their full
values wrapped, every other resource with its full inputs wrapped, and the plan ends with an
"Action needed" list: what a person must do that ``pulumi up`` cannot (host an MTA-STS policy,
request a PTR record, publish records by hand, take a migration step, check a warning). Cloud-init
user-data is summarised (:mod:`toolchain.userdata`) unless asked for in full.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from toolchain.engine.model import ROOT_STACK_TYPE, Plan, PlannedResource
from toolchain.engine.wire import to_display
from toolchain.userdata import is_cloud_config
from toolchain.userdata import summary as userdata_summary

WIDTH = 100
_SKIP_INPUTS = ("version", "pluginDownloadURL")


def _idn(name: str) -> str:
    if "xn--" not in name:
        return name
    try:
        import idna

        return f"{idna.decode(name)} ({name})"
    except (ImportError, ValueError, UnicodeError):
        return name


def _text(value: object) -> str:
    shown = to_display(value)
    return shown if isinstance(shown, str) else json.dumps(shown, ensure_ascii=False)


def _wrap(text: str, indent: str, first: str = "") -> list[str]:
    """``first`` then ``text`` wrapped to WIDTH, continuation lines under ``indent``; long
    tokens (keys, base64) are broken, nothing is cut off."""
    return textwrap.wrap(
        text,
        width=WIDTH,
        initial_indent=first or indent,
        subsequent_indent=indent,
        break_long_words=True,
        break_on_hyphens=False,
        drop_whitespace=True,
    ) or [first.rstrip()]


@dataclass
class _Group:
    title: str
    records: list[tuple[str, str, str]] = field(default_factory=list)  # owner, type, value
    resources: list[PlannedResource] = field(default_factory=list)


def _record_types() -> Mapping[str, object]:
    try:
        from toolchain.zone import _BY_RECORD_TYPE
    except ImportError:  # the zone export needs the mail library; other projects lack it
        return {}
    return _BY_RECORD_TYPE


def _as_record(resource: PlannedResource, profile: object) -> tuple[str, str, str] | None:
    get = resource.inputs.get
    zone = get(_camel(profile.zone_field), get(profile.zone_field))  # type: ignore[attr-defined]
    name = get(_camel(profile.name_field), get(profile.name_field))  # type: ignore[attr-defined]
    rdtype = get(_camel(profile.type_field), get(profile.type_field))  # type: ignore[attr-defined]
    if not isinstance(zone, str) or not isinstance(rdtype, str):
        return None
    value = get("value")
    if not isinstance(value, str):
        shown = "(known after apply)"
    else:
        priority = get(_camel(profile.priority_field), get(profile.priority_field))  # type: ignore[attr-defined]
        shown = f"{priority} {value}" if rdtype == "MX" and priority is not None else value
    ttl = get("ttl")
    owner = name if isinstance(name, str) and name else "@"
    return owner, f"{rdtype.ljust(5)}  {ttl if ttl is not None else '':>5}", shown


def _camel(snake: str) -> str:
    first, *rest = snake.split("_")
    return first + "".join(w.capitalize() for w in rest)


def _domain_components(plan: Plan) -> dict[str, str]:
    """component URN -> domain, from the program's outputs."""
    out: dict[str, str] = {}
    for key, value in plan.outputs.items():
        if isinstance(value, Mapping) and isinstance(value.get("component"), str):
            out[str(value["component"])] = key
    return out


def _ancestors(plan: Plan, resource: PlannedResource) -> Iterator[str]:
    parent = resource.parent
    seen = 0
    while parent and seen < 64:
        yield parent
        node = plan.by_urn(parent)
        parent = node.parent if node is not None else None
        seen += 1


def _region(plan: Plan, resource: PlannedResource) -> str:
    if resource.is_provider:
        region = resource.inputs.get("region")
        return region if isinstance(region, str) else "(unset)"
    if not resource.custom:
        return "-"
    return plan.region_of(resource) or "(unset)"


def _resource_lines(
    plan: Plan, r: PlannedResource, indent: str, verbose: bool = False
) -> list[str]:
    head = f"{r.name}{' (protected)' if r.options.protect else ''}  {r.type}"
    if r.custom:
        head += f"  {_region(plan, r)}"
    lines = _wrap(head, indent + "    ", indent)
    if r.custom:
        parts = [f"{k}={_text(v)}" for k, v in sorted(r.inputs.items()) if k not in _SKIP_INPUTS]
        for part in parts:
            key, _, text = part.partition("=")
            if "\n" in text and is_cloud_config(text) and not verbose:
                lines.append(f"{indent}    {key}=")
                for label, value in userdata_summary(text):
                    lines += _wrap(value, indent + "          ", f"{indent}        {label}: ")
            elif "\n" in text:  # a file (user-data, a policy): line by line, as written
                lines.append(f"{indent}    {key}=")
                for line in text.splitlines():
                    lines += (
                        _wrap(line, indent + "          ", indent + "        ") if line else [""]
                    )
            else:
                lines += _wrap(part, indent + "        ", indent + "    ")
    return lines


# What a plan note asks of the operator, by its wording; the order of the Action needed list.
_KINDS = ("mta-sts", "ptr", "publish", "migration", "check", "transfer")
_LABELS = {
    "publish": "Publish by hand",
    "migration": "Migration step",
    "check": "Check",
}


def _note_kind(note: str) -> str:
    if note.startswith("CROSS-BORDER"):
        return "transfer"  # listed once, from the crossBorderTransfers output
    if "PTR" in note:
        return "ptr"
    if note.startswith("MTA-STS policy of "):
        return "mta-sts"  # the same request as the policy-hosting item
    if note.startswith("MIGRATION"):
        return "migration"
    if "publish" in note.lower():
        return "publish"
    return "check"  # a warning about the stack, not a record to publish


def _actions(plan: Plan, domains: Mapping[str, str]) -> list[str]:
    items: list[tuple[int, str]] = []

    def add(kind: str, text: str) -> None:
        items.append((_KINDS.index(kind), text))

    server = plan.outputs.get("privateServer")
    server_host = server.get("hostname") if isinstance(server, Mapping) else None
    for domain in sorted(domains.values()):
        out = plan.outputs.get(domain)
        if not isinstance(out, Mapping):
            continue
        notes = [n for n in out.get("notes") or [] if isinstance(n, str)]
        policy = out.get("mtaStsPolicy")
        on_server = isinstance(server_host, str) and server_host.endswith("." + domain)
        hosted = isinstance(policy, str) and not on_server
        if hosted:
            no_host = any(_note_kind(n) == "mta-sts" for n in notes)
            add(
                "mta-sts",
                f"Host the MTA-STS policy of {_idn(domain)} at https://mta-sts.{domain}"
                "/.well-known/mta-sts.txt (HTTPS, a certificate for that name)"
                + ("; set mtaSts.policyHost to publish the mta-sts host record" if no_host else "")
                + ", exactly:\n"
                + "\n".join("      " + line for line in str(policy).strip().splitlines()),
            )
        for note in notes:
            kind = _note_kind(note)
            text = note.removeprefix(f"{domain}: ")
            if kind == "transfer" or (kind == "mta-sts" and hosted):
                continue
            if kind == "ptr":
                ptr = server.get("ptrRecord") if isinstance(server, Mapping) else None
                shown = ptr if isinstance(ptr, str) and ptr != "[unknown]" else None
                add(
                    "ptr",
                    "Request the PTR record from the cloud provider (reverse DNS of the "
                    "server's public IP): " + (shown or note.split(": ", 1)[-1]),
                )
            else:
                label = _LABELS.get(kind, "Publish by hand")
                add(kind if kind in _LABELS else "publish", f"{label} ({_idn(domain)}): {text}")
    transfers = plan.outputs.get("crossBorderTransfers")
    for transfer in transfers if isinstance(transfers, list) else []:
        if isinstance(transfer, str):
            add("transfer", f"Keep on file (cross-border transfer): {transfer}")
    return [text for _, text in sorted(items, key=lambda item: item[0])]


def to_text(plan: Plan, verbose: bool = False) -> str:
    """The human plan; cloud-init user-data is summarised unless ``verbose``."""
    domains = _domain_components(plan)
    record_types = _record_types()
    groups: dict[str, _Group] = {urn: _Group(d) for urn, d in domains.items()}
    providers: list[PlannedResource] = []
    other = _Group("Other resources")
    for r in plan.resources:
        if r.type == ROOT_STACK_TYPE or r.urn in groups:
            continue
        if r.is_provider:
            providers.append(r)
            continue
        group = next((groups[a] for a in _ancestors(plan, r) if a in groups), other)
        profile = record_types.get(r.type)
        record = _as_record(r, profile) if profile is not None and group is not other else None
        if record is not None:
            group.records.append(record)
        else:
            group.resources.append(r)

    custom = sum(1 for r in plan.resources if r.custom)
    lines = [
        f"Plan for stack {plan.stack} of project {plan.project}:",
        f"{len(plan.resources)} resources ({custom} custom, including providers).",
    ]
    if providers:
        lines += ["", "Providers"]
        for p in providers:
            lines += _resource_lines(plan, p, "  ", verbose)
    for group in sorted(groups.values(), key=lambda g: g.title):
        lines += ["", f"Domain {_idn(group.title)}"]
        if group.records:
            lines.append("  DNS records" + " " * 16 + "(owner, type, TTL, value)")
            width = min(28, max(len(o) for o, _, _ in group.records))
            for owner, rdtype, value in group.records:
                first = f"    {owner.ljust(width)}  {rdtype}  "
                lines += _wrap(value, " " * len(first), first)
        if group.resources:
            lines.append("  Resources")
            for r in group.resources:
                lines += _resource_lines(plan, r, "    ", verbose)
    if other.resources:
        lines += ["", other.title]
        for r in other.resources:
            lines += _resource_lines(plan, r, "  ", verbose)
    rest = {
        k: v
        for k, v in sorted(plan.outputs.items())
        if k not in domains.values() and k not in ("crossBorderTransfers", "privateServer")
    }
    if rest:
        lines += ["", "Outputs:"]
        for key, shown in rest.items():
            lines += _wrap(f"{key}: {_text(shown)}", "      ", "  ")
    actions = _actions(plan, domains)
    if actions:
        lines += ["", "Action needed"]
        for i, item in enumerate(actions, 1):
            head, *body = item.split("\n")
            lines += _wrap(head, "     ", f"  {i}. ")
            lines += body
    return "\n".join(lines) + "\n"
