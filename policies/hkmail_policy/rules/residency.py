"""Residency: nothing is placed, copied or served outside the allowed (Hong Kong) regions."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from .. import commands, endpoints, envjson, envnames, flows, regions
from ..controls import RESIDENCY
from ..coverage import (
    conditional_roles,
    copy_target_paths,
    endpoint_destination_paths,
    environment_inputs,
    placement_paths,
    region_paths,
    roled_types,
    service_defaults,
    source_paths,
)
from ..model import ALLOWED_REGIONS_SCHEMA, Context, Finding, Resource, Rule, violation
from ..placement import Mention, is_free_text, mentions, region_value_problems
from ..values import Leaf, find, first, leaves, texts, under
from .mailflows import declarations_for
from .notify import SETTINGS_PATH as NOTIFY_SETTINGS_PATH

CLOUD_PACKAGES = {
    "alicloud": "ALICLOUD_REGION or the alicloud:region config",
    "tencentcloud": "TENCENTCLOUD_REGION or the provider default ap-guangzhou",
}
# The built-in `pulumi` provider (StackReference brings one) and Pulumi's own types place nothing.
BUILTIN_REGIONLESS = frozenset({"pulumi"})


def _allowed_text(ctx: Context) -> str:
    return ", ".join(ctx.allowed_regions()) + " (and their zones)"


def _provider_region(
    resource: Resource, subject: str, props: Mapping[str, Any], ctx: Context
) -> Iterator[Finding]:
    """The provider's own `region` input: present, literal, and allowed."""
    leaf = first(props, "region")
    pkg = resource.package
    if leaf is None or leaf.value in (None, ""):
        yield violation(
            resource,
            None,
            f"{subject} has no explicit region, so it falls back to {CLOUD_PACKAGES[pkg]}",
            _allowed_text(ctx),
        )
    elif leaf.unknown:
        yield violation(resource, leaf, f"{subject} region is not known before apply", "a literal")
    elif not isinstance(leaf.value, str) or not regions.in_allowed(
        leaf.value, ctx.allowed_regions()
    ):
        yield violation(
            resource, leaf, f"{subject} region is outside Hong Kong", _allowed_text(ctx)
        )


def check_provider_region(resource: Resource, ctx: Context) -> Iterable[Finding]:
    if resource.type.startswith("pulumi:providers:"):
        pkg = resource.package
        if pkg in CLOUD_PACKAGES:
            # a default provider's region comes from the deploying environment, whatever it is
            # used for; an explicit provider is judged through what is created with it (each
            # resource names it), so one used only to read (get_* invokes, Resource.get())
            # blocks nothing: residency-read-elsewhere reports it
            if resource.name.startswith("default"):
                yield violation(
                    resource,
                    None,
                    f"default {pkg} provider: its region comes from {CLOUD_PACKAGES[pkg]}, not "
                    "from the program",
                    f"an explicit {pkg}.Provider with region in {_allowed_text(ctx)}",
                )
                yield from _provider_region(resource, "the provider", resource.props, ctx)
        elif pkg not in BUILTIN_REGIONLESS and pkg not in ctx.config.get("regionlessPackages", []):
            yield violation(
                resource,
                None,
                f"provider package '{pkg}' is not reviewed for Hong Kong residency",
                "alicloud, tencentcloud or a package listed in regionlessPackages",
            )
        return
    if resource.package not in CLOUD_PACKAGES:
        return  # components and region-less packages
    prov = resource.provider
    if prov is None:
        yield violation(
            resource, None, "the request names no provider, so its region cannot be verified",
            f"a provider with region in {_allowed_text(ctx)}",
        )  # fmt: skip
        return
    subject = f"its provider {prov.urn}"
    if prov.name.startswith("default"):
        yield violation(
            resource,
            None,
            f"{subject} is a default provider (region from {CLOUD_PACKAGES[resource.package]})",
            "an explicit provider passed with provider= or providers= on a parent",
        )
    yield from _provider_region(resource, subject, prov.props, ctx)


_used_cache: dict[int, tuple[object, frozenset[str]]] = {}


def _used_providers(stack: tuple[Resource, ...] | Any) -> frozenset[str]:
    """URNs of the providers some resource is created with: computed once per stack (the rule
    runs for every provider; a scan per provider would be quadratic in a large stack)."""
    hit = _used_cache.get(id(stack))
    if hit is not None and hit[0] is stack:
        return hit[1]
    used = frozenset(r.provider.urn for r in stack if r.provider is not None)
    _used_cache.clear()
    _used_cache[id(stack)] = (stack, used)
    return used


def check_read_elsewhere(resource: Resource, ctx: Context) -> Iterable[Finding]:
    """An explicit cloud provider outside Hong Kong (or of unknown region) that creates nothing:
    it only reads (get_* invokes, Resource.get()), and a read stores nothing there."""
    if resource.package not in CLOUD_PACKAGES or resource.name.startswith("default"):
        return
    problems = list(_provider_region(resource, "the provider", resource.props, ctx))
    if not problems or resource.urn in _used_providers(ctx.stack):
        return
    yield Finding(
        f"{problems[0].message} No resource is created through it: it only reads (get_* "
        "invokes, Resource.get()), which stores nothing there. What a read returns is judged "
        "where it is used (a zone it returns, used to place a resource, is placement)."
    )


def _check_paths(
    resource: Resource, ctx: Context, paths: tuple[str, ...], what: str
) -> Iterator[Finding]:
    if not paths:
        return
    allowed = ctx.allowed_regions()
    seen: set[str] = set()
    for leaf in leaves(resource.props):
        exact = any(leaf.shape == p for p in paths)
        # the schema says which inputs carry a region: a free-text-looking name (`regionName`
        # of a registry replication) is judged when the table lists it
        if leaf.path in seen or (not exact and is_free_text(leaf.shape)):
            continue
        if not exact and not any(under(leaf.shape, p) for p in paths):
            continue
        seen.add(leaf.path)
        for problem in region_value_problems(leaf, resource.package, allowed, strict=exact):
            yield violation(resource, leaf, f"{what}: {problem}", _allowed_text(ctx))


def check_resource_region(resource: Resource, ctx: Context) -> Iterable[Finding]:
    yield from _check_paths(resource, ctx, placement_paths(resource.type), "placement")


def _condition_holds(props: Mapping[str, Any], when: Mapping[str, list[str]]) -> bool:
    return all(
        str(props.get(k, "")).lower() in {str(v).lower() for v in values}
        for k, values in when.items()
    )


def resource_place(resource: Resource, ctx: Context) -> flows.Place:
    """Where the resource itself is: its provider's literal region, else not known."""
    leaf = first(resource.provider.props, "region") if resource.provider else None
    if leaf is None or leaf.unknown or not isinstance(leaf.value, str) or not leaf.value:
        return flows.unknown_place(f"{resource.describe()} (provider region not known)")
    return flows.region_place(leaf.value, ctx.allowed_regions())


def _copy_flows(resource: Resource, ctx: Context) -> Iterator[tuple[Leaf, flows.Flow]]:
    """Flows out through the resource's destination inputs (replicas, copies, deliveries, the
    return path of a two-way sync), each with the input that sets it up."""
    allowed = ctx.allowed_regions()
    here = resource_place(resource, ctx)
    targets = {p: "copies of its data" for p in copy_target_paths(resource.type)}
    for path, entry in conditional_roles(resource.type).items():
        if entry["role"] in ("both", "destination") and _condition_holds(
            resource.props, entry["when"]
        ):
            targets[path] = (
                "data written back by the two-way sync (the reverse direction: changes made "
                "on this side flow to the other)"
            )
    endpoints = endpoint_destination_paths(resource.type)
    seen: set[str] = set()
    for leaf in leaves(resource.props):
        if leaf.path in seen:
            continue
        exact = leaf.shape in targets
        inside = next((p for p in targets if under(leaf.shape, p)), None)
        if exact or inside is not None:
            seen.add(leaf.path)
            data = targets[leaf.shape if exact else inside or ""]
            via = f"{resource.describe()} input {leaf.path}"
            if leaf.unknown and exact:
                yield leaf, flows.Flow(here, flows.unknown_place(leaf.path), data, via,
                                       "replication")  # fmt: skip
                continue
            problems = list(region_value_problems(leaf, resource.package, allowed, strict=exact))
            if problems:
                name = leaf.value if isinstance(leaf.value, str) else leaf.shown()
                known = regions.region_of(name) if isinstance(leaf.value, str) else None
                fact = "; ".join(problems)
                if known:
                    fact = f"region {known}: {regions.country_of(known)}; {fact}"
                dest = flows.Place(name, "outside", fact)
                yield leaf, flows.Flow(here, dest, data, via, "replication")
        elif leaf.unknown and leaf.shape in endpoints:
            seen.add(leaf.path)
            yield leaf, flows.Flow(
                here, flows.unknown_place(leaf.path), "what it sends (notifications, events, "
                "deliveries)", f"{resource.describe()} input {leaf.path}", "export",
            )  # fmt: skip


def _inbound_flows(resource: Resource, ctx: Context) -> Iterator[flows.Flow]:
    """Flows INTO the resource through its source inputs (the primary of a DR replica, the
    source vault of a backup replication, the region a copy or sync comes from)."""
    here = resource_place(resource, ctx)
    for path in source_paths(resource.type):  # a two-way sync's outbound half: _copy_flows
        for leaf in find(resource.props, path):
            if isinstance(leaf.value, str) and leaf.value and not leaf.unknown:
                yield flows.Flow(
                    flows.region_place(leaf.value, ctx.allowed_regions()), here,
                    "data copied or synchronised in", f"{resource.describe()} input {leaf.path}",
                    "replication",
                )  # fmt: skip


def resource_flows(resource: Resource, ctx: Context) -> list[flows.Flow]:
    """Every flow the residency rules find through a resource's region- and endpoint-bearing
    inputs, in and out, for flow lists in plans and reports (the rules judge the same flows)."""
    return [flow for _, flow in _copy_flows(resource, ctx)] + list(_inbound_flows(resource, ctx))


def _judged(
    resource: Resource, leaf: Leaf, flow: flows.Flow, ctx: Context, *, attestable: bool = True
) -> Iterator[Finding]:
    """A flow out through an input, judged as the mail-flow rules judge theirs (flows.judge with
    the attestations scoped to the stack): declared is shown (advisory), blocked or unknown is
    a violation. attestable=False: the destination is a region the value names, which no
    vendor's statement about its system can make Hong Kong (only an exemption applies)."""
    declarations = declarations_for(resource) if attestable else flows.NO_DECLARATIONS
    j = flows.judge(flow, declarations, ctx.today)
    if j.verdict == "declared":
        yield Finding(
            f"{flows.DECLARED_PREFIX}{j.declared_by}] {resource.describe()}: input {leaf.path}: "
            f"{flow.describe()}: {j.reason}"
        )
    elif j.blocking:
        yield violation(resource, leaf, j.message(), _allowed_text(ctx))


def check_cross_region_copy(resource: Resource, ctx: Context) -> Iterable[Finding]:
    for leaf, flow in _copy_flows(resource, ctx):
        # every destination here is a region the value names (or not known): a host-shaped one
        # (oss-cn-beijing.aliyuncs.com) is matched by no attestation glob
        yield from _judged(resource, leaf, flow, ctx, attestable=False)


def _mention_flow(resource: Resource, m: Mention, ctx: Context) -> flows.Flow:
    """What a region id or a regional service host named in a value sets up: data going there
    (only a host of unpublished region is a system a vendor can attest: _attestable)."""
    if m.service:
        where = m.region or "a region not recognisably Hong Kong"
        dest = flows.Place(m.what, "outside", f"{m.service} host in {where}")
    else:
        dest = flows.region_place(m.what, ctx.allowed_regions())
    return flows.Flow(
        resource_place(resource, ctx), dest, "what the resource sends or keeps there",
        f"{resource.describe()} input {m.leaf.path}{m.where()}",
        "api-call" if m.service else "export",
    )  # fmt: skip


def _attestable(m: Mention) -> bool:
    """Only a service host whose region the host table cannot tell may be declared by an
    attestation: one the table places outside Hong Kong (dashscope.aliyuncs.com = Beijing) is
    a documented region, judged like a region id (only a reviewed exemption admits it), however
    widely an attestation's glob reaches."""
    return bool(m.service) and m.region is None


def check_embedded_region(resource: Resource, ctx: Context) -> Iterable[Finding]:
    """Each region or regional service host a value names: a host of unpublished region that an
    attestation on file for the stack covers (flows.judge) is shown as declared (advisory); the
    rest of the value's mentions are one violation, as before."""
    by_leaf: dict[str, list[Mention]] = {}
    for m in mentions(resource, ctx.allowed_regions()):
        if m.kind == "regional":
            by_leaf.setdefault(m.leaf.path, []).append(m)
    declarations = declarations_for(resource)
    for found in by_leaf.values():
        parts = []
        for m in found:
            if _attestable(m):
                flow = _mention_flow(resource, m, ctx)
                if flows.judge(flow, declarations, ctx.today).verdict == "declared":
                    yield from _judged(resource, m.leaf, flow, ctx)
                    continue
            if m.service:
                where = m.region or "a region not recognisably Hong Kong"
                parts.append(f"{m.service} host {m.what} ({where}){m.where()}")
            else:
                parts.append(f"region {m.what}{m.where()}")
        if parts:
            yield violation(resource, found[0].leaf, "value names " + "; ".join(parts),
                            _allowed_text(ctx))  # fmt: skip


def _prefix_check(resource: Resource, ctx: Context, why: str) -> Iterable[Finding]:
    for prefix in ctx.config.get("typePrefixes", []):
        if resource.type.startswith(prefix):
            yield violation(resource, None, why, "none without a reviewed exemption")
            return


def _host_findings(resource: Resource, ctx: Context, kind: str, why: str) -> Iterator[Finding]:
    for m in mentions(resource, ctx.allowed_regions()):
        if m.kind == kind:
            yield violation(
                resource, m.leaf, f"names {m.service} ({m.what}){m.where()}: {why}",
                "none without a reviewed exemption",
            )  # fmt: skip


def check_no_hk_service(resource: Resource, ctx: Context) -> Iterable[Finding]:
    yield from _prefix_check(
        resource,
        ctx,
        "this service has no Hong Kong region (Alibaba DirectMail: cn-hangzhou, ap-southeast-1/2, "
        "us-east-1, eu-central-1), so the data it handles (mail content) leaves Hong Kong",
    )
    yield from _host_findings(
        resource, ctx, "no-hk-service",
        "this service has no Hong Kong region, so the mail it carries leaves Hong Kong",
    )  # fmt: skip


# Global-edge features of otherwise regional resources: (type token, input path, values that
# switch it on (None: any value set), what it does).
EDGE_FEATURES: tuple[tuple[str, str, tuple[object, ...] | None, str], ...] = (
    ("alicloud:oss/bucket:Bucket", "transferAcceleration.enabled", (True,),
     "OSS transfer acceleration routes the bucket's traffic through acceleration points of "
     "presence worldwide"),
    ("alicloud:oss/bucketTransferAcceleration:BucketTransferAcceleration", "enabled", (True,),
     "OSS transfer acceleration routes the bucket's traffic through acceleration points of "
     "presence worldwide"),
    ("tencentcloud:Cos/bucket:Bucket", "accelerationEnable", (True,),
     "COS global acceleration carries the bucket's traffic through acceleration nodes worldwide"),
    ("tencentcloud:Eip/instance:Instance", "type", ("AnycastEIP",),
     "an Anycast EIP takes traffic in at points of presence outside Hong Kong"),
    ("tencentcloud:Eip/instance:Instance", "anycastZone", None,
     "an Anycast EIP takes traffic in at points of presence outside Hong Kong"),
)  # fmt: skip


def check_global_edge(resource: Resource, ctx: Context) -> Iterable[Finding]:
    yield from _prefix_check(
        resource,
        ctx,
        "a global edge (CDN / edge security / global acceleration / anycast) caches or carries "
        "the data it fronts in points of presence outside Hong Kong",
    )
    for type_token, path, on, what in EDGE_FEATURES:
        if resource.type != type_token:
            continue
        for leaf in find(resource.props, path):
            if (
                leaf.unknown
                or leaf.value in (None, "")
                or (on is not None and leaf.value not in on)
            ):
                continue
            yield violation(resource, leaf, what, "the feature off, or a reviewed exemption")
    yield from _host_findings(
        resource, ctx, "global-edge",
        "a global acceleration endpoint carries the data through points of presence outside "
        "Hong Kong",
    )  # fmt: skip


def _carries_notify_settings(leaf: Leaf) -> bool:
    """The mail server's notifier settings (its platform hosts) are judged, rule by rule with
    their cross-border declarations, by residency-mail-notify: not judged twice here."""
    return isinstance(leaf.value, str) and any(
        NOTIFY_SETTINGS_PATH in text for _, text in texts(leaf.value)
    )


def check_data_sent(resource: Resource, ctx: Context) -> Iterable[Finding]:
    """Data sent to a system whose storage location is not published (chat webhooks): a flow
    out unless declared (an attestation of Hong Kong storage on file, or an exemption)."""
    here = resource_place(resource, ctx)
    for m in mentions(resource, ctx.allowed_regions()):
        if m.kind != "not-published" or _carries_notify_settings(m.leaf):
            continue
        dest = flows.Place(
            m.what, "not-published", f"{m.service}: storage location not published by the vendor"
        )
        via = f"{resource.describe()} input {m.leaf.path}{m.where()}"
        data = "what the resource sends there (messages, notifications)"
        yield from _judged(resource, m.leaf, flows.Flow(here, dest, data, via, "notification"), ctx)


_URL_HOST = re.compile(r"(?i)\b(?:https?|smtps?|wss?)://(?:[^@/\s]*@)?([a-z0-9.-]+\.[a-z]{2,})")


def _env_var(resource: Resource, leaf: Leaf) -> str | None:
    """The variable's name when `leaf` is the value of an environment variable of a function or
    container (field_roles.json `environments`, from the SDK schemas), else None."""
    if isinstance(leaf, envjson.EnvLeaf):
        return leaf.var  # a variable decoded from a JSON environment string
    for path, env in environment_inputs(resource.type).items():
        if env["form"] == "json":
            continue  # its raw text is no variable: envjson.expanded reads it
        if env["form"] == "map":
            if leaf.shape.startswith(path + "."):
                return leaf.shape[len(path) + 1 :]
        elif leaf.shape == f"{path}.{env['value']}":
            sibling = leaf.path[: -len(env["value"])] + env["name"]
            named = first_at(resource.props, sibling)
            return named if isinstance(named, str) else ""
    return None


def first_at(props: Mapping[str, Any], path: str) -> object:
    """The value at a concrete path (`containers[0].environmentVars[1].key`), or None."""
    node: object = props
    for seg in path.split("."):
        name, _, rest = seg.partition("[")
        if not isinstance(node, Mapping):
            return None
        node = node.get(name)
        for index in re.findall(r"(\d+)\]", "[" + rest) if rest else ():
            if not isinstance(node, list) or int(index) >= len(node):
                return None
            node = node[int(index)]
    return node


def _receiving_text(resource: Resource, leaf: Leaf) -> Iterator[tuple[str, str]]:
    """(where, text) of what in `leaf` names a receiver of data: an endpoint input that receives
    (field_roles.json), an environment variable not named only for a read (envnames.py: any URL
    in an environment is a destination unless its name proves a read), or the command lines of a
    script (user data, command content, decoded) that can send and do not only read."""
    if leaf.shape in endpoint_destination_paths(resource.type):
        yield "", leaf.value
        return
    var = _env_var(resource, leaf)
    if var is not None:
        shown = leaf.label if isinstance(leaf, envjson.EnvLeaf) else var  # a secret's: #index
        if not envnames.read_only(var):
            yield f" (environment variable {shown})" if shown else "", leaf.value
        return
    for how, text in texts(leaf.value):
        sending = [
            line
            for line in text.splitlines()
            if ("://" in line or "@" in line or ":" in line or " nc" in line)
            and commands.sends(line)
        ]
        if sending:
            yield (f" (in its {how}-decoded content)" if how else ""), "\n".join(sending)


def _located(host: str) -> bool:
    """The host table or a region id in the host says where it is (or that it is only read)."""
    return bool(list(endpoints.mentions(host))) or bool(regions.embedded_regions(host))


def check_unknown_recipient(resource: Resource, ctx: Context) -> Iterable[Finding]:
    """A webhook, callback or sink endpoint, an environment variable of a function or container,
    or a sending line of a script (user data, commands) naming a host that no table locates:
    reported (advisory), with the way to declare it. A JSON environment string (SAE `envs`) is
    read variable by variable; one not of its documented shape is reported, not passed."""
    for bad in envjson.problems(resource.type, resource.props):
        yield violation(
            resource, bad.leaf,
            f"{bad.leaf.path} is not of its documented shape ({bad.problem}), so what does "
            "not fit cannot be judged variable by variable as the receiver of data it may name "
            "(its text is still read for region ids and known hosts)",
            f"{bad.shape}, as the SDK documents {bad.leaf.path}",
        )  # fmt: skip
    for leaf in envjson.expanded(resource.type, resource.props):
        if leaf.unknown or not isinstance(leaf.value, str):
            continue
        if "://" not in leaf.value and len(leaf.value) < 40:
            continue  # short text without a URL (longer text may be an encoded script)
        seen: set[str] = set()
        for where, text in _receiving_text(resource, leaf):
            named = [*_URL_HOST.findall(text), *commands.remote_hosts(text)]
            for host in sorted({h.lower() for h in named} - seen):
                seen.add(host)
                if _located(host):
                    continue
                dest = flows.Place(host, "not-published", f"{host}: not located offline")
                flow = flows.Flow(
                    resource_place(resource, ctx), dest, "what the code sends there",
                    f"{resource.describe()} input {leaf.path}{where}", "api-call",
                )  # fmt: skip
                j = flows.judge(flow, declarations_for(resource), ctx.today)
                if j.verdict == "declared":  # an attestation on file locates it in Hong Kong
                    yield from _judged(resource, leaf, flow, ctx)
                    continue
                yield violation(
                    resource, leaf,
                    f"sends data to {host}{where}, whose location the pack cannot establish (not "
                    "in the host table, no region id in the name): an unlocated flow out of Hong "
                    "Kong",
                    f"a Hong Kong receiver; or declare the flow ({flows.HOW_TO_DECLARE})",
                )  # fmt: skip


def _omitted(props: Mapping[str, Any], path: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(path shown, the object the input is missing from) for each place `path` is omitted: a
    top-level input, or an input of a nested object (each list element) that is present."""
    segments = path.split(".")

    def walk(
        node: Mapping[str, Any], i: int, shown: str
    ) -> Iterator[tuple[str, Mapping[str, Any]]]:
        seg = segments[i]
        key = seg.rstrip("[]")
        here = f"{shown}.{key}" if shown else key
        if i == len(segments) - 1:
            if node.get(key) in (None, "", []):
                yield here, node
            return
        child = node.get(key)
        items = child if isinstance(child, list) else [child]
        for n, item in enumerate(items):
            if isinstance(item, Mapping):
                yield from walk(item, i + 1, f"{here}[{n}]" if isinstance(child, list) else here)

    yield from walk(props, 0, "")


def check_service_default(resource: Resource, ctx: Context) -> Iterable[Finding]:
    allowed = ctx.allowed_regions()
    for path, entry in service_defaults().get(resource.type, {}).items():
        value = entry["default"]
        for shown, parent in _omitted(resource.props, path):
            when = entry.get("when") or {}
            if any(str(parent.get(k, "")).lower() != str(v).lower() for k, v in when.items()):
                continue  # the doc says the default applies only under that condition
            leaf = Leaf(shown, path.replace(".", "."), value, False, False)
            for problem in region_value_problems(leaf, resource.package, allowed, strict=True):
                yield Finding(
                    f"{resource.describe()}: {shown} is not set, so the service default "
                    f'{value!r} applies (SDK docs: "{entry["doc"]}"): {problem}. Allowed: set '
                    f"{shown} to {_allowed_text(ctx)}."
                )


def _prefixes(*defaults: str) -> dict[str, dict[str, object]]:
    return {
        "typePrefixes": {
            "type": "array",
            "items": {"type": "string"},
            "default": list(defaults),
            "description": "Resource type token prefixes this rule blocks.",
        }
    }


RULES = (
    Rule(
        id="residency-provider-region",
        title="Explicit Hong Kong provider",
        description="Every Alibaba Cloud / Tencent Cloud resource is created through an explicit "
        "provider whose region is in the allowed set; default providers and providers with no "
        "region (which fall back to an environment variable or ap-guangzhou) are violations. "
        "Each resource is judged on the provider it is created with; an explicit provider "
        "itself is not (one used only for reads is reported by residency-read-elsewhere).",
        severity="critical",
        enforcement="mandatory",
        remediation="Create alicloud.Provider(region='cn-hongkong') or tencentcloud.Provider("
        "region='ap-hongkong') and pass it with opts=ResourceOptions(provider=...) or "
        "providers=[...] on the parent component; keep default providers disabled in Pulumi.yaml.",
        controls=RESIDENCY,
        check=check_provider_region,
        config_schema={
            **ALLOWED_REGIONS_SCHEMA,
            "regionlessPackages": {
                "type": "array",
                "items": {"type": "string"},
                "default": ["random", "tls", "time"],
                "description": "Provider packages that place no data anywhere.",
            },
        },
    ),
    Rule(
        id="residency-read-elsewhere",
        title="Reads through providers outside Hong Kong",
        description="An explicit provider outside Hong Kong (or of a region not known before "
        "apply) through which no resource is created only reads: get_* invokes and "
        "Resource.get() store nothing in its region. Reported as advisory, never blocking; what "
        "the read returns is judged where the program uses it.",
        severity="low",
        enforcement="advisory",
        remediation="Read through the Hong Kong provider where you can; a read elsewhere is "
        "fine when it only looks up (images, zones, another stack's resources).",
        controls=RESIDENCY,
        check=check_read_elsewhere,
        scope="stack",
        types=("pulumi:providers:alicloud", "pulumi:providers:tencentcloud"),
        config_schema=ALLOWED_REGIONS_SCHEMA,
    ),
    Rule(
        id="residency-resource-region",
        title="Region and zone inputs in Hong Kong",
        description="Every region- or zone-bearing input (found in the SDKs, nested inputs "
        "included) names an allowed region or a zone of one. Fail closed: a value there that is "
        "not recognisably Hong Kong is a violation: a region group (China, Asia-Pacific, Global, "
        "overseas), a numeric region id other than Hong Kong's (Tencent: 1 is Guangzhou), an "
        "unknown name, or a value not known before apply (another resource's output, a "
        "StackReference output, an undecrypted secret). The source region of a copy or "
        "migration INTO the resource "
        "(ImageCopy.sourceRegionId, DTS source endpoint region) is where data comes from, not "
        "placement, and is not judged; the destination is. No attestation declares a finding "
        "of this rule: an attestation is a vendor's written word that its system keeps the "
        "data in Hong Kong, and here the program itself places the resource in another region "
        "(the provider stores it there because the program says so), so no vendor statement "
        "can make that placement Hong Kong; an attestation on file is not consulted.",
        severity="critical",
        enforcement="mandatory",
        remediation="Set the region input to cn-hongkong / ap-hongkong and zones to "
        "cn-hongkong-b/c/d or ap-hongkong-2/3 (Tencent numeric zone ids 3000xx, numeric region id "
        "5), not a region group; or drop the input where the service then uses the Hong Kong "
        "provider's region (see residency-service-default for services that do not). An "
        "attestation cannot cover a placement: if the resource must be placed outside Hong Kong, "
        "record that decision as a reviewed exemption in policies/exemptions.yaml for this "
        "resource and rule (destination country and transfer safeguard, e.g. a contract with the "
        "PCPD model clauses of 12 May 2022, in its reason and reference; reported as exempt, "
        "never hidden), or move the resource out of this stack.",
        controls=RESIDENCY,
        check=check_resource_region,
        types=tuple(region_paths()),
        config_schema=ALLOWED_REGIONS_SCHEMA,
    ),
    Rule(
        id="residency-cross-region-copy",
        title="No cross-region copies",
        description="Cross-region copies, replication, backups and log delivery (snapshot "
        "targetCopyRegions, OSS replication destination location, COS replicaRules, DTS "
        "destinations, ...) target an allowed region only; a target not known before apply "
        "fails closed. Judged by the one flow verdict (flows.judge) the mail-flow rules use. No "
        "attestation declares a finding of this rule: the destination is a region the value "
        "names (an endpoint such as oss-cn-beijing.aliyuncs.com included, whatever an "
        "attestation's glob matches), where the program itself sends the copy; only a reviewed "
        "exemption admits it.",
        severity="critical",
        enforcement="mandatory",
        remediation="Replicate within Hong Kong (another zone or bucket in cn-hongkong / "
        "ap-hongkong); for an off-site copy outside Hong Kong, get an exemption backed by a "
        "signed contract with the processor (e.g. the PCPD model clauses of 12 May 2022) that "
        "carries the DPP4(2) security and DPP2(3) retention safeguards.",
        controls=(*RESIDENCY, "PDPO-DPP2", "ISO27001-A.8.13"),
        check=check_cross_region_copy,
        types=tuple(sorted(set(region_paths()) | set(roled_types()))),
        config_schema=ALLOWED_REGIONS_SCHEMA,
    ),
    Rule(
        id="residency-embedded-region",
        title="No other regions named in values",
        description="No input value names a region outside the allowed set, by id (endpoints "
        "such as cos.ap-shanghai.myqcloud.com, OSS locations oss-cn-hangzhou, COS bucket ids "
        "qcs::cos:ap-guangzhou::..., ARNs, log endpoints) or by a service host that implies one "
        "(Tencent SES gz-smtp / sg-smtp.qcloudmail.com, the legacy OSS endpoint "
        "oss.aliyuncs.com = Hangzhou, API Gateway <id>.gz.apigw.tencentcs.com). Values are read "
        "decoded too: base64 and gzip+base64 user data, launch templates and command content. "
        "Free text (names, descriptions, tags) is not placement and is not judged. Each named "
        "place is a flow judged by the one flow verdict (flows.judge). Only a service host "
        "whose region the host table cannot tell (an MNS host without a region, an API "
        "Gateway host of an unknown region code) may be declared by an attestation on file for "
        "the stack (the vendor's written confirmation that what it receives there is kept in "
        "Hong Kong), shown as declared (advisory) as the flow rules show theirs. A region id, "
        "and a host the table places outside Hong Kong (dashscope.aliyuncs.com = Beijing, "
        "dashscope-us = Virginia), is never covered, whatever an attestation's glob matches: "
        "the vendor's own documentation places it; only a reviewed exemption admits it.",
        severity="high",
        enforcement="mandatory",
        remediation="Point endpoints, relays, ARNs and bucket references at Hong Kong resources "
        "(cn-hongkong / ap-hongkong endpoints; Tencent SES Hong Kong is smtp.qcloudmail.com); or, "
        "for a service host of unpublished region whose vendor confirms in writing that your "
        "data sent there is kept in Hong Kong, file that as an attestation in "
        "policies/attestations.yaml (system: the host, stacks: this stack); a host the vendor "
        "documents outside Hong Kong needs a reviewed exemption in policies/exemptions.yaml.",
        controls=RESIDENCY,
        check=check_embedded_region,
        config_schema=ALLOWED_REGIONS_SCHEMA,
    ),
    Rule(
        id="residency-no-hk-service",
        title="No services without a Hong Kong region",
        description="Services that have no Hong Kong region (Alibaba DirectMail) are not used, "
        "directly (their resource types) or indirectly: an SMTP relay or API host of DirectMail "
        "(smtpdm*.aliyun.com, dm.aliyuncs.com) in any value, decoded user data included, or a "
        "notification delivered through it (an MNS subscription endpoint mail:directmail:...). "
        "Sending through them moves mail content out of Hong Kong.",
        severity="critical",
        enforcement="mandatory",
        remediation="Relay outbound mail through Tencent SES in ap-hongkong or your own MTA in "
        "Hong Kong; DirectMail only with the stack's crossBorder declaration and a reviewed "
        "exemption.",
        controls=RESIDENCY,
        check=check_no_hk_service,
        config_schema=_prefixes("alicloud:directmail/"),
    ),
    Rule(
        id="residency-global-edge",
        title="No global edges in front of data",
        description="Global edges that cache or carry data are not used unless exempted: edge "
        "services (Alibaba CDN/DCDN/SCDN/ESA, Global Accelerator, Anycast EIP; Tencent CDN, "
        "EdgeOne, GAAP), edge features of regional resources (OSS transfer acceleration, COS "
        "global acceleration, Tencent Anycast EIPs) and acceleration endpoints in values "
        "(oss-accelerate.aliyuncs.com, cos.accelerate.myqcloud.com).",
        severity="high",
        enforcement="mandatory",
        remediation="Serve from Hong Kong origins directly; if an edge is needed (for example a "
        "public MTA-STS policy file), record a reviewed exemption naming what it carries.",
        controls=RESIDENCY,
        check=check_global_edge,
        config_schema=_prefixes(
            "alicloud:cdn/",
            "alicloud:dcdn/",
            "alicloud:scdn/",
            "alicloud:esa/",
            "alicloud:ga/",
            "alicloud:eipanycast/",
            "tencentcloud:Cdn/",
            "tencentcloud:Teo/",
            "tencentcloud:Gaap/",
        ),
    ),
    Rule(
        id="residency-data-sent",
        title="No data sent to systems of unpublished location",
        description="Data a resource sends to a system whose storage location is not published "
        "(chat robot webhooks of DingTalk, WeCom, Feishu / Lark named in function or container "
        "environments, event targets, alarm webhooks or decoded user data) is a flow out of "
        "Hong Kong unless declared: an attestation of Hong Kong storage on file for the "
        "stack (shown as declared, advisory) or a reviewed exemption. Hosts only read from "
        "(package mirrors, NTP) are not flows out.",
        severity="high",
        enforcement="mandatory",
        remediation="Send notifications to a receiver in Hong Kong (your own service, or mail "
        "through the Hong Kong relay); or file the vendor's written confirmation of Hong Kong "
        "storage as an attestation, or a reviewed exemption naming what the messages carry.",
        controls=RESIDENCY,
        check=check_data_sent,
        config_schema=ALLOWED_REGIONS_SCHEMA,
    ),
    Rule(
        id="residency-unknown-recipient",
        title="Data sent to hosts of unknown location",
        description="A host that neither the host table nor a region id in its name locates, "
        "named where data is sent: a webhook, callback or sink endpoint input; any environment "
        "variable of a function or container (the schemas' environment inputs, maps and "
        "key/value lists, and one JSON string of them where the SDK documents its shape, SAE envs, "
        "read variable by variable, what is not of that shape being reported; a variable whose "
        "name has a whole word of reading, such as mirror or registry, and no word of sending, "
        "such as report, hook or upload, excepted); "
        "a command line of a script (user data, command content, decoded) with a command that "
        "can send (curl, wget, ossutil, rclone, restic, ssh, scp, nc, sendmail, ...) and does "
        "not only read, in any part of a pipeline or chain and after wrappers such as env, "
        "timeout, sudo or xargs (a line that cannot be parsed and names such a command counts "
        "as sending); its hosts are those of its URLs and the user@host or host:path of "
        "ssh, scp, sftp and rsync, nc's host and socat's TCP:host:port. Reported as advisory: the "
        "pack cannot say where the data goes. Hosts only read from are not reported.",
        severity="medium",
        enforcement="advisory",
        remediation="Send to a receiver in Hong Kong; or declare the flow: an attestation of "
        "the receiver's Hong Kong storage, the stack's cross-border declaration, or a reviewed "
        "exemption in policies/exemptions.yaml.",
        controls=RESIDENCY,
        check=check_unknown_recipient,
        config_schema=ALLOWED_REGIONS_SCHEMA,
    ),
    Rule(
        id="residency-service-default",
        title="No out-of-Hong Kong service defaults",
        description="A resource that omits a region-bearing input is judged on the service's "
        "documented default, not the provider's region: for example Tencent WAF log delivery "
        "to CLS defaults to ap-shanghai and a CWP licence order to region 1 (Guangzhou). The "
        "defaults are generated from the SDK docs (policies/tools/service_defaults.py into "
        "hkmail_policy/service_defaults.json; a test regenerates and compares).",
        severity="critical",
        enforcement="mandatory",
        remediation="Set the input explicitly to cn-hongkong / ap-hongkong (or Hong Kong's "
        "numeric id) instead of relying on the service default.",
        controls=RESIDENCY,
        check=check_service_default,
        config_schema=ALLOWED_REGIONS_SCHEMA,
        types=tuple(service_defaults()),
    ),
)
