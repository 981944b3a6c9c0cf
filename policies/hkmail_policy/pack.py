"""Turns the rule objects into pulumi_policy policies and serves them over the analyzer protocol.

Two adaptations of pulumi_policy 1.21.0 (pinned; tests cover both through the gRPC server):
- rules read the inputs as the engine sent them (secret markers and unknowns intact): the servicer
  keeps the current request in a thread-local while pulumi_policy runs the policies;
- an exempted finding (message line starting `[exempt: <id>]`) and a declared flow (starting
  `[declared: <what>]`, see flows.py) are reported at the advisory level, whatever the rule's
  enforcement level, so they are visible in every report but block nothing. pulumi_policy fixes
  the level per policy, so the servicer routes those messages to an advisory reporter.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterable, Mapping
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
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)

from . import attestations
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
    return dict(json_format.MessageToDict(message))


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


class _MemoJson:
    """pulumi_policy's AnalyzeStack converts every resource's properties (and its provider's)
    again for each stack policy (policy.py, AnalyzeStack). While an AnalyzeStack runs on this
    thread, each message is converted once and the dict shared: deserialize_properties copies
    it, so no policy sees another's changes. Everything else goes to protobuf's json_format."""

    def __getattr__(self, name: str) -> Any:
        return getattr(json_format, name)

    @staticmethod
    def MessageToDict(message: Any, *args: Any, **kwargs: Any) -> Any:
        memo: dict[int, tuple[Any, Any]] | None = getattr(_local, "json_memo", None)
        if memo is None or args or kwargs:
            return json_format.MessageToDict(message, *args, **kwargs)
        hit = memo.get(id(message))
        if hit is None or hit[0] is not message:
            hit = memo[id(message)] = (message, json_format.MessageToDict(message))
        return hit[1]


_pp.json_format = _MemoJson()  # type: ignore[attr-defined]  # the name policy.py uses


class _Servicer(_pp._PolicyAnalyzerServicer):
    def Analyze(self, request: Any, context: Any) -> Any:
        _local.resource = _from_request(request)
        try:
            return super().Analyze(request, context)  # type: ignore[no-untyped-call]
        finally:
            _local.resource = None

    def AnalyzeStack(self, request: Any, context: Any) -> Any:
        _local.stack = {r.urn: _from_request(r) for r in request.resources}
        _local.json_memo = {}
        try:
            return super().AnalyzeStack(request, context)  # type: ignore[no-untyped-call]
        finally:
            _local.stack = None
            _local.json_memo = None

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


def _context(rule: Rule, given: Mapping[str, Any], stack: Iterable[Resource] = ()) -> Context:
    cfg = {**rule.defaults(), **{k: v for k, v in given.items() if k != "enforcementLevel"}}
    return Context(config=cfg, today=today(), stack=tuple(stack))


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
        stack: dict[str, Resource] | None = getattr(_local, "stack", None)
        if stack is None:
            raise RuntimeError("hk-mail pack: stack request not captured (servicer not in use)")
        ctx = _context(rule, args.get_config(), stack.values())
        for resource in stack.values():
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
