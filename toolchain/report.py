"""Compliance evidence for one stack, as HTML and Markdown (``scripts/report``, issue 12).

One gate run (:func:`toolchain.gate.core.run_gate`, or ``run_gate_on_state`` for ``--state``)
gives the resources and the policy verdicts; everything in the report is derived from them, the
pack's control table, the exemptions register, the gate's state/secrets placement check and the
exported deploy guardrail (bootstrap/policies). Sections: data-bearing resources (where, key,
protection, retention), cross-border transfers (destination, safeguard, exemption, expiry), policy
verdicts with the controls they serve, where the state and secrets live, the deploy guardrail,
mail authentication (SPF, DKIM, DMARC, MTA-STS) and an SVG picture of the data flows.
"""

from __future__ import annotations

import argparse
import hashlib
import html
import importlib.util
import json
import re
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

from toolchain import evidence_governance as governance_mod
from toolchain import mailflows, signature
from toolchain import report_archive as archive_mod
from toolchain.engine.model import EngineError, PlannedResource
from toolchain.gate import placement as placement_mod
from toolchain.gate.core import GateResult, Violation, run_gate, run_gate_on_state
from toolchain.gate.report import lowered_note
from toolchain.output import OutputError, check_output_dir
from toolchain.stackarg import resolve_stack

REPO_ROOT = Path(__file__).resolve().parents[1]
HK_REGIONS = frozenset({"cn-hongkong", "ap-hongkong"})
UNKNOWN_TEXT = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"  # the engine's unknown-value sentinel


# --- what is data-bearing ----------------------------------------------------------------------


@dataclass(frozen=True)
class DataKind:
    what: str
    key: tuple[str, ...]  # property paths naming the KMS key (first found wins)
    retention: tuple[str, ...] = ()  # property paths that bound how long data is kept
    versioning: str = ""  # property path of versioning


DATA_BEARING: dict[str, DataKind] = {
    "alicloud:oss/bucket:Bucket": DataKind(
        "OSS bucket",
        ("serverSideEncryptionRule.kmsMasterKeyId",),
        ("lifecycleRules",),
        "versioning.status",
    ),
    "alicloud:ecs/ecsDisk:EcsDisk": DataKind("ECS disk (mailboxes)", ("kmsKeyId",)),
    "alicloud:ecs/disk:Disk": DataKind("ECS disk", ("kmsKeyId",)),
    "alicloud:ecs/instance:Instance": DataKind("ECS instance system disk", ("systemDiskKmsKeyId",)),
    "alicloud:log/store:Store": DataKind(
        "SLS log store", ("encryptConf.userCmkInfo.cmkKeyId",), ("retentionPeriod",)
    ),
    "alicloud:kms/secret:Secret": DataKind("KMS secret", ("encryptionKeyId",)),
    "tencentcloud:Cos/bucket:Bucket": DataKind(
        "COS bucket", ("kmsId",), ("lifecycleRules",), "versioningEnable"
    ),
    "tencentcloud:Cbs/storage:Storage": DataKind("CBS disk (mailboxes)", ("kmsKeyId",)),
    "tencentcloud:Instance/instance:Instance": DataKind("CVM instance", ("dataDisks",)),
    "tencentcloud:Cls/topic:Topic": DataKind("CLS log topic", (), ("period",)),
    "tencentcloud:Ssm/secret:Secret": DataKind("SSM secret", ("kmsKeyId",)),
}
WORM_TYPES = {"alicloud:oss/bucketWorm:BucketWorm": "retentionPeriodInDays"}
SNAPSHOT_TYPES = {
    "alicloud:ecs/autoSnapshotPolicy:AutoSnapshotPolicy": "retentionDays",
    "tencentcloud:Cbs/snapshotPolicy:SnapshotPolicy": "retentionDays",
}
PUBLIC_BLOCK = "alicloud:oss/bucketPublicAccessBlock:BucketPublicAccessBlock"
RECORD_TYPES = {
    "alicloud:dns/alidnsRecord:AlidnsRecord": ("domainName", "rr", "type", "value"),
    "tencentcloud:Dnspod/record:Record": ("domain", "subDomain", "recordType", "value"),
}


def _get(obj: Mapping[str, Any], dotted: str) -> Any:
    node: Any = obj
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def _shown(value: Any) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return (
        "(known after apply)" if UNKNOWN_TEXT in text or "Unknown" in type(value).__name__ else text
    )


def _deps(r: PlannedResource) -> list[tuple[str, ...]]:
    return [tuple(r.dependencies), *r.property_dependencies.values()]


@dataclass
class Facts:
    result: GateResult
    by_urn: dict[str, PlannedResource] = field(default_factory=dict)

    resources: tuple[PlannedResource, ...] = ()

    def __post_init__(self) -> None:
        # the plan has what the gate streamed plus the outputs components registered afterwards
        plan = self.result.plan
        self.resources = tuple(plan.resources) if plan is not None else self.result.resources
        self.by_urn = {r.urn: r for r in self.resources}

    def ancestors(self, urn: str) -> list[str]:
        out, seen = [], {urn}
        parent = self.by_urn[urn].parent if urn in self.by_urn else None
        while parent and parent not in seen:
            out.append(parent)
            seen.add(parent)
            parent = self.by_urn[parent].parent if parent in self.by_urn else None
        return out

    def props(self, r: PlannedResource) -> Mapping[str, Any]:
        return r.outputs if self.result.mode == "state" and r.outputs else r.inputs

    def provider_of(self, r: PlannedResource) -> PlannedResource | None:
        if not r.provider:
            return None
        return self.by_urn.get(r.provider.rsplit("::", 1)[0])

    def region(self, r: PlannedResource) -> str:
        props = self.props(r)
        for key in ("region", "zoneId", "availabilityZone", "availability_zone"):
            value = props.get(key)
            if isinstance(value, str) and value and UNKNOWN_TEXT not in value:
                return value
        provider = self.provider_of(r)
        if provider is not None:
            value = provider.inputs.get("region")
            if isinstance(value, str) and value:
                return value
        return "unknown (no region input or provider region)"

    def named(self, urn: str) -> str:
        r = self.by_urn.get(urn)
        return f"{r.type.split(':')[-1]} '{r.name}'" if r else urn

    def snapshot_retention(self, target: PlannedResource) -> list[str]:
        """Retention days of the snapshot policies that cover ``target``: named by it directly
        (an instance's system disk policy) or tied to it by an attachment resource."""
        policies = {u for deps in _deps(target) for u in deps}
        for r in self.resources:
            if "Attachment" in r.type and any(target.urn in deps for deps in _deps(r)):
                policies.update(u for deps in _deps(r) for u in deps)
        out = []
        for urn in sorted(policies):
            p = self.by_urn.get(urn)
            if p is not None and p.type in SNAPSHOT_TYPES:
                out.append(_shown(self.props(p).get(SNAPSHOT_TYPES[p.type])))
        return out

    def referencing(self, target: PlannedResource, types: Mapping[str, str]) -> list[str]:
        out = []
        for r in self.resources:
            if r.type in types and any(target.urn in deps for deps in _deps(r)):
                out.append(f"{_shown(self.props(r).get(types[r.type]))}")
        return out


@dataclass(frozen=True)
class DataRow:
    resource: str
    kind: str
    where: str
    in_hk: bool
    key: str
    protection: str
    retention: str


def data_rows(f: Facts) -> list[DataRow]:
    rows = []
    for r in f.resources:
        kind = DATA_BEARING.get(r.type)
        if kind is None:
            continue
        props = f.props(r)
        key = ""
        for path in kind.key:
            value = _get(props, path)
            deps = r.property_dependencies.get(path.split(".")[0], ())
            dep_keys = [f.named(u) for u in deps if "kms" in u.lower() or "Kms" in u]
            if dep_keys:
                key = ", ".join(dep_keys)
            elif value not in (None, "", []):
                key = _shown(value)
            if key:
                break
        if not key and r.type == "tencentcloud:Instance/instance:Instance":
            disks = props.get("dataDisks")
            key = f"data disks: {_shown(disks)}" if disks else "no data disk declared inline"
        protection = []
        if r.options.protect:
            protection.append("protect")
        if r.options.retain_on_delete:
            protection.append("retainOnDelete")
        if kind.versioning and _get(props, kind.versioning) in ("Enabled", True):
            protection.append("versioning")
        blocked = [
            x for x in f.resources
            if x.type == PUBLIC_BLOCK and any(r.urn in d for d in _deps(x))
        ]  # fmt: skip
        if blocked:
            protection.append("public access blocked")
        acl = props.get("acl")
        if isinstance(acl, str):
            protection.append(f"acl {acl}")
        retention = []
        for path in kind.retention:
            value = _get(props, path)
            if value not in (None, "", []):
                retention.append(f"{path} {_shown(value)}")
        retention += worm_retention(f, r)
        for days in f.snapshot_retention(r):
            retention.append(f"snapshots kept {days} days")
        where = f.region(r)
        rows.append(
            DataRow(
                resource=f"{r.type} '{r.name}'",
                kind=kind.what,
                where=where,
                in_hk=any(where.startswith(hk) for hk in HK_REGIONS),
                key=key or "none (provider-managed or unencrypted)",
                protection=", ".join(protection) or "none",
                retention="; ".join(retention) or "not bounded by this stack (kept until deleted)",
            )
        )
    return rows


# Alibaba Cloud OSS API reference, InitiateBucketWorm (updated 10 Dec 2025): a retention policy
# that is not locked within 24 hours of its creation becomes invalid; CompleteBucketWorm (updated
# 9 Jun 2025): locking is irreversible. So an unlocked policy is shown as what it is.
WORM_STATUS = {
    "Locked": "locked (irreversible; the period can only be extended)",
    "InProgress": "unlocked: lapses after 24 h unless locked",
    "Expired": "expired: no longer protects the objects",
}


def worm_retention(f: Facts, target: PlannedResource) -> list[str]:
    """The OSS retention (WORM) policies on ``target``, each with its lock state: an unlocked
    policy is not shown as protection it does not give."""
    out = []
    for r in f.resources:
        if r.type not in WORM_TYPES or not any(target.urn in deps for deps in _deps(r)):
            continue
        props = f.props(r)
        days = _shown(props.get(WORM_TYPES[r.type]))
        status = props.get("status")
        state = WORM_STATUS.get(str(status)) if isinstance(status, str) else None
        if state is None:
            state = (
                f"status {_shown(status)}"
                if status is not None
                else "lock state not declared: lapses after 24 h unless locked"
            )
        out.append(f"WORM {days} days, {state}")
    return out


# --- cross-border transfers -----------------------------------------------------------------------


@dataclass(frozen=True)
class Transfer:
    resource: str
    destination: str
    basis: str  # the transfer safeguard the stack declares (there is no statutory "legal basis")
    exemption: str
    expires: str
    status: str
    rule: str = ""  # the pack rule of an undeclared finding ("" for a component's statement)


def load_exemptions(pack_dir: Path) -> dict[str, Mapping[str, Any]]:
    path = pack_dir / "exemptions.yaml"
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return {}
    entries = doc.get("exemptions") if isinstance(doc, Mapping) else None
    return {str(e.get("id")): e for e in entries or [] if isinstance(e, Mapping)}


#: the pack rule whose findings are the notify rules' flows (drawn one box each)
NOTIFY_RULE = "residency-mail-notify"
_REGION_IN_MESSAGE = re.compile(r"(?:region|in) (?:= )?'([a-z]{2}-[a-z0-9-]+)'")


def _status(vs: Sequence[Violation], declared: bool) -> str:
    if any(v.blocking for v in vs):
        return "BLOCKED"
    if vs and all(v.exempt for v in vs if v.policy_name.startswith("residency-")):
        return "exempt (allowed by a reviewed exemption)"
    return "declared" if declared else "advisory"


def transfers(f: Facts, exemptions: Mapping[str, Mapping[str, Any]]) -> list[Transfer]:
    """Declared transfers (components that register a ``crossBorder`` statement), then every
    other residency finding (an undeclared transfer: blocked, or exempt), then state/secrets
    kept outside Hong Kong."""
    out: list[Transfer] = []
    residency = [
        v
        for v in f.result.violations
        if v.policy_name.startswith("residency-") and v.policy_name not in placement_mod.RULES
    ]
    covered: set[int] = set()
    for r in f.resources:
        statement = r.outputs.get("crossBorder") if r.outputs else None
        if not isinstance(statement, str) or not statement:
            continue
        mine = [
            i
            for i, v in enumerate(residency)
            if v.resource_urn == r.urn
            or r.urn in f.ancestors(v.resource_urn)
            or (
                v.resource_urn.startswith(r.urn.split("::")[0] + "::" + r.urn.split("::")[1])
                and r.urn.rsplit("::", 1)[-1] in v.resource_name
            )
        ]
        covered.update(mine)
        ex_id = next((i for i in exemptions if i in statement), "")
        ex = exemptions.get(ex_id, {})
        basis = statement.split("transfer safeguard: ", 1)[-1].split(";")[0]
        region = r.outputs.get("region")
        where = statement.split(" leaves Hong Kong for ", 1)[-1].split(" (", 1)[0]
        out.append(
            Transfer(
                resource=f"{r.type} '{r.name}'",
                destination=f"{where} ({region})" if region else where,
                basis=basis,
                exemption=f"{ex_id} ({ex.get('reference', 'no reference')})" if ex_id else "none",
                expires=str(ex.get("expires", "")) or "none",
                status=_status([residency[i] for i in mine], declared=True),
            )
        )
    for i, v in enumerate(residency):
        if i in covered:
            continue
        ex_id = v.exemption.split(" ", 1)[0] if v.exempt else ""
        ex = exemptions.get(ex_id, {})
        m = _REGION_IN_MESSAGE.search(v.message)
        out.append(
            Transfer(
                resource=f"{v.resource_type} '{v.resource_name}'",
                destination=m.group(1) if m else _detail(v).splitlines()[-1][:120],
                basis="none declared",
                exemption=f"{ex_id} ({ex.get('reference', '')})" if ex_id else "none",
                expires=str(ex.get("expires", "")) or "none",
                status=_status([v], declared=False),
                rule=v.policy_name,
            )
        )
    for v in f.result.violations:
        if v.policy_name in (placement_mod.BACKEND_RULE, placement_mod.SECRETS_RULE) and (
            "outside Hong Kong" in v.message and "cannot verify" not in v.message
        ):
            what = "Pulumi state" if v.policy_name == placement_mod.BACKEND_RULE else "secrets key"
            out.append(
                Transfer(
                    resource=f"{what} of the stack",
                    destination=_detail(v).split(" is ", 1)[-1].split(", outside")[0][:120],
                    basis="none",
                    exemption="none",
                    expires="none",
                    status="BLOCKED" if v.blocking else v.enforcement_level,
                )
            )
    return out


def _detail(v: Violation) -> str:
    msg = v.message
    if v.description and msg.startswith(v.description):
        msg = msg[len(v.description) :]
    return msg.strip() or v.description


# --- verdicts and controls -----------------------------------------------------------------------


def load_controls(pack_dir: Path) -> dict[str, tuple[str, str]]:
    """The pack's control table (id -> (title, source)), read from its own module."""
    path = pack_dir / "hkmail_policy" / "controls.py"
    if not path.exists():
        return {}
    spec = importlib.util.spec_from_file_location("_hkmail_report_controls", path)
    if spec is None or spec.loader is None:
        return {}
    module: ModuleType = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    table = getattr(module, "CONTROLS", {})
    return {
        str(cid): (str(getattr(c, "title", "")), str(getattr(c, "source", "")))
        for cid, c in table.items()
    }


@dataclass(frozen=True)
class Verdict:
    rule: str
    level: str
    outcome: str  # "pass", "FAIL (n)", "advisory (n)", "exempt (n)"
    controls: tuple[str, ...]
    description: str


def verdicts(
    result: GateResult, policy_config: Mapping[str, Mapping[str, Any]] | None = None
) -> list[Verdict]:
    out = []
    names = [(r.name, r.enforcement_level, r.tags, r.description) for r in result.pack.rules]
    levels = placement_mod._levels(policy_config)
    names += [(n, levels[n], (), placement_mod.DESCRIPTIONS[n]) for n in placement_mod.RULES]
    for name, level, tags, description in names:
        mine = [v for v in result.violations if v.policy_name == name]
        blocking = sum(v.blocking for v in mine)
        exempt = sum(v.exempt for v in mine)
        other = len(mine) - blocking - exempt
        if level == "disabled":
            outcome = "disabled"
        elif blocking:
            outcome = f"FAIL ({blocking})"
        elif other:
            outcome = f"advisory findings ({other})"
        elif exempt:
            outcome = f"exempt ({exempt})"
        else:
            outcome = "pass"
        skipped = [why for (_, rule), why in result.not_applicable.items() if rule == name]
        if skipped and outcome == "pass":
            outcome = f"pass where evaluated; not evaluated on {len(skipped)}: {skipped[0][:80]}"
        controls = tuple(tags) if tags else _placement_controls(name)
        out.append(Verdict(name, level, outcome, controls, description.strip().splitlines()[0]))
    return out


def _placement_controls(name: str) -> tuple[str, ...]:
    if name in placement_mod.RULES:
        return ("PDPO-DPP4", "ISO27001-A.5.23", "HKMA-CLOUD-2022")
    return ()


# --- mail authentication -------------------------------------------------------------------------


def mail_auth(f: Facts) -> list[tuple[str, str, str, str]]:
    """(domain, mechanism, status, value) for SPF, DKIM, DMARC, MTA-STS per zone."""
    records: dict[str, list[tuple[str, str, str]]] = {}
    for r in f.resources:
        fields = RECORD_TYPES.get(r.type)
        if fields is None:
            continue
        props = f.props(r)
        zone, name, rtype, value = (props.get(k) for k in fields)
        records.setdefault(str(zone), []).append((str(name), str(rtype), _shown(value)))
    out = []
    for zone, recs in sorted(records.items()):
        txt = [(n, v) for n, t, v in recs if t == "TXT"]
        checks = (
            ("SPF", [v for n, v in txt if n == "@" and "v=spf1" in v]),
            ("DKIM", [f"{n}: {v[:60]}" for n, v in txt if "._domainkey" in n]),
            ("DMARC", [v for n, v in txt if n == "_dmarc"]),
            ("MTA-STS", [v for n, v in txt if n == "_mta-sts"]),
        )
        # a plan shows what will be published; only a stack export shows what was deployed
        present = "deployed" if f.result.mode == "state" else "planned"
        for mech, found in checks:
            pending = any("known after apply" in v for v in found)
            status = (
                "missing"
                if not found
                else (f"{present}; value from the provider after apply" if pending else present)
            )
            out.append((zone, mech, status, "; ".join(found) or "no record in this stack"))
    return out


# --- guardrail and placement ---------------------------------------------------------------------


def guardrail_summary() -> list[tuple[str, str, str]]:
    """(document, grammar result, sample decisions) for the exported deploy policies."""
    path = REPO_ROOT / "bootstrap" / "guardrail.py"
    if not path.exists():
        return []
    spec = importlib.util.spec_from_file_location("_hkmail_report_guardrail", path)
    assert spec is not None and spec.loader is not None
    g = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = g
    spec.loader.exec_module(g)
    acct, uin = g.EXAMPLE_ACCOUNT, f"uin/{g.EXAMPLE_UIN}"
    rows = []
    for file, problems, samples in (
        (g.RAM_FILE, g.ram_problems, (
            ("ecs:RunInstances", f"acs:ecs:cn-hongkong:{acct}:instance/*"),
            ("ecs:RunInstances", f"acs:ecs:cn-hangzhou:{acct}:instance/*"),
            ("oss:PutBucketReplication", f"acs:oss:cn-hongkong:{acct}:archive"),
        )),
        (g.CAM_FILE, g.cam_problems, (
            ("name/cvm:RunInstances", f"qcs::cvm:ap-hongkong:{uin}:instance/*"),
            ("name/cvm:RunInstances", f"qcs::cvm:ap-guangzhou:{uin}:instance/*"),
            ("name/cos:PutBucketReplication", f"qcs::cos:ap-hongkong:{uin}:*"),
        )),
    ):  # fmt: skip
        doc = g.load(file)
        issues = problems(doc)
        decisions = "; ".join(
            f"{a} on {res.split(':')[2 if res.startswith('acs') else 3]}: "
            f"{'allowed' if g.evaluate(doc, a, res).allowed else 'denied'}"
            for a, res in samples
        )
        rows.append(
            (
                str(file.relative_to(REPO_ROOT)),
                "fits the documented grammar" if not issues else "; ".join(issues),
                decisions,
            )
        )
    return rows


def placement_rows(result: GateResult, state_file: Path | None) -> list[tuple[str, str, str]]:
    if result.mode == "state" and state_file is not None:
        provider = placement_mod.state_secrets(state_file) or "not recorded"
        where = placement_mod.secrets_where(provider, {}) if provider != "not recorded" else None
        return [
            ("State", "not in a stack export (see the project's backend.url)", "unknown"),
            ("Secrets", f"{provider}: {where.service if where else ''}", _hk(where)),
        ]
    if result.project_root is None or result.config_file is None:
        return []
    p = placement_mod.placement(result.project_root, result.config_file)
    return [
        (
            "State",
            f"{p.backend_url} ({p.backend_source}; {p.backend.service})"
            if p.backend
            else "not declared (Pulumi.yaml backend.url, PULUMI_BACKEND_URL): wherever "
            "`pulumi login` points",
            _hk(p.backend),
        ),
        (
            "Secrets",
            f"{p.secrets_provider} ({p.secrets_source}; {p.secrets.service})"
            if p.secrets
            else "not declared (no secretsprovider or encryptionsalt in the stack file)",
            _hk(p.secrets),
        ),
    ]


def _hk(where: placement_mod.Where | None) -> str:
    if where is None:
        return "not declared"
    inside = where.in_hong_kong
    return {True: "Hong Kong", False: "OUTSIDE Hong Kong", None: "cannot be verified"}[inside]


# --- the picture ---------------------------------------------------------------------------------


def mx_hosts(f: Facts) -> list[str]:
    """The MX hosts the stack publishes (where inbound mail is delivered)."""
    hosts = []
    for r in f.resources:
        fields = RECORD_TYPES.get(r.type)
        if fields is None:
            continue
        props = f.props(r)
        if str(props.get(fields[2])) == "MX":
            value = _shown(props.get(fields[3])).rstrip(".")
            if value and value not in hosts:
                hosts.append(value)
    return hosts


# Advance widths of DejaVu Sans (the SVG's first font), as a share of the font size, rounded up
# by class: a label cut to this estimate does not overflow its box. The headless-chromium test
# measures the rendered labels against their boxes.
_NARROW, _WIDE = frozenset(" .,:;'|!()[]{}ijlt-/`\"f"), frozenset("mwMW@%…")


def _advance(ch: str) -> float:
    if ch in _NARROW:
        return 0.42
    if ch in _WIDE:
        return 1.0
    if ch.isupper() or not ch.isascii():
        return 0.8
    return 0.64


def fit(text: str, width: float, font_size: float) -> str:
    """``text``, or its start and an ellipsis, so that it fits ``width`` pixels."""
    if sum(_advance(c) for c in text) * font_size <= width:
        return text
    room = width / font_size - _advance("…")
    used, cut = 0.0, 0
    while cut < len(text) and used + _advance(text[cut]) <= room:
        used += _advance(text[cut])
        cut += 1
    return text[:cut].rstrip() + "…"


def _box(x: int, y: int, w: int, title: str, sub: str, fill: str, stroke: str, dash: bool) -> str:
    """A labelled box; a label too long for it ends in an ellipsis, and the box's ``<title>``
    (the tooltip) carries both labels in full."""
    e = html.escape
    return (
        f"<g><title>{e(title)}&#10;{e(sub)}</title>"
        f'<rect x="{x}" y="{y}" width="{w}" height="38" rx="6" fill="{fill}" stroke="{stroke}"'
        + (' stroke-dasharray="4 3"' if dash else "")
        + f'/><text x="{x + 10}" y="{y + 16}" font-size="12">{e(fit(title, w - 20, 12))}</text>'
        f'<text x="{x + 10}" y="{y + 31}" font-size="10" fill="#555">{e(fit(sub, w - 20, 10))}'
        "</text></g>"
    )


def _hosted_mailboxes(mx: str, status: str | None) -> str:
    """The hosted suite's mailboxes, with the verdict on where they are (the MX flow)."""
    status = status or "location not judged (no MX flow)"
    blocked = status.startswith("BLOCKED")
    return _box(
        10, 120, 190, "Mailboxes: hosted suite", mx, "#ffebee" if blocked else "#fff3e0",
        "#c62828" if blocked else "#ef6c00", True,
    ) + "".join(
        f'<text x="10" y="{176 + 13 * i}" font-size="10" fill="#8d6e63">{html.escape(part)}</text>'
        for i, part in enumerate(_wrap(status, 34)[:3])
    )  # fmt: skip


def _wrap(text: str, width: int) -> list[str]:
    lines: list[str] = []
    for word in text.split():
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines


_NOTIFY_VIA = re.compile(r"^notify rule '(?P<rule>[^']*)', (?P<to>.+)$")
_NOTIFY_H = 66  # four lines: rule and platform, destination, what leaves, status


def _notify_box(y: int, row: mailflows.FlowRow) -> str:
    """One notify rule's flow (a chat message or a DingTalk to-do): its rule and target platform,
    where it goes, the fields that leave and its status; the tooltip holds each line in full."""
    m = _NOTIFY_VIA.match(row.via)
    head = f"'{m['rule']}' → {m['to']}" if m else row.via
    what, _, rest = row.data.partition(" (")
    fields = rest.rsplit(") of ", 1)[0] if rest else ""
    lines = [f"to {row.destination}", f"{what}: {fields}", row.status]
    blocked = row.blocking
    fill, stroke = ("#ffebee", "#c62828") if blocked else ("#fff3e0", "#ef6c00")
    e = html.escape
    return (
        f"<g><title>{'&#10;'.join(e(t) for t in (row.via, *lines))}</title>"
        f'<rect x="660" y="{y}" width="290" height="{_NOTIFY_H - 6}" rx="6" '
        f'fill="{fill}" stroke="{stroke}"/>'
        f'<text x="670" y="{y + 15}" font-size="11">{e(fit(head, 270, 11))}</text>'
        + "".join(
            f'<text x="670" y="{y + 28 + 12 * i}" font-size="10" fill="#555">'
            f"{e(fit(line, 270, 10))}</text>"
            for i, line in enumerate(lines)
        )
        + f'<line x1="620" y1="{y + 30}" x2="658" y2="{y + 30}" stroke="#c62828" '
        'stroke-width="2" marker-end="url(#red)"/></g>'
    )


def svg(
    rows: Sequence[DataRow],
    moves: Sequence[Transfer],
    place: Sequence[tuple[str, str, str]],
    mx: Sequence[str] = (),
    mailbox_status: str | None = None,
    flows: Sequence[mailflows.FlowRow] = (),
) -> str:
    """Where mail is stored (inside the Hong Kong box) and where it may leave (red arrows), with
    a box per notify rule's flow (``flows`` of kind "notification": every chat message and to-do
    the stack declares, or that the pack blocked)."""
    # mailboxes first, then the rest
    stores = sorted((r for r in rows if r.in_hk), key=lambda r: "mailboxes" not in r.kind)[:8]
    outside = [r for r in rows if not r.in_hk][:4]
    hosted = not stores and bool(mx)
    place_in = [p for p in place if p[2] == "Hong Kong"]
    place_out = [p for p in place if p[2] != "Hong Kong"]
    notify = [f for f in flows if f.kind == "notification"]
    # A notify rule's finding is drawn as its own box, not again as a transfer.
    moves = [t for t in moves if not (notify and t.rule == NOTIFY_RULE)]
    inside_n = len(stores) + len(place_in) + (0 if stores else 1)
    right_h = 46 * (len(moves) + len(outside) + len(place_out)) + _NOTIFY_H * len(notify)
    height = max(240, 70 + max(46 * max(inside_n, 3), right_h))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="960" height="{height}" '
        f'viewBox="0 0 960 {height}" role="img" aria-label="Data flows of the stack" '
        'font-family="DejaVu Sans, Arial, sans-serif">',
        "<title>Data flows: where mail is stored and where it may leave Hong Kong</title>",
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#333"/></marker>'
        '<marker id="red" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#c62828"/></marker></defs>',
        '<rect x="10" y="40" width="170" height="50" rx="8" fill="#eceff1" stroke="#607d8b"/>',
        '<text x="95" y="70" text-anchor="middle" font-size="13">Senders, recipients</text>',
        f'<rect x="220" y="10" width="400" height="{height - 20}" rx="14" fill="#e8f5e9" '
        'stroke="#2e7d32" stroke-width="2"/>',
        '<text x="420" y="32" text-anchor="middle" font-size="15" font-weight="bold" '
        'fill="#1b5e20">Hong Kong</text>',
        '<line x1="180" y1="65" x2="238" y2="65" stroke="#333" marker-end="url(#arrow)"/>',
        '<text x="186" y="58" font-size="10">mail</text>',
    ]
    y = 46
    for r in stores:
        parts.append(
            _box(
                240,
                y,
                360,
                f"{r.kind} · {r.where}",
                r.resource.split(" ", 1)[-1],
                "#fff",
                "#2e7d32",
                False,
            )
        )
        y += 46
    if not stores:
        sub = "MX " + ", ".join(mx) if mx else "no MX in this stack"
        parts.append(_box(240, y, 360, "No mail store in this stack", sub, "#fff", "#90a4ae", True))
        y += 46
    for what, where, verdict in place:
        if verdict == "Hong Kong":
            parts.append(
                _box(240, y, 360, f"Pulumi {what.lower()}: Hong Kong", where, "#fffde7",
                     "#2e7d32", True)
            )  # fmt: skip
            y += 46
    if hosted:
        parts.append(
            _hosted_mailboxes(mx[0], mailbox_status)
            + '<line x1="95" y1="90" x2="95" y2="118" stroke="#333" marker-end="url(#arrow)"/>'
        )
    y = 46
    for t in moves:
        parts.append(
            _box(660, y, 290, f"leaves HK: {t.destination}",
                 f"{t.exemption.split(' ')[0]} until {t.expires}; {t.status}",
                 "#ffebee", "#c62828", False)
            + f'<line x1="620" y1="{y + 19}" x2="658" y2="{y + 19}" stroke="#c62828" '
            'stroke-width="2" marker-end="url(#red)"/>'
        )  # fmt: skip
        y += 46
    for f in notify:
        parts.append(_notify_box(y, f))
        y += _NOTIFY_H
    for r in outside:
        parts.append(
            _box(660, y, 290, f"stored outside HK: {r.where}", r.kind, "#ffebee", "#c62828", False)
        )
        y += 46
    for what, where, verdict in place_out:
        red = verdict.startswith("OUTSIDE")
        parts.append(
            _box(660, y, 290, f"Pulumi {what.lower()}: {verdict}", where,
                 "#ffebee" if red else "#fff8e1", "#c62828" if red else "#ef6c00", not red)
        )  # fmt: skip
        y += 46
    if not moves and not outside and not notify:
        parts.append(
            f'<text x="805" y="{y + 24}" text-anchor="middle" font-size="12" fill="#2e7d32">'
            "No mail flow out of Hong Kong</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


# --- provenance: what a reviewer needs to tie the evidence to what was reviewed ----------------


def _git(root: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def git_commit(root: Path) -> str:
    """``<commit>`` or ``<commit> with uncommitted changes`` (tracked files differ from it)."""
    commit = _git(root, "rev-parse", "HEAD")
    if not commit:
        return f"not a git checkout ({root})"
    dirty = _git(root, "status", "--porcelain", "--untracked-files=no")
    if dirty is None:
        return f"{commit} (could not tell whether the checkout has changes)"
    if dirty:
        return f"{commit} with uncommitted changes ({len(dirty.splitlines())} files)"
    return f"{commit} (clean)"


def file_digest(path: Path | None) -> str:
    if path is None:
        return "none"
    try:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as exc:
        return f"{path}: not readable ({exc.strerror or exc})"
    return f"sha256:{digest} ({path.name})"


def provenance(
    result: GateResult,
    pack_dir: Path,
    generated: str,
    policy_config: str | None = None,
) -> list[tuple[str, str]]:
    """(what, value): the commit, digests of the inputs, the pack's version and the time."""
    root = result.project_root or pack_dir.resolve()
    source = "State file (pulumi stack export)" if result.mode == "state" else "Stack file"
    rows = [
        ("Git commit", git_commit(root)),
        (source, file_digest(result.config_file)),
        ("Exemptions file", file_digest(pack_dir / "exemptions.yaml")),
        ("Policy pack", f"{result.pack.name} {result.pack.version}"),
    ]
    if policy_config:
        rows.append(("Policy config", file_digest(Path(policy_config))))
    rows.append(("Generated", generated))
    return rows


# --- rendering -----------------------------------------------------------------------------------


@dataclass
class Report:
    result: GateResult
    data: list[DataRow]
    moves: list[Transfer]
    verdicts: list[Verdict]
    controls: dict[str, tuple[str, str]]
    placement: list[tuple[str, str, str]]
    guardrail: list[tuple[str, str, str]]
    mail: list[tuple[str, str, str, str]]
    generated: str
    mx: list[str] = field(default_factory=list)
    provenance: list[tuple[str, str]] = field(default_factory=list)
    #: lowered rules, exemption register, limitations (toolchain/evidence_governance.py)
    governance: list[governance_mod.Section] = field(default_factory=list)
    flows: list[mailflows.FlowRow] = field(default_factory=list)
    #: a private server's journal and backup (toolchain/report_archive.py)
    archive: list[tuple[str, str, str]] = field(default_factory=list)


def build(
    result: GateResult,
    pack_dir: Path,
    state_file: Path | None = None,
    policy_config: str | None = None,
    archive_health: archive_mod.Health | None = None,
) -> Report:
    f = Facts(result)
    data = data_rows(f)
    facts = archive_mod.ArchiveFacts(f.resources, f.props, f.region, lambda r: worm_retention(f, r))
    generated = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return Report(
        result=result,
        data=data,
        moves=transfers(f, load_exemptions(pack_dir)),
        verdicts=verdicts(result, placement_mod._config(policy_config)),
        controls=load_controls(pack_dir),
        placement=placement_rows(result, state_file),
        guardrail=guardrail_summary(),
        mail=mail_auth(f),
        mx=mx_hosts(f),
        flows=mailflows.rows(result.violations),
        archive=archive_mod.rows(facts, archive_health),
        generated=generated,
        provenance=provenance(result, pack_dir, generated, policy_config)
        + governance_mod.ci_rows(),
        governance=governance_mod.sections(result, pack_dir),
    )


def _verdict_line(rep: Report) -> str:
    r = rep.result
    n = len(r.blocking)
    head = (
        f"FAIL: {n} mandatory violation{'s' if n != 1 else ''}"
        if n
        else "PASS: no mandatory violation"
    ) + lowered_note(r)  # what the policy config lowered, never silent
    source = (
        "deployed state (pulumi stack export)"
        if r.mode == "state"
        else "plan (preview under mocks)"
    )
    return (
        f"{head} — policy pack {r.pack.name} {r.pack.version}, {len(r.resources)} resources, "
        f"{len(r.violations)} findings, from the {source}"
    )


def _tables(rep: Report) -> list[tuple[str, str, list[str], list[Sequence[str]]]]:
    """(id, title, header, rows) of every section, shared by HTML and Markdown."""
    controls = rep.controls

    def ctl(ids: Sequence[str]) -> str:
        return ", ".join(ids)

    cited = sorted({c for v in rep.verdicts for c in v.controls})

    return [
        (
            "data",
            "Data-bearing resources",
            ["Resource", "What", "Where", "Key", "Protection", "Retention"],
            [(d.resource, d.kind, d.where, d.key, d.protection, d.retention) for d in rep.data],
        ),
        (
            "archive",
            "Journal and backups",
            ["Server", "What", "Configuration"],
            [list(a) for a in rep.archive],
        ),
        (
            "transfers",
            "Cross-border transfers",
            ["Resource", "Destination", "Safeguard relied on", "Exemption", "Expires", "Status"],
            [
                (t.resource, t.destination, t.basis, t.exemption, t.expires, t.status)
                for t in rep.moves
            ],
        ),
        (
            "mailflows",
            "Mail data flows (MX, SPF, DMARC, TLS-RPT)",
            ["Data", "From", "To", "Set up by", "Status"],
            [(m.data, m.source, m.destination, m.via, m.status) for m in rep.flows],
        ),
        (
            "verdicts",
            "Policy verdicts and the controls they serve",
            ["Policy", "Level", "Outcome", "Controls"],
            [(v.rule, v.level, v.outcome, ctl(v.controls)) for v in rep.verdicts],
        ),
        (
            "controls",
            "The controls, as the policy pack states them",
            ["Control", "What it requires", "Source"],
            [(c, *controls.get(c, ("not in the pack's control table", ""))) for c in cited],
        ),
        (
            "placement",
            "Where the state and the secrets live",
            ["What", "Declared", "Where"],
            [list(p) for p in rep.placement],
        ),
        (
            "guardrail",
            "Deploy guardrail (bootstrap/)",
            ["Policy document", "Grammar", "Sample decisions"],
            [list(g) for g in rep.guardrail],
        ),
        (
            "mailauth",
            "Mail authentication",
            ["Domain", "Mechanism", "Status", "Records"],
            [list(m) for m in rep.mail],
        ),
        *[(sid, title, header, rows) for sid, title, header, rows, _ in rep.governance],
        _provenance_section(rep),
    ]


def _provenance_section(rep: Report) -> tuple[str, str, list[str], list[Sequence[str]]]:
    return ("provenance", "Provenance", ["What", "Value"], [list(p) for p in rep.provenance])


NOTES = {
    "transfers": "PDPO s.33 (restriction on transfer out of Hong Kong) has never been brought into "
    "operation, so a transfer needs no statutory 'legal basis'; the column shows the contractual "
    "safeguard the data user relies on for its processor (DPP4(2), DPP2(3); PCPD model clauses) "
    "and the reviewed exemption that allows the flow.",
    "guardrail": "The deploy identity may act only on resource strings in cn-hongkong / "
    "ap-hongkong; neither RAM nor CAM documents a requested-region condition key, so the resource "
    "string is the guard (bootstrap/README.md).",
}


def _note(rep: Report, sid: str) -> str:
    for gid, _title, _header, _rows, note in rep.governance:
        if gid == sid:
            return note
    if sid == "mailauth":
        return (
            "Records as the deployed state holds them (pulumi stack export); scripts/verify "
            "checks what the name servers serve."
            if rep.result.mode == "state"
            else "Records as planned, not yet deployed: this report is made from the plan. "
            "Use --state with a pulumi stack export for what is deployed, and scripts/verify "
            "for what the name servers serve."
        )
    if sid == "archive":
        return (
            "What protects a private server's mail, as the instance's user-data and this stack's "
            "buckets configure it. Health is not in a plan: it is shown only from "
            "--archive-health (the JSON `scripts/archive health` prints)."
            if rep.archive
            else "No private mail server in this stack: the hosted suite keeps the mail."
        )
    if sid == "provenance":
        return (
            "What this evidence was made from: check the commit and the digests against what "
            "was reviewed (sha256sum FILE)."
        )
    if sid == "data" and not rep.data:
        where = f" (MX {', '.join(rep.mx)})" if rep.mx else ""
        return (
            "No data-bearing resource in this stack: mailboxes are held by the hosted suite"
            f"{where}; where it keeps them, and whether that is attested or declared, is in "
            "Mail data flows."
        )
    return NOTES.get(sid, "")


def to_html(rep: Report) -> str:
    e = html.escape
    r = rep.result
    ok = not r.blocking
    body = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>hk-mail evidence: {e(r.project)} / {e(r.stack)}</title>",
        "<style>body{font-family:'DejaVu Sans',Arial,sans-serif;margin:24px;color:#212121}"
        "table{border-collapse:collapse;width:100%;margin:8px 0 20px;font-size:12px}"
        "th,td{border:1px solid #cfd8dc;padding:4px 6px;text-align:left;vertical-align:top}"
        "th{background:#eceff1}.pass{color:#2e7d32}.fail{color:#c62828;font-weight:bold}"
        "p.note{font-size:12px;color:#455a64}</style></head><body>",
        f"<h1>Compliance evidence: {e(r.project)} / {e(r.stack)}</h1>",
        f'<p id="verdict" class="{"pass" if ok else "fail"}">{e(_verdict_line(rep))}</p>',
        f'<p class="note">Generated {e(rep.generated)} by scripts/report.</p>',
        '<h2 id="flows">Data flows</h2>',
        svg(
            rep.data,
            rep.moves,
            rep.placement,
            rep.mx,
            mailflows.mailbox_status(rep.flows),
            rep.flows,
        ),
    ]
    for sid, title, header, rows in _tables(rep):
        body.append(f'<h2 id="{sid}">{e(title)}</h2>')
        if _note(rep, sid):
            body.append(f'<p class="note">{e(_note(rep, sid))}</p>')
        if not rows:
            body.append("<p>None.</p>")
            continue
        body.append("<table><tr>" + "".join(f"<th>{e(h)}</th>" for h in header) + "</tr>")
        for row in rows:
            body.append("<tr>" + "".join(f"<td>{e(str(c))}</td>" for c in row) + "</tr>")
        body.append("</table>")
    body.append("</body></html>")
    return "\n".join(body) + "\n"


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def to_markdown(rep: Report) -> str:
    r = rep.result
    lines = [f"# Compliance evidence: {r.project} / {r.stack}", "", f"**{_verdict_line(rep)}**", ""]
    lines += [
        f"Generated {rep.generated} by scripts/report. The HTML report has the data-flow picture.",
        "",
    ]
    for sid, title, header, rows in _tables(rep):
        lines += [f"## {title}", ""]
        if _note(rep, sid):
            lines += [_note(rep, sid), ""]
        if not rows:
            lines += ["None.", ""]
            continue
        lines.append("| " + " | ".join(header) + " |")
        lines.append("|" + " --- |" * len(header))
        lines += ["| " + " | ".join(_md(str(c)) for c in row) + " |" for row in rows]
        lines.append("")
    return "\n".join(lines)


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="scripts/report",
        description="Write compliance evidence (HTML and Markdown) for one stack, from the plan "
        "under mocks or from a `pulumi stack export` (--state).",
    )
    ap.add_argument(
        "--stack",
        help="stack name, or the path of its Pulumi.<stack>.yaml in the stackConfigDir",
    )
    ap.add_argument("--project", default=str(REPO_ROOT), help="Pulumi project directory")
    ap.add_argument(
        "--policy-pack", default=str(REPO_ROOT / "policies"), help="policy pack directory"
    )
    ap.add_argument("--policy-config", help="policy config JSON, as for the gate")
    ap.add_argument("--state", help="report on a `pulumi stack export` document")
    ap.add_argument("--output-dir", default="artifacts/report", help="where to write the files")
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds the program may run")
    ap.add_argument(
        "--archive-health",
        metavar="FILE",
        help="the JSON `scripts/archive health` printed: the journal's newest message and "
        "messages per day (and with --backup-bucket the newest backup snapshot), shown in "
        "Journal and backups (without it: not observed by a plan)",
    )
    ap.add_argument(
        "--sign-key",
        help="also write a detached signature FILE.sig of each report with this ECDSA P-256 PEM "
        "key (python -m toolchain.signature verify checks it; CI signs with Sigstore instead)",
    )
    return ap


def _output_names(project: str, stack: str, state: str | None) -> tuple[str, ...]:
    """The files the report will write, where they can be known before the run (the project
    name comes from Pulumi.yaml; a state file names its own)."""
    if state:
        return ()
    from toolchain.engine.project import load_project

    stem = f"report-{load_project(project).name}-{stack.rsplit('/', 1)[-1]}"
    return (f"{stem}.html", f"{stem}.md")


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if not args.stack and not args.state:
        print("error: --stack is required (or --state FILE)", file=sys.stderr)
        return 2
    pack = Path(args.policy_pack)
    try:
        # before the gate runs: a typo in a path is exit 2 ("could not run"), never exit 1
        stack = resolve_stack(args.project, args.stack) if args.stack and not args.state else ""
        out = check_output_dir(args.output_dir, _output_names(args.project, stack, args.state))
    except (OutputError, EngineError) as exc:
        print(f"error: {str(exc).strip()}", file=sys.stderr)
        print("report: not run, nothing written", file=sys.stderr)
        return 2
    try:  # before the gate runs: a bad key is exit 2
        key = signature.load_private_key(Path(args.sign_key)) if args.sign_key else None
    except signature.SignatureError as exc:
        print(f"error: --sign-key: {exc}", file=sys.stderr)
        return 2
    try:  # and so is a health file that is not what scripts/archive health prints
        health = archive_mod.load_health(Path(args.archive_health)) if args.archive_health else None
    except archive_mod.HealthFileError as exc:
        print(f"error: --archive-health: {exc}", file=sys.stderr)
        print("report: not run, nothing written", file=sys.stderr)
        return 2
    try:
        if args.state:
            result = run_gate_on_state(args.state, pack, policy_config=args.policy_config)
        else:
            result = run_gate(
                args.project, stack, pack, policy_config=args.policy_config,
                timeout=args.timeout,
            )  # fmt: skip
    except EngineError as exc:
        print(f"error: {str(exc).strip()}", file=sys.stderr)
        print(
            "report: not written (the program, the config or the pack could not run)",
            file=sys.stderr,
        )
        return 2
    rep = build(result, pack, Path(args.state) if args.state else None, args.policy_config, health)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"report-{result.project}-{result.stack}"
    (out / f"{stem}.html").write_text(to_html(rep), encoding="utf-8")
    (out / f"{stem}.md").write_text(to_markdown(rep), encoding="utf-8")
    if key is not None:
        for name in (f"{stem}.html", f"{stem}.md"):
            signature.sign(out / name, key)
    print(
        f"report: wrote {out / (stem + '.html')} and {out / (stem + '.md')} ({_verdict_line(rep)})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
