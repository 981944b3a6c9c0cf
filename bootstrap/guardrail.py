"""The deploy guardrail: policies for the identity that runs `pulumi up`, so that a bypassed gate
still cannot create anything outside Hong Kong.

Alibaba Cloud RAM and Tencent Cloud CAM both authorise a request by matching its action and its
resource string against the identity's policies (an explicit deny wins, then an allow, else the
request is denied). Neither documents a general requested-region condition key: CAM's condition
keys (``qcs:current_time``, ``qcs:ip``, ``qcs:resource_tag``, ``qcs:request_tag``) have no region,
and RAM's ``acs:RequestedRegion`` is not documented. The region is a field of the resource string
instead (``acs:<service>:<region>:<account>:<relative-id>``, the 3rd field;
``qcs:<project>:<service>:<region>:<account>:<resource>``, the 4th), so the resource string is the
guard: regional services are allowed only on ``cn-hongkong`` / ``ap-hongkong`` resource strings.

Global services have no region in their resource strings (RAM/CAM, Alidns, DNSPod); those grants
are narrowed by name instead (role and policy names with the stack prefix, the mail domains).
Cross-region copy, replication, DirectMail (no Hong Kong region) and CDN/acceleration are denied
outright, so another policy attached to the identity cannot open them.

Stdlib only: the bootstrap program, its tests and the evidence report all load this module.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ALIBABA_REGION = "cn-hongkong"
TENCENT_REGION = "ap-hongkong"
POLICY_DIR = Path(__file__).resolve().parent / "policies"
RAM_FILE = POLICY_DIR / "alicloud-ram-deploy.json"
CAM_FILE = POLICY_DIR / "tencentcloud-cam-deploy.json"
DIRECTMAIL_FILE = POLICY_DIR / "alicloud-ram-directmail-sender.json"

#: Alibaba services the blueprint creates regional resources with (RAM codes).
ALIBABA_REGIONAL = ("ecs", "vpc", "kms", "oss", "log", "actiontrail")
#: Tencent services the blueprint creates regional resources with (CAM service types).
TENCENT_REGIONAL = ("cvm", "vpc", "cbs", "kms", "cos", "cls", "cloudaudit", "ses", "ssm")

#: Actions that move data to another region whatever the resource string says: denied outright.
ALIBABA_DENY = (
    "ecs:CopySnapshot",
    "ecs:CopyImage",
    "oss:PutBucketReplication",
    "oss:PutBucketTransferAcceleration",
    "dm:*",  # DirectMail: no Hong Kong region
    "cdn:*",
    "dcdn:*",
    "ga:*",
)
TENCENT_DENY = (
    "name/cvm:SyncImages",
    "name/cbs:CopySnapshotCrossRegions",
    "name/cos:PutBucketReplication",
    "name/cdn:*",
    "name/ecdn:*",
    "name/gaap:*",
)

#: What a declared DirectMail sender needs, and nothing more: the calls the provider's DirectMail
#: domain resource makes (terraform-provider-alicloud, resource_alicloud_direct_mail_domain.go:
#: CreateDomain, DescDomain to read, DeleteDomain). DirectMail authorises per operation only
#: (Alibaba Cloud, Direct Mail "RAM authorization": RAM code dm, granularity OPERATION), so the
#: resource is "*". The deploy policy's explicit deny of dm:* wins over this grant on the same
#: identity: it belongs to a separate identity for the DirectMail provider.
DIRECTMAIL_SENDER_ACTIONS = ("dm:CreateDomain", "dm:DescDomain", "dm:DeleteDomain")

# RAM: the documented policy limits (custom policy document length).
RAM_MAX_CHARS = 6144

# --- the documents ---------------------------------------------------------------------------


def ram_policy(account_id: str, name_prefix: str, domains: Sequence[str]) -> dict[str, Any]:
    """The RAM policy of the Alibaba deploy identity."""
    acct = account_id or "*"
    regional = [f"acs:{svc}:{ALIBABA_REGION}:{acct}:*" for svc in ALIBABA_REGIONAL]
    dns = [f"acs:alidns:*:{acct}:domain/{d}" for d in domains] or [f"acs:alidns:*:{acct}:*"]
    return {
        "Version": "1",
        "Statement": [
            {
                "Effect": "Deny",
                "Action": list(ALIBABA_DENY),
                "Resource": "*",
            },
            {
                "Effect": "Allow",
                "Action": [f"{svc}:*" for svc in ALIBABA_REGIONAL],
                "Resource": regional,
            },
            {
                # read-only listings the provider makes before it creates anything
                "Effect": "Allow",
                "Action": ["ecs:DescribeRegions", "ecs:DescribeZones", "vpc:DescribeRegions"],
                "Resource": "*",
            },
            {
                # global: Alidns has no region; only the mail domains' records
                "Effect": "Allow",
                "Action": ["alidns:*"],
                "Resource": dns,
            },
            {
                # global: the mail server's instance role and its policy, by name
                "Effect": "Allow",
                "Action": [
                    "ram:CreateRole",
                    "ram:GetRole",
                    "ram:UpdateRole",
                    "ram:DeleteRole",
                    "ram:CreatePolicy",
                    "ram:GetPolicy",
                    "ram:GetPolicyVersion",
                    "ram:CreatePolicyVersion",
                    "ram:DeletePolicyVersion",
                    "ram:ListPolicyVersions",
                    "ram:DeletePolicy",
                    "ram:AttachPolicyToRole",
                    "ram:DetachPolicyFromRole",
                    "ram:ListPoliciesForRole",
                    "ram:PassRole",
                ],
                "Resource": [
                    f"acs:ram:*:{acct}:role/{name_prefix}*",
                    f"acs:ram:*:{acct}:policy/{name_prefix}*",
                ],
            },
        ],
    }


def cam_policy(owner_uin: str, name_prefix: str, domains: Sequence[str]) -> dict[str, Any]:
    """The CAM policy of the Tencent deploy identity."""
    uin = f"uin/{owner_uin}" if owner_uin else "*"
    regional = [f"qcs::{svc}:{TENCENT_REGION}:{uin}:*" for svc in TENCENT_REGIONAL]
    dns = [f"qcs::dnspod::{uin}:domain/{d}" for d in domains] or [f"qcs::dnspod::{uin}:*"]
    return {
        "version": "2.0",
        "statement": [
            {"effect": "deny", "action": list(TENCENT_DENY), "resource": ["*"]},
            {
                "effect": "allow",
                "action": [f"name/{svc}:*" for svc in TENCENT_REGIONAL],
                "resource": regional,
            },
            {
                "effect": "allow",
                "action": ["name/cvm:DescribeRegions", "name/cvm:DescribeZones"],
                "resource": ["*"],
            },
            {"effect": "allow", "action": ["name/dnspod:*"], "resource": dns},
            {
                "effect": "allow",
                "action": [
                    "name/cam:CreateRole",
                    "name/cam:GetRole",
                    "name/cam:DeleteRole",
                    "name/cam:UpdateAssumeRolePolicy",
                    "name/cam:CreatePolicy",
                    "name/cam:GetPolicy",
                    "name/cam:UpdatePolicy",
                    "name/cam:DeletePolicy",
                    "name/cam:AttachRolePolicy",
                    "name/cam:DetachRolePolicy",
                    "name/cam:PassRole",
                ],
                "resource": [
                    f"qcs::cam::{uin}:roleName/{name_prefix}*",
                    f"qcs::cam::{uin}:policy/*",
                ],
            },
        ],
    }


def render(doc: Mapping[str, Any]) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


#: The example documents exported as files (placeholder account ids; the bootstrap program
#: renders the same documents with the real ids from its stack config).
EXAMPLE_ACCOUNT = "5123456789012345"
EXAMPLE_UIN = "100000000001"
EXAMPLE_PREFIX = "hkmail-"
EXAMPLE_DOMAINS = ("example.com.hk",)


def directmail_sender_policy() -> dict[str, Any]:
    """The narrow RAM grant for the identity that creates a declared DirectMail sending domain."""
    return {
        "Version": "1",
        "Statement": [
            {"Effect": "Allow", "Action": list(DIRECTMAIL_SENDER_ACTIONS), "Resource": "*"}
        ],
    }


def example_documents() -> dict[Path, str]:
    return {
        RAM_FILE: render(ram_policy(EXAMPLE_ACCOUNT, EXAMPLE_PREFIX, EXAMPLE_DOMAINS)),
        CAM_FILE: render(cam_policy(EXAMPLE_UIN, EXAMPLE_PREFIX, EXAMPLE_DOMAINS)),
        DIRECTMAIL_FILE: render(directmail_sender_policy()),
    }


# --- grammar ---------------------------------------------------------------------------------
# RAM, "Policy structure and syntax" (Alibaba Cloud docs):
#   policy = { <version_block>, <statement_block> }
#   <version_block> = "Version" : ("1")
#   <statement_block> = "Statement" : [ <statement>, <statement>, ... ]
#   <statement> = { <effect_block>, <action_block>, <resource_block>, <condition_block?> }
#   <effect_block> = "Effect" : ("Allow" | "Deny")
#   <action_block> = ("Action" | "NotAction") : ("*" | <action_string> | [<action_string>, ...])
#   <resource_block> = ("Resource" | "NotResource") : ("*" | <resource_string> | [...])
#   <condition_block> = "Condition" : { <operator> : { <key> : <value> | [<value>, ...] } }
#   action_string = <ram-code>:<action-name>;  resource = acs:<service>:<region>:<account>:<id>
# CAM, "Policy Syntax" (Tencent Cloud docs):
#   {"version":"2.0","statement":[{"effect":..., "action":[...], "resource":[...],
#    "condition":{...}}]}; version only "2.0"; effect allow | deny; action "name/<svc>:<API>"
#   (or "permid/..."); resource six segments qcs:project_id:service_type:region:account:resource.

RAM_OPERATORS = frozenset(
    {
        "StringEquals",
        "StringNotEquals",
        "StringEqualsIgnoreCase",
        "StringNotEqualsIgnoreCase",
        "StringLike",
        "StringNotLike",
        "NumericEquals",
        "NumericNotEquals",
        "NumericLessThan",
        "NumericLessThanEquals",
        "NumericGreaterThan",
        "NumericGreaterThanEquals",
        "DateEquals",
        "DateNotEquals",
        "DateLessThan",
        "DateLessThanEquals",
        "DateGreaterThan",
        "DateGreaterThanEquals",
        "Bool",
        "IpAddress",
        "NotIpAddress",
    }
)
CAM_OPERATORS = frozenset(
    {
        "string_equal",
        "string_not_equal",
        "string_equal_ignore_case",
        "string_not_equal_ignore_case",
        "string_like",
        "string_not_like",
        "date_equal",
        "date_not_equal",
        "date_greater_than",
        "date_greater_than_equal",
        "date_less_than",
        "date_less_than_equal",
        "numeric_equal",
        "numeric_not_equal",
        "numeric_greater_than",
        "numeric_greater_than_equal",
        "numeric_less_than",
        "numeric_less_than_equal",
        "bool_equal",
        "ip_equal",
        "ip_not_equal",
        "null_equal",
    }
)
_RAM_ACTION = re.compile(r"^(\*|[a-z0-9-]+:[A-Za-z0-9*?]+)$")
_RAM_RESOURCE = re.compile(r"^(\*|acs:[a-z0-9*-]+:[a-z0-9*-]*:[0-9*]*:.+)$")
_CAM_ACTION = re.compile(r"^(\*|(name|permid)/[a-z0-9-]+:[A-Za-z0-9*]+)$")
_CAM_RESOURCE = re.compile(r"^(\*|qcs:[0-9a-z_]*:[a-z0-9*-]+:[a-z0-9*-]*:(uin/\d+|\*)?:.+)$")


def _strings(value: object) -> list[str] | None:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return list(value)
    return None


def _condition_problems(cond: object, operators: frozenset[str], where: str) -> list[str]:
    if not isinstance(cond, dict) or not cond:
        return [f"{where}: condition must be a non-empty object"]
    problems = []
    for op, keys in cond.items():
        if op not in operators:
            problems.append(f"{where}: unknown condition operator {op!r}")
        if not isinstance(keys, dict) or not keys:
            problems.append(f"{where}: {op} must map condition keys to values")
            continue
        for key, value in keys.items():
            ok = isinstance(value, str | int | float | bool) or (
                isinstance(value, list)
                and all(isinstance(v, str | int | float | bool) for v in value)
            )
            if not ok:
                problems.append(f"{where}: {op}.{key} has an invalid value")
    return problems


def ram_problems(doc: object) -> list[str]:
    """Everything in ``doc`` that does not fit RAM's documented policy grammar."""
    if not isinstance(doc, dict):
        return ["the policy must be a JSON object"]
    problems = []
    if set(doc) != {"Version", "Statement"}:
        problems.append(f"top-level keys must be Version and Statement, got {sorted(doc)}")
    if doc.get("Version") != "1":
        problems.append('Version must be "1"')
    statements = doc.get("Statement")
    if not isinstance(statements, list) or not statements:
        return [*problems, "Statement must be a non-empty list"]
    for i, st in enumerate(statements):
        where = f"Statement[{i}]"
        if not isinstance(st, dict):
            problems.append(f"{where} must be an object")
            continue
        allowed = {"Effect", "Action", "NotAction", "Resource", "NotResource", "Condition"}
        if set(st) - allowed:
            problems.append(f"{where}: unknown elements {sorted(set(st) - allowed)}")
        if st.get("Effect") not in ("Allow", "Deny"):
            problems.append(f"{where}: Effect must be Allow or Deny")
        if ("Action" in st) == ("NotAction" in st):
            problems.append(f"{where}: exactly one of Action and NotAction")
        if ("Resource" in st) == ("NotResource" in st):
            problems.append(f"{where}: exactly one of Resource and NotResource")
        for key, pattern in (
            ("Action", _RAM_ACTION),
            ("NotAction", _RAM_ACTION),
            ("Resource", _RAM_RESOURCE),
            ("NotResource", _RAM_RESOURCE),
        ):
            if key not in st:
                continue
            values = _strings(st[key])
            if values is None:
                problems.append(f"{where}: {key} must be a string or a non-empty list of strings")
                continue
            problems += [
                f"{where}: {key} {v!r} is malformed" for v in values if not pattern.match(v)
            ]
        if "Condition" in st:
            problems += _condition_problems(st["Condition"], RAM_OPERATORS, where)
    if len(json.dumps(doc, separators=(",", ":"))) > RAM_MAX_CHARS:
        problems.append(f"the policy exceeds {RAM_MAX_CHARS} characters")
    return problems


def cam_problems(doc: object) -> list[str]:
    """Everything in ``doc`` that does not fit CAM's documented policy grammar."""
    if not isinstance(doc, dict):
        return ["the policy must be a JSON object"]
    problems = []
    if set(doc) != {"version", "statement"}:
        problems.append(f"top-level keys must be version and statement, got {sorted(doc)}")
    if doc.get("version") != "2.0":
        problems.append('version must be "2.0"')
    statements = doc.get("statement")
    if not isinstance(statements, list) or not statements:
        return [*problems, "statement must be a non-empty list"]
    for i, st in enumerate(statements):
        where = f"statement[{i}]"
        if not isinstance(st, dict):
            problems.append(f"{where} must be an object")
            continue
        allowed = {"effect", "action", "resource", "condition"}
        if set(st) - allowed:
            problems.append(f"{where}: unknown elements {sorted(set(st) - allowed)}")
        if st.get("effect") not in ("allow", "deny"):
            problems.append(f"{where}: effect must be allow or deny")
        for key, pattern in (("action", _CAM_ACTION), ("resource", _CAM_RESOURCE)):
            values = _strings(st.get(key))
            if values is None:
                problems.append(f"{where}: {key} is required (a string or a list of strings)")
                continue
            problems += [
                f"{where}: {key} {v!r} is malformed" for v in values if not pattern.match(v)
            ]
        if "condition" in st:
            problems += _condition_problems(st["condition"], CAM_OPERATORS, where)
    return problems


# --- evaluation ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str  # "explicit deny", "allow", "implicit deny"


def _match(pattern: str, value: str, *, ignore_case: bool) -> bool:
    if ignore_case:
        pattern, value = pattern.lower(), value.lower()
    # RAM and CAM wildcards: * any run of characters, ? one character; nothing else special
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, flags=re.S) is not None


def _matches_any(patterns: Iterable[str], value: str, *, ignore_case: bool) -> bool:
    return any(_match(p, value, ignore_case=ignore_case) for p in patterns)


def evaluate(doc: Mapping[str, Any], action: str, resource: str) -> Decision:
    """How a RAM ("Version": "1") or CAM ("version": "2.0") policy decides one request, by the
    clouds' documented order: an explicit deny wins, then an explicit allow, else deny.
    Conditions are not modelled (the guardrail uses none)."""
    cam = "statement" in doc
    statements = doc["statement"] if cam else doc["Statement"]
    allow = False
    for st in statements:
        get = (lambda k: st.get(k.lower())) if cam else st.get  # noqa: B023
        if get("Condition") is not None:
            raise ValueError("conditions are not modelled by this evaluator")
        actions = _strings(get("Action"))
        not_actions = _strings(get("NotAction"))
        if actions is not None:
            hit_action = _matches_any(actions, action, ignore_case=True)
        else:
            hit_action = not _matches_any(not_actions or [], action, ignore_case=True)
        resources = _strings(get("Resource"))
        not_resources = _strings(get("NotResource"))
        if resources is not None:
            hit_resource = _matches_any(resources, resource, ignore_case=False)
        else:
            hit_resource = not _matches_any(not_resources or [], resource, ignore_case=False)
        if not (hit_action and hit_resource):
            continue
        if str(get("Effect")).lower() == "deny":
            return Decision(False, "explicit deny")
        allow = True
    return Decision(allow, "allow" if allow else "implicit deny")


def load(path: Path) -> dict[str, Any]:
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(doc, dict)
    return doc


if __name__ == "__main__":  # python bootstrap/guardrail.py: (re)write the exported documents
    for file, text in example_documents().items():
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(text, encoding="utf-8")
        print(f"wrote {file}")
