"""Encryption at rest with a customer KMS key in Hong Kong (disks, buckets, databases, logs)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from .. import regions
from ..model import ALLOWED_REGIONS_SCHEMA, Context, Finding, Resource, Rule, violation
from ..values import SECRET_SIG, SIG_KEY, UNKNOWNS, Leaf


@dataclass(frozen=True)
class Requirement:
    """`on` must hold one of `on_values` (None: the key alone turns encryption on) and `key`
    must name a KMS key. With `each`, the requirement applies to every element of that list."""

    key: str
    on: str | None = None
    on_values: tuple[Any, ...] = (True,)
    each: str | None = None


DISK = Requirement(key="kmsKeyId", on="encrypted")
# Type token -> what makes it encrypted with a customer-managed KMS key. Tokens and property paths
# are checked against the installed SDKs by tests/test_policy_metadata.py.
REQUIREMENTS: dict[str, tuple[Requirement, ...]] = {
    "alicloud:ecs/disk:Disk": (DISK,),
    "alicloud:ecs/ecsDisk:EcsDisk": (DISK,),
    "alicloud:ecs/instance:Instance": (
        Requirement(key="systemDiskKmsKeyId", on="systemDiskEncrypted"),
        Requirement(key="kmsKeyId", on="encrypted", each="dataDisks"),
    ),
    "alicloud:oss/bucket:Bucket": (
        Requirement(
            key="serverSideEncryptionRule.kmsMasterKeyId",
            on="serverSideEncryptionRule.sseAlgorithm",
            on_values=("KMS",),
        ),
    ),
    "alicloud:oss/bucketServerSideEncryption:BucketServerSideEncryption": (
        Requirement(key="kmsMasterKeyId", on="sseAlgorithm", on_values=("KMS",)),
    ),
    "alicloud:rds/instance:Instance": (Requirement(key="encryptionKey"),),
    "alicloud:polardb/cluster:Cluster": (
        Requirement(key="encryptionKey", on="tdeStatus", on_values=("Enabled",)),
    ),
    "alicloud:log/store:Store": (
        Requirement(key="encryptConf.userCmkInfo.cmkKeyId", on="encryptConf.enable"),
    ),
    "alicloud:nas/fileSystem:FileSystem": (
        Requirement(key="kmsKeyId", on="encryptType", on_values=(2, "2")),
    ),
    "tencentcloud:Cbs/storage:Storage": (Requirement(key="kmsKeyId", on="encrypt"),),
    "tencentcloud:Instance/instance:Instance": (
        Requirement(key="kmsKeyId", on="encrypt", each="dataDisks"),
    ),
    "tencentcloud:Cos/bucket:Bucket": (
        Requirement(key="kmsId", on="encryptionAlgorithm", on_values=("KMS",)),
    ),
}
# An OSS bucket may instead be encrypted by a separate resource that names it.
OSS_SSE = "alicloud:oss/bucketServerSideEncryption:BucketServerSideEncryption"

_MISSING = object()
_UNKNOWN = object()


def _unwrap(node: Any) -> Any:
    if isinstance(node, Mapping) and node.get(SIG_KEY) == SECRET_SIG:
        return _unwrap(node.get("value"))
    if isinstance(node, str) and node in UNKNOWNS:
        return _UNKNOWN
    if isinstance(node, float) and node.is_integer():
        return int(node)
    return node


def _get(obj: Mapping[str, Any], dotted: str) -> Any:
    node: Any = obj
    for part in dotted.split("."):
        node = _unwrap(node)
        if node is _UNKNOWN:
            return _UNKNOWN
        if not isinstance(node, Mapping) or part not in node:
            return _MISSING
        node = node[part]
    return _unwrap(node)


def _elements(resource: Resource, req: Requirement) -> Iterator[tuple[str, Mapping[str, Any]]]:
    if req.each is None:
        yield "", resource.props
        return
    items = _unwrap(resource.props.get(req.each))
    if isinstance(items, list):
        for i, item in enumerate(items):
            item = _unwrap(item)
            if isinstance(item, Mapping):
                yield f"{req.each}[{i}].", item


def _requirement_findings(resource: Resource, req: Requirement, ctx: Context) -> Iterator[Finding]:
    allowed = ctx.allowed_regions()
    want = "a customer KMS key in " + ", ".join(allowed)
    for prefix, obj in _elements(resource, req):
        if req.on is not None:
            on = _get(obj, req.on)
            if on is not _UNKNOWN and on not in req.on_values:
                path = prefix + req.on
                leaf = Leaf(path, path, None if on is _MISSING else on, False, False)
                expected = " or ".join(repr(v) for v in req.on_values)
                yield violation(resource, leaf, "encryption at rest is off", f"{expected}; {want}")
                continue
        key = _get(obj, req.key)
        path = prefix + req.key
        if key is _MISSING or key in (None, ""):
            yield violation(
                resource,
                Leaf(path, path, None if key is _MISSING else key, False, False),
                "no customer-managed KMS key (a service-managed key leaves key control "
                "with the provider)",
                want,
            )
        elif isinstance(key, str):
            bad = [r for r in regions.embedded_regions(key) if not regions.in_allowed(r, allowed)]
            if bad:
                leaf = Leaf(path, path, key, False, False)
                yield violation(resource, leaf, f"KMS key is in {', '.join(bad)}", want)


def _encrypted_by_sibling(bucket: Resource, ctx: Context) -> bool:
    name = _get(bucket.props, "bucket")
    for other in ctx.stack:
        if other.type != OSS_SSE:
            continue
        deps = other.property_dependencies.get("bucket", ())
        if bucket.urn in deps or (isinstance(name, str) and _get(other.props, "bucket") == name):
            return True
    return False


def check_encryption(resource: Resource, ctx: Context) -> Iterable[Finding]:
    reqs = REQUIREMENTS.get(resource.type, ())
    if resource.type == "alicloud:oss/bucket:Bucket" and _encrypted_by_sibling(resource, ctx):
        return  # the BucketServerSideEncryption resource is checked on its own
    for req in reqs:
        for finding in _requirement_findings(resource, req, ctx):
            yield Finding(finding.message, resource.urn)


RULES = (
    Rule(
        id="encryption-at-rest-kms",
        title="Encrypted at rest with a Hong Kong KMS key",
        description="Disks, buckets, databases, file systems and log stores are encrypted at "
        "rest with a customer-managed KMS key in the allowed regions (a bucket may be encrypted "
        "by a separate BucketServerSideEncryption resource that names it).",
        severity="high",
        enforcement="mandatory",
        remediation="Create an alicloud.kms.Key / tencentcloud.kms.Key through the Hong Kong "
        "provider and set the resource's encryption flag and key id (e.g. encrypted=True, "
        "kms_key_id=key.id; OSS server_side_encryption_rule sse_algorithm='KMS'; COS "
        "encryption_algorithm='KMS', kms_id=key.id).",
        controls=(
            "PDPO-DPP4",
            "HKMA-TM-G-1",
            "HKMA-CLOUD-2022",
            "ISO27001-A.8.24",
            "ISO27001-A.5.34",
        ),
        check=check_encryption,
        types=tuple(REQUIREMENTS),
        scope="stack",
        config_schema=ALLOWED_REGIONS_SCHEMA,
    ),
)
