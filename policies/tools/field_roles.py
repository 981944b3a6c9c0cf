"""Generate the pack's field-role table: how each region- or endpoint-bearing input relates to data.

A reviewer signs a verdict about data leaving Hong Kong, so the pack must know which way an input
points, not only that it names a region (policies/hkmail_policy/flows.py, FieldRole):

- placement:   where the resource itself stores or runs (`zoneId`, `region` of an instance);
- destination: where it sends data (replica, backup copy, delivery target, export);
- source:      where it takes data from (the master of a DR replica, the source vault of a backup
               replication, the origin a bucket mirrors from, a container image it pulls);
- both:        both ways (a two-way sync: its reverse job writes Hong Kong changes back out);
- read:        a region or value it only selects or reads (a trail's recorded region, a route
               map's match condition, a DNS resolution line).

Region-bearing inputs are the ones `region_coverage.py` finds in the SDK schemas; endpoint-bearing
inputs that only read (origin-pull mirror URLs, container images, DNS lines) are found by name in
every input path of the same walk. A role comes from, in order: a documented exception
(OVERRIDES, each with the SDK docstring that says so), the innermost path segment that says
destination or source (camel-case words), the copy/replication words of coverage.py, else
placement. Roles that depend on another input's value (DTS `syncArchitecture: bidirectional`)
are written with their condition. A test regenerates the file and fails if it is stale.

It also lists the environment-variable inputs of functions and containers (`environments`): where
code reads the addresses it sends data to. From the schema: an input named for the environment
(ENV_INPUT) that is a map of names to values (`map`: FC `environmentVariables`, SCF
`environment`), or a list of objects with a name and a value (`pairs`: ECI
`containers[].environmentVars[]` with `key`/`value`, TSF `envs[]` with `name`/`value`), or a
string whose SDK docs give a JSON shape (`json`: JSON_ENVIRONMENTS, each with its docstring; the
generator fails when the input is gone). Every string input of both SDKs whose name or docstring
speaks of environment variables was read for this (pulumi-alicloud 4.0.0,
tencentcloud-iac-pulumi 0.2.3): SAE `Application.envs` is the only one documented as JSON; EHPC
`JobTemplate.variables` is documented only as "The Job of the Environment Variable." (no format
published), so it is not decoded; EDAS `K8sApplication.envs` is a map in the SDK (`map`).

    python policies/tools/field_roles.py            # rewrite hkmail_policy/field_roles.json
    python policies/tools/field_roles.py --check    # exit 1 if the data file is stale
"""

from __future__ import annotations

import re
import sys
from importlib.metadata import version
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import generated_table  # noqa: E402
from hkmail_policy.coverage import SCOPE_ONLY, is_copy_target  # noqa: E402
from region_coverage import SDKS, generate_with_docs  # noqa: E402

DATA_FILE = HERE.parent / "hkmail_policy" / "field_roles.json"

_WORDS = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|[0-9]+")
DEST_WORDS = frozenset({"dest", "destination", "dst", "target", "drop", "dlq", "dead", "deliver",
                        "delivery", "sink", "export"})  # fmt: skip
SOURCE_WORDS = frozenset({"source", "src", "origin"})

# Documented exceptions: (type token, path) -> (role, the SDK docstring or doc that says why).
OVERRIDES: dict[tuple[str, str], tuple[str, str]] = {
    ("tencentcloud:Mysql/drInstance:DrInstance", "masterRegion"): (
        "source", "The zone information of the primary instance is required when you purchase a "
        "disaster recovery instance. (the DR instance replicates FROM its primary)"),
    ("tencentcloud:Mysql/readonlyInstance:ReadonlyInstance", "masterRegion"): (
        "source", "The zone information of the primary instance (a read-only replica copies "
        "FROM its primary)"),
    ("alicloud:hbr/replicationVault:ReplicationVault", "replicationSourceRegionId"): (
        "source", "The region ID of the source backup vault."),
    ("alicloud:cen/routeMap:RouteMap", "sourceRegionIds[]"): (
        "read", "The source region IDs of the route map: a match condition, moves no data"),
}  # fmt: skip
# Roles that depend on another input of the same object: (type, path) -> (input, values, role,
# the doc).
CONDITIONAL: dict[tuple[str, str], tuple[str, tuple[str, ...], str, str]] = {
    ("alicloud:dts/synchronizationInstance:SynchronizationInstance", "sourceEndpointRegion"): (
        "syncArchitecture", ("bidirectional",), "both",
        "The sync architecture. Valid values: `oneway`, `bidirectional`."),
    ("alicloud:dts/synchronizationJob:SynchronizationJob", "sourceEndpointRegion"): (
        "synchronizationDirection", ("Reverse",), "both",
        "Synchronization direction. Valid values: `Forward`, `Reverse`. Only when the property "
        "`sync_architecture` of the `dts.SynchronizationInstance` was `bidirectional`"),
}  # fmt: skip

# Endpoint-bearing inputs that only read, by their last segment (not region-named, so not in
# region_properties.json): origin-pull / mirror URLs, container images, DNS resolution lines.
READ_ENDPOINTS = re.compile(
    r"^(mirror(Url|URL|Urls|Host|Address|Addr)?|mirrorURLs?|image|images|imageUrl|imageUri"
    r"|originPullUrl|pullUrl)$"
)
DNS_LINE = re.compile(r"^(line|lines|recordLine|recordLineId|lineId|routing)$")
# Endpoint-bearing inputs that receive data (webhooks, callbacks, notification / delivery / sink
# endpoints): a value not known before apply there fails closed, a literal host is judged by the
# host table.
SEND_ENDPOINTS = re.compile(
    r"(?i)^(webhook\w*|\w*Web[Hh]ook(Url|s)?|callbackUrl|\w*NotifyUrl|notifyUrl|pushUrl)$"
)
SEND_LAST = re.compile(r"^(endpoint|url|uri)$")
SEND_CONTEXT = frozenset({"target", "destination", "subscription", "notice", "push", "sink",
                          "deliver", "delivery", "callback", "webhook", "notify",
                          "notification"})  # fmt: skip
# Objects whose values an origin-pull / mirror reads from (COS originPullRules[].host)
READ_OBJECTS = re.compile(r"^(originPullRules|mirrorRules|mirror\w*)$")
ENDPOINT_LAST = re.compile(r"(?i)^.*(host|url|uri|domain|address|endpoint)s?$")
DNS_MODULES = re.compile(r"(?i)^(dns|alidns|dnspod|privatedns|pvtz)/")
# Inputs holding environment variables, by their last segment (a map or a list of name/value
# objects: a plain string of that name is a deployment stage, e.g. API Gateway `environment`).
ENV_INPUT = re.compile(
    r"^(env|envs|envVars|envConfs|environment|environmentVars|environmentVariables)$"
)


# Environment inputs given as one JSON-encoded string: (type, path) -> (the documented shape as
# {"name": key of the variable's name, "value": key of its value, "reference": key of a
# reference to a value kept elsewhere}, the SDK docstring and the API doc that say so).
JSON_ENVIRONMENTS: dict[tuple[str, str], tuple[dict[str, str], str]] = {
    ("alicloud:sae/application:Application", "envs"): (
        {"name": "name", "value": "value", "reference": "valueFrom"},
        'Container environment variable parameters. For example,`[{"name":"envtmp","value":"0"}]`'
        " (pulumi-alicloud 4.0.0 sae/application.py); SAE API DeployApplication `Envs`: a name "
        "with a `value`, or a `valueFrom` {configMapRef: {configMapId, key}} naming a key of an "
        "SAE ConfigMap"),
}  # fmt: skip


def _words(segment: str) -> list[str]:
    return [w.lower().removesuffix("s") for w in _WORDS.findall(segment.rstrip("[]"))]


def path_role(type_token: str, path: str) -> str:
    if (type_token, path) in OVERRIDES:
        return OVERRIDES[(type_token, path)][0]
    if path in SCOPE_ONLY.get(type_token, ()):
        return "read"
    for segment in reversed(path.split(".")):
        words = set(_words(segment))
        if words & DEST_WORDS:
            return "destination"
        if words & SOURCE_WORDS:
            return "source"
    return "destination" if is_copy_target(path) else "placement"


def endpoint_role(type_token: str, path: str) -> str | None:
    segments = [s.rstrip("[]") for s in path.split(".")]
    last = segments[-1]
    module = type_token.split(":", 2)[1] if type_token.count(":") >= 2 else ""
    if last.endswith(("Id", "Ids")):
        return None  # an id of a webhook object, not an address
    context = {w for s in [*segments[:-1], type_token.rsplit(":", 1)[-1]] for w in _words(s)}
    if SEND_ENDPOINTS.match(last) or (SEND_LAST.match(last) and context & SEND_CONTEXT):
        return "destination"
    if DNS_LINE.match(last) and DNS_MODULES.match(module):
        return "read"
    if READ_ENDPOINTS.match(last):
        return "source"
    if ENDPOINT_LAST.match(last) and any(
        READ_OBJECTS.match(seg.rstrip("[]")) for seg in path.split(".")[:-1]
    ):
        return "source"
    return None


def environments(every: dict[str, set[str]]) -> dict[str, dict[str, dict[str, str]]]:
    """type -> env input path -> {"form": "map"} or {"form": "pairs", "name": .., "value": ..}."""
    out: dict[str, dict[str, dict[str, str]]] = {}
    for token, paths in every.items():
        for p in sorted(paths):
            last = p.rsplit(".", 1)[-1]
            if p.endswith("{}") and ENV_INPUT.match(last[:-2]):
                out.setdefault(token, {})[p[:-2]] = {"form": "map"}
            elif p.endswith("[]") and ENV_INPUT.match(last[:-2]) and f"{p}.value" in paths:
                name = next((n for n in ("key", "name") if f"{p}.{n}" in paths), None)
                if name is not None:
                    out.setdefault(token, {})[p] = {"form": "pairs", "name": name, "value": "value"}
    for (token, path), (keys, doc) in JSON_ENVIRONMENTS.items():
        assert path in every.get(token, set()), f"{token} {path} is not an input any more"
        out.setdefault(token, {})[path] = {"form": "json", **keys, "doc": doc}
    return out


def generate() -> dict[str, object]:
    region_data, _, every, docs = generate_with_docs()
    types = region_data["types"]
    assert isinstance(types, dict)
    roles: dict[str, dict[str, str]] = {}
    for token, paths in types.items():
        roles[token] = {p: path_role(token, p) for p in paths}
    for token, paths in every.items():
        for p in sorted(paths):
            role = endpoint_role(token, p)
            if role is not None and p not in roles.get(token, {}):
                roles.setdefault(token, {})[p] = role
    conditional = {
        token: {path: {"when": {field: list(values)}, "role": role, "doc": doc}}
        for (token, path), (field, values, role, doc) in sorted(CONDITIONAL.items())
    }
    for (token, path), _ in CONDITIONAL.items():
        assert path in roles.get(token, {}), f"{token} {path} is not an input any more"
    for (token, path), _ in OVERRIDES.items():
        assert path in roles.get(token, {}), f"{token} {path} is not an input any more"
    counts: dict[str, int] = {}
    for paths in roles.values():
        for role in paths.values():
            counts[role] = counts.get(role, 0) + 1
    del docs
    return {
        "generatedBy": "policies/tools/field_roles.py",
        "sdkVersions": {p: version(p) for p in SDKS},
        "counts": dict(sorted(counts.items())),
        "roles": {t: dict(sorted(p.items())) for t, p in sorted(roles.items())},
        "conditional": conditional,
        "environments": dict(sorted(environments(every).items())),
    }


render = generated_table.render


def main(argv: list[str] | None = None) -> int:
    return generated_table.main(argv, __file__, DATA_FILE, generate, __doc__ or "")


if __name__ == "__main__":
    sys.exit(main())
