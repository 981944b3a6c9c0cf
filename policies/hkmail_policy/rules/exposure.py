"""No public read or write on object storage buckets."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from ..model import Context, Finding, Resource, Rule, violation
from ..values import Leaf, first

PUBLIC_ACLS = ("public-read", "public-read-write")
ACL_TYPES = (
    "alicloud:oss/bucket:Bucket",
    "alicloud:oss/bucketAcl:BucketAcl",
    "tencentcloud:Cos/bucket:Bucket",
)
POLICY_TYPES = (
    "alicloud:oss/bucketPolicy:BucketPolicy",
    "tencentcloud:Cos/bucketPolicy:BucketPolicy",
)
ANYONE = ("*", "qcs::cam::anyone:anyone")


def _anyone(principal: Any) -> bool:
    if isinstance(principal, str):
        return principal in ANYONE
    if isinstance(principal, list):
        return any(_anyone(p) for p in principal)
    if isinstance(principal, dict):
        return any(_anyone(p) for p in principal.values())
    return False


def _public_statements(leaf: Leaf) -> Iterator[str]:
    try:
        doc = json.loads(leaf.value)
    except (TypeError, ValueError):
        return
    statements = doc.get("Statement", doc.get("statement", [])) if isinstance(doc, dict) else []
    for st in statements if isinstance(statements, list) else []:
        if not isinstance(st, dict):
            continue
        effect = str(st.get("Effect", st.get("effect", ""))).lower()
        if effect == "allow" and _anyone(st.get("Principal", st.get("principal"))):
            yield str(st.get("Action", st.get("action", "")))


def check_public(resource: Resource, ctx: Context) -> Iterable[Finding]:
    if resource.type in ACL_TYPES:
        acl = first(resource.props, "acl")
        if acl is not None and isinstance(acl.value, str) and acl.value.lower() in PUBLIC_ACLS:
            yield violation(resource, acl, "the bucket is readable by anyone", "private")
        body = first(resource.props, "aclBody")
        if body is not None and isinstance(body.value, str) and "AllUsers" in body.value:
            yield violation(resource, body, "the ACL grants AllUsers", "grants to named accounts")
    if resource.type in POLICY_TYPES:
        policy = first(resource.props, "policy")
        if policy is not None and isinstance(policy.value, str):
            for action in _public_statements(policy):
                yield violation(
                    resource,
                    policy,
                    f"a statement allows {action or 'actions'} to anyone (Principal '*')",
                    "statements for named accounts or roles",
                )


RULES = (
    Rule(
        id="exposure-bucket-public-access",
        title="No public buckets",
        description="OSS and COS buckets grant no public read or write: no public-read / "
        "public-read-write ACL, no AllUsers grant, no bucket policy allowing anyone.",
        severity="high",
        enforcement="mandatory",
        remediation="Set acl='private' and grant access to named RAM/CAM identities; serve "
        "public files (e.g. the MTA-STS policy) from a separate bucket with no mail data, under "
        "an exemption.",
        controls=("PDPO-DPP4", "ISO27001-A.8.3", "ISO27001-A.8.12", "HKMA-TM-G-1"),
        check=check_public,
        types=(*ACL_TYPES, *POLICY_TYPES),
    ),
)
