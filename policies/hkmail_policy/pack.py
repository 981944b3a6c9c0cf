"""Turns the rule objects into pulumi_policy policies and serves them over the analyzer protocol.

Two adaptations of pulumi_policy 1.21.0 (pinned; tests cover both through the gRPC server):
- rules read the inputs as the engine sent them (secret markers and unknowns intact): the servicer
  keeps the current request in a thread-local while pulumi_policy runs the policies;
- Analyze and AnalyzeStack are pulumi_policy's own loops (same answers in the same order) with
  two savings: a resource policy whose rule does not judge the resource's type is skipped before
  anything is built for it, and a policy's args convert the properties, options and provider
  only if its validate reads them (ours read the raw request instead). pulumi_policy converts
  them for every policy of every resource: at 1,000 domains that was most of the pack's time;
- an exempted finding (message line starting `[exempt: <id>]`) and a declared flow (starting
  `[declared: <what>]`, see flows.py) are reported at the advisory level, whatever the rule's
  enforcement level, so they are visible in every report but block nothing. pulumi_policy fixes
  the level per policy, so the servicer routes those messages to an advisory reporter.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import math
import sys
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

import grpc  # type: ignore[import-untyped]
import pulumi_policy.policy as _pp
from google.protobuf import json_format  # type: ignore[import-untyped]
from pulumi.runtime.proto import analyzer_pb2
from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    PolicyPack,
    PolicyProviderResource,
    PolicyResource,
    PolicyResourceOptions,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.deserialize import deserialize_properties
from pulumi_policy.proxy import UnknownValueError, unknown_checking_proxy

from . import attestations, values
from . import config as config_check
from . import downgrades as dg
from . import exemptions as ex
from .flows import DECLARED_PREFIX
from .model import Context, Finding, ProviderRef, Resource, Rule
from .rules import RULES, RULES_BY_ID

PACK_NAME = "hk-mail-residency"
HONG_KONG = timedelta(hours=8)  # exemption and ramp dates are Hong Kong calendar days
_local = threading.local()
_downgrades: tuple[dg.Downgrade, ...] = ()  # read once in serve()
_dg_file = str(dg.DEFAULT_FILE)
# exempted findings and declared flows are reported, never block
_NON_BLOCKING = (ex.EXEMPT_PREFIX, DECLARED_PREFIX)


def today() -> date:
    return (datetime.now(UTC) + HONG_KONG).date()


def _struct(message: Any) -> dict[str, Any]:
    """A google.protobuf.Struct as json_format.MessageToDict gives it (numbers stay floats, an
    unset value is None), without its generic descriptor-driven printer: AnalyzeStack converts
    every resource of the stack, and that printer was a quarter of its time."""
    return {k: _value(v) for k, v in message.fields.items()}


def _value(value: Any) -> Any:
    kind = value.WhichOneof("kind")
    if kind == "string_value":
        return value.string_value
    if kind == "struct_value":
        return _struct(value.struct_value)
    if kind == "list_value":
        return [_value(v) for v in value.list_value.values]
    if kind == "bool_value":
        return value.bool_value
    if kind == "number_value":
        number = value.number_value
        if math.isinf(number) or math.isnan(number):  # as json_format refuses them
            raise ValueError(f"Fail to serialize {number} for Value.number_value")
        return number
    return None  # null_value, or nothing set


def _from_request(r: Any) -> Resource:
    """A Resource from an AnalyzeRequest / AnalyzerResource, inputs kept raw."""
    provider = None
    if r.HasField("provider"):
        p = r.provider
        provider = ProviderRef(p.urn, p.type, p.name, _struct(p.properties))
    deps = {k: list(v.urns) for k, v in getattr(r, "propertyDependencies", {}).items()}
    return Resource(
        urn=r.urn,
        type=r.type,
        name=r.name,
        props=_struct(r.properties),
        protect=bool(r.options.protect),
        provider=provider,
        parent=getattr(r, "parent", "") or None,
        property_dependencies=deps,
    )


class _LazyArgs(ResourceValidationArgs):
    """pulumi_policy's args for one policy and one resource, converting the properties and the
    provider (each policy its own copy, as pulumi_policy does) only when read."""

    def __init__(
        self,
        servicer: _pp._PolicyAnalyzerServicer,
        request: Any,
        config: Mapping[str, Any] | None,
        stack_tags: Mapping[str, str],
    ) -> None:
        # not super().__init__: it would assign the attributes this class computes on demand
        self._servicer, self._request = servicer, request
        self.resource_type, self.urn, self.name = request.type, request.urn, request.name
        self._ResourceValidationArgs__config = config if config is not None else {}
        self.stack_tags = stack_tags

    @functools.cached_property
    def props(self) -> Mapping[str, Any]:  # type: ignore[override]
        raw = json_format.MessageToDict(self._request.properties)
        return unknown_checking_proxy(deserialize_properties(raw))

    @functools.cached_property
    def opts(self) -> PolicyResourceOptions:  # type: ignore[override]
        return self._servicer._get_resource_options(self._request)

    @functools.cached_property
    def provider(self) -> PolicyProviderResource | None:  # type: ignore[override]
        return self._servicer._get_provider_resource(self._request)


class _LazyStackArgs(StackValidationArgs):
    """pulumi_policy's args for one stack policy, its resource list (each policy its own, as
    pulumi_policy builds it) built only when read."""

    def __init__(
        self,
        servicer: _pp._PolicyAnalyzerServicer,
        request: Any,
        config: Mapping[str, Any] | None,
        stack_tags: Mapping[str, str],
    ) -> None:
        self._servicer, self._request = servicer, request
        self._StackValidationArgs__config = config if config is not None else {}
        self.stack_tags = stack_tags

    @functools.cached_property
    def resources(self) -> list[PolicyResource]:  # type: ignore[override]
        servicer, by_urn, links = self._servicer, {}, []
        for r in self._request.resources:
            raw = json_format.MessageToDict(r.properties)
            resource = PolicyResource(
                r.type,
                unknown_checking_proxy(deserialize_properties(raw)),
                r.urn,
                r.name,
                servicer._get_resource_options(r),
                servicer._get_provider_resource(r),
                None,
                [],
                {},
            )
            by_urn[r.urn] = resource
            deps = {k: list(v.urns) for k, v in r.propertyDependencies.items()}
            links.append((resource, r.parent, list(r.dependencies), deps))
        for resource, parent, dependencies, property_dependencies in links:
            if parent is not None and parent in by_urn:
                resource.parent = by_urn[parent]
            resource.dependencies.extend(by_urn[d] for d in dependencies if d in by_urn)
            for k, urns in property_dependencies.items():
                resource.property_dependencies[k] = [by_urn[d] for d in urns if d in by_urn]
        return [link[0] for link in links]


class _Servicer(_pp._PolicyAnalyzerServicer):
    def Analyze(self, request: Any, context: Any) -> Any:
        _local.resource = _from_request(request)
        try:
            return self._analyze(request)
        finally:
            _local.resource = None

    def _analyze(self, request: Any) -> Any:
        """pulumi_policy 1.21.0's Analyze (policy.py), with the savings the module docstring
        names: a skipped policy's validate would have returned at its `rule.judges` check."""
        self._configure_runtime_settings()  # type: ignore[no-untyped-call]
        response = analyzer_pb2.AnalyzeResponse()
        tags: Mapping[str, str] = self._PolicyAnalyzerServicer__stack_tags  # type: ignore[attr-defined]
        policy: _pp.Policy
        for policy in self._PolicyAnalyzerServicer__policies:  # type: ignore[attr-defined]
            level = self._get_enforcement_level(policy)
            if level == EnforcementLevel.DISABLED or not isinstance(
                policy, ResourceValidationPolicy
            ):
                continue
            if not policy.has_validation():
                response.not_applicable.append(
                    analyzer_pb2.PolicyNotApplicable(
                        policy_name=policy.name, reason="Policy does not implement validate"
                    )
                )
                continue
            if level == EnforcementLevel.REMEDIATE:
                level = EnforcementLevel.MANDATORY
            config = self._get_policy_config(policy.name)
            rule = RULES_BY_ID.get(policy.name)
            if rule is not None and not rule.judges(request.type, _rule_config(rule, config or {})):
                continue
            report = self._create_report_violation(
                response, policy.name, policy.description, level, policy.severity
            )
            args = _LazyArgs(self, request, config, tags)
            self._run(policy, args, report, response)
        return response

    def AnalyzeStack(self, request: Any, context: Any) -> Any:
        # one tuple for every stack policy: the rules' per-stack memos key on its identity
        _local.stack = tuple(_from_request(r) for r in request.resources)
        try:
            with values.walks_kept():
                return self._analyze_stack(request)
        finally:
            _local.stack = None

    def _analyze_stack(self, request: Any) -> Any:
        """pulumi_policy 1.21.0's AnalyzeStack (policy.py), building its resource list for a
        policy only if that policy's validate reads it."""
        self._configure_runtime_settings()  # type: ignore[no-untyped-call]
        response = analyzer_pb2.AnalyzeResponse()
        tags: Mapping[str, str] = self._PolicyAnalyzerServicer__stack_tags  # type: ignore[attr-defined]
        policy: _pp.Policy
        for policy in self._PolicyAnalyzerServicer__policies:  # type: ignore[attr-defined]
            level = self._get_enforcement_level(policy)
            if level == EnforcementLevel.DISABLED or not isinstance(policy, StackValidationPolicy):
                continue
            if level == EnforcementLevel.REMEDIATE:
                level = EnforcementLevel.MANDATORY
            report = self._create_report_violation(
                response, policy.name, policy.description, level, policy.severity
            )
            args = _LazyStackArgs(self, request, self._get_policy_config(policy.name), tags)
            self._run(policy, args, report, response)
        return response

    def _run(self, policy: Any, args: Any, report: ReportViolation, response: Any) -> None:
        """One policy's validate, its outcome recorded as pulumi_policy records it."""
        try:
            result = policy.validate(args, report)
            if inspect.isawaitable(result):
                loop = asyncio.new_event_loop()
                loop.run_until_complete(asyncio.Task(result, loop=loop))  # type: ignore[arg-type]
                loop.close()
        except UnknownValueError as e:
            name = self._PolicyAnalyzerServicer__policy_pack_name  # type: ignore[attr-defined]
            version = self._PolicyAnalyzerServicer__policy_pack_version  # type: ignore[attr-defined]
            response.diagnostics.append(
                analyzer_pb2.AnalyzeDiagnostic(
                    policyName=policy.name,
                    policyPackName=name,
                    policyPackVersion=version,
                    message=(
                        f"can't run policy '{policy.name}' from policy pack "
                        f"'{name}@v{version}' during preview: {e.message}"
                    ),
                    urn="",
                    description=policy.description,
                    enforcementLevel=self._map_enforcement_level(EnforcementLevel.ADVISORY),
                )
            )
        except _pp._NotApplicableError as e:
            response.not_applicable.append(
                analyzer_pb2.PolicyNotApplicable(policy_name=policy.name, reason=e.reason or "")
            )

    def Configure(self, request: Any, context: Any) -> Any:
        given = {k: _struct(v.properties) for k, v in request.policyConfig.items()}
        problems = config_check.validate(given, RULES_BY_ID)
        levels = {
            k: analyzer_pb2.EnforcementLevel.Name(v.enforcementLevel).lower()
            for k, v in request.policyConfig.items()
            if k in RULES_BY_ID
        }
        defaults = {r.id: r.enforcement for r in RULES}
        refused, _ = dg.judge(levels, defaults, _downgrades, today(), "policy config", _dg_file)
        problems += refused
        if problems:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "; ".join(problems))
        return super().Configure(request, context)  # type: ignore[no-untyped-call]

    def _create_report_violation(  # type: ignore[no-untyped-def]
        self, response, policy_name, policy_description, enforcement_level, severity=None
    ) -> ReportViolation:
        normal = super()._create_report_violation(
            response, policy_name, policy_description, enforcement_level, severity
        )
        advisory = super()._create_report_violation(
            response, policy_name, policy_description, EnforcementLevel.ADVISORY, severity
        )

        def report(message: str, urn: str | None = None) -> None:
            (advisory if message.startswith(_NON_BLOCKING) else normal)(message, urn)

        return report


def _report(
    rule: Rule,
    finding: Finding,
    resource: Resource,
    exemptions: tuple[ex.Exemption, ...],
    report: Callable[[str, str | None], None],
    urn: str | None,
) -> None:
    day = today()
    valid, expired = ex.decide(exemptions, rule.id, resource.urn, resource.type, resource.name, day)
    if valid is not None:
        report(
            f"{ex.EXEMPT_PREFIX}{valid.id}] {finding.message} Exempted until "
            f"{valid.expires.isoformat()} ({valid.reference}; approved by {valid.approver}).",
            urn,
        )
    elif expired:
        gone = ", ".join(f"{e.id} (expired {e.expires.isoformat()})" for e in expired)
        report(f"[exemption expired: {gone}] {finding.message}", urn)
    else:
        misses = ex.near_misses(exemptions, rule.id, resource.urn, resource.type, resource.name)
        report(finding.message + "".join(f" [not exempt: {m}]" for m in misses), urn)


def _rule_config(rule: Rule, given: Mapping[str, Any]) -> dict[str, Any]:
    return {**rule.defaults(), **{k: v for k, v in given.items() if k != "enforcementLevel"}}


def _context(rule: Rule, given: Mapping[str, Any], stack: tuple[Resource, ...] = ()) -> Context:
    return Context(config=_rule_config(rule, given), today=today(), stack=stack)


def _resource_policy(rule: Rule, exemptions: tuple[ex.Exemption, ...]) -> ResourceValidationPolicy:
    def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
        resource = getattr(_local, "resource", None)
        if resource is None or resource.urn != args.urn:
            raise RuntimeError("hk-mail pack: resource request not captured (servicer not in use)")
        ctx = _context(rule, args.get_config())
        if not rule.judges(resource.type, ctx.config):
            return
        for finding in rule.check(resource, ctx):
            _report(rule, finding, resource, exemptions, report, None)

    return ResourceValidationPolicy(validate=validate, **_metadata(rule))


def _stack_policy(rule: Rule, exemptions: tuple[ex.Exemption, ...]) -> StackValidationPolicy:
    def validate(args: StackValidationArgs, report: ReportViolation) -> None:
        stack: tuple[Resource, ...] | None = getattr(_local, "stack", None)
        if stack is None:
            raise RuntimeError("hk-mail pack: stack request not captured (servicer not in use)")
        ctx = _context(rule, args.get_config(), stack)
        for resource in stack:
            if not rule.judges(resource.type, ctx.config):
                continue
            for finding in rule.check(resource, ctx):
                _report(rule, finding, resource, exemptions, report, finding.urn or resource.urn)

    return StackValidationPolicy(validate=validate, **_metadata(rule))


def _metadata(rule: Rule) -> dict[str, Any]:
    return {
        "name": rule.id,
        "description": rule.description,
        "display_name": rule.title,
        "enforcement_level": EnforcementLevel(rule.enforcement),
        "severity": Severity(rule.severity),
        "remediation_steps": rule.remediation,
        "tags": list(rule.controls),
        "config_schema": (
            PolicyConfigSchema(properties={k: dict(v) for k, v in rule.config_schema.items()})
            if rule.config_schema
            else None
        ),
    }


def build_policies(exemptions: tuple[ex.Exemption, ...]) -> list[_pp.Policy]:
    return [
        _stack_policy(r, exemptions) if r.scope == "stack" else _resource_policy(r, exemptions)
        for r in RULES
    ]


def serve() -> None:
    """Entry point of policies/__main__.py: validate the exemptions, then serve (blocks)."""
    global _downgrades, _dg_file
    try:
        exemptions = ex.load(set(RULES_BY_ID), today=today())
        _dg_file = str(dg.path_from_env())
        _downgrades = dg.load(today=today())
    except ex.ExemptionsError as e:
        # one clear line, no traceback: the gate checks the same file first with this module
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    try:
        attestations.on_file()  # a bad attestations file stops the pack, like exemptions
    except attestations.AttestationsError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    policies = build_policies(exemptions)
    _pp._PolicyAnalyzerServicer = _Servicer  # type: ignore[misc]  # see module docstring
    PolicyPack(
        name=PACK_NAME,
        policies=policies,
        enforcement_level=EnforcementLevel.MANDATORY,
        description="hk-mail: Hong Kong residency, encryption, exposure, durability, secrets and "
        "mail-authentication rules for Alibaba Cloud and Tencent Cloud.",
        display_name="hk-mail Hong Kong residency",
        tags=["hong-kong", "residency", "alicloud", "tencentcloud", "mail"],
    )
