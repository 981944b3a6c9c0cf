"""The gate: a program's registrations (or a deployed state) through a policy pack, like the CLI.

The program and the pack start together; each resource is sent to ``Analyze`` (asynchronously, on
one gRPC channel) the moment the program registers it, so the analysis overlaps the program run;
when the calls queue up behind the program's final burst, a second process of the pack takes its
share of them (see _Helper). After the program ends, ``AnalyzeStack`` gets every resource with its
final (preview) outputs.
"""

from __future__ import annotations

import collections
import dataclasses
import os
import queue
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc  # type: ignore[import-untyped]
from google.protobuf import json_format  # type: ignore[import-untyped]

from toolchain.engine.model import ROOT_STACK_TYPE, EngineError, Plan, PlannedResource
from toolchain.engine.project import StackConfig
from toolchain.engine.run import ProgramRun
from toolchain.engine.wire import decode_map
from toolchain.gate.pack import (
    PackError,
    PackInfo,
    PolicyPackProcess,
    analyze_request,
    level_name,
    load_policy_config,
    provider_message,
    reconcile_config,
    severity_name,
    stack_resource_message,
)
from toolchain.gate.state import load_state
from toolchain.governance import check_downgrades, check_pack_records

#: How a pack marks a violation that a reviewed exemption covers (the pack reports it at advisory
#: level, so `pulumi preview` passes too, and the gate shows it as exempt): a message line
#: ``[exempt: EX-2026-001] <finding> Exempted until <date> (<ref>; approved by <who>).`` as
#: policies/ writes it, or a plain ``exempt: <why>`` line. ``[exemption expired: ...]`` is not.
EXEMPT_BRACKET = re.compile(r"^\s*\[exempt:\s*(?P<id>[^\]]+)\](?P<rest>.*)$", re.I | re.M)
EXEMPT_LINE = re.compile(r"^\s*exempt(?:ion)?:\s*(?P<why>\S.*)$", re.I | re.M)
#: Analyze calls kept in flight at once per pack process (see _Analysis.submit)
ANALYZE_WINDOW = 32
#: Analyze calls waiting (registered, not yet answered) from which a second pack process takes
#: its share of them (see _Helper); below it, starting one costs more than it saves
HELPER_BACKLOG = 2000
_EXEMPTED_UNTIL = re.compile(r"Exempted until (\S+?)[.,;)]?(?:\s|$)")


def exemption_of(detail: str) -> str | None:
    """The exemption a violation message cites, or None if it is not exempt."""
    m = EXEMPT_BRACKET.search(detail)
    if m:
        until = _EXEMPTED_UNTIL.search(m.group("rest"))
        return m.group("id").strip() + (f" (until {until.group(1)})" if until else "")
    m = EXEMPT_LINE.search(detail)
    return m.group("why").strip() if m else None


@dataclass(frozen=True)
class Violation:
    """One policy diagnostic, in the shape of Pulumi's policy events."""

    policy_name: str
    policy_pack_name: str
    policy_pack_version: str
    enforcement_level: str
    severity: str
    resource_urn: str
    resource_type: str
    resource_name: str
    message: str
    description: str = ""
    exempt: bool = False
    exemption: str = ""
    #: ``path:line`` of the code that declared the resource ("" if unknown)
    source: str = ""

    @property
    def blocking(self) -> bool:
        return self.enforcement_level == "mandatory" and not self.exempt


#: name of the gate's own finding for a program that reads a placement environment variable
ENV_PLACEMENT_POLICY = "residency-environment-placement"
#: the pack name the gate's own findings carry (they come from the gate, not from the pack)
GATE_FINDINGS = "hk-mail-gate"


@dataclass(frozen=True)
class GateResult:
    project: str
    stack: str
    pack: PackInfo
    resources: tuple[PlannedResource, ...]
    violations: tuple[Violation, ...]
    #: (resource urn, policy name) -> reason the pack gave for not applying the policy
    not_applicable: Mapping[tuple[str, str], str] = field(default_factory=dict)
    mode: str = "preview"  # or "state"
    #: the project directory (None for --state), for relative paths in reports
    project_root: Path | None = None
    #: the file a reviewer edits to fix a stack-level finding (stack config or state file)
    config_file: Path | None = None
    timings: Mapping[str, float] = field(default_factory=dict)
    #: the full offline plan the verdicts are about (None for --state)
    plan: Plan | None = None
    #: (resource urn, policy name) of every remediation the pack applied before Analyze
    remediated: tuple[tuple[str, str], ...] = ()
    #: resources only the update-mode pass found (registered inside an apply() on a value that
    #: is unknown during preview): `pulumi preview` would not show them, the gate judges them
    update_only: tuple[str, ...] = ()
    #: why the update-mode pass ran ("" when the preview showed it could find nothing more)
    update_pass: str = ""
    #: resources the program only read (``Resource.get()``, a ReadResource): the engine hands
    #: them to no analyzer (they go to its ``reads``, not to Analyze or AnalyzeStack), nor does
    #: the gate; a provider used only for them is judged by what is created through it
    reads: tuple[PlannedResource, ...] = ()

    @property
    def blocking(self) -> list[Violation]:
        return [v for v in self.violations if v.blocking]

    @property
    def exit_code(self) -> int:
        return 1 if self.blocking else 0


def _urn_parts(urn: str) -> tuple[str, str]:
    parts = urn.split("::")
    if len(parts) < 4:
        return "", urn
    return parts[2].split("$")[-1], "::".join(parts[3:])


def _violations(
    diagnostics: Iterable[Any],
    default_urn: str,
    known: Mapping[str, PlannedResource],
    pack: PackInfo,
    root: Path | None,
) -> list[Violation]:
    result = []
    for d in diagnostics:
        urn = d.urn if d.urn in known else default_urn
        rtype, name = _urn_parts(urn)
        detail = d.message
        if d.description and detail.startswith(d.description):
            detail = detail[len(d.description) :]  # pulumi_policy prepends the description
        level = level_name(d.enforcementLevel)
        # Only a finding the pack itself downgraded counts as exempt: a mandatory one blocks
        # `pulumi preview`, whatever its message says, so it blocks here too.
        exemption = exemption_of(detail) if level != "mandatory" else None
        resource = known.get(urn)
        source = resource.source if resource else ""
        if (
            root is None
            or not source.startswith(str(root) + os.sep)
            or f"{os.sep}site-packages{os.sep}" in source
        ):
            source = ""  # only the project's own code is worth pointing at
        result.append(
            Violation(
                policy_name=d.policyName,
                policy_pack_name=d.policyPackName or pack.name,
                # the version in PulumiPolicy.yaml wins, as in the CLI
                policy_pack_version=pack.version or d.policyPackVersion,
                enforcement_level=level,
                severity=severity_name(d.severity),
                resource_urn=urn,
                resource_type=resource.type if resource else rtype,
                resource_name=resource.name if resource else name,
                message=d.message,
                description=d.description,
                exempt=exemption is not None,
                exemption=exemption or "",
                source=source,
            )
        )
    return result


def _stack_properties(resource: PlannedResource) -> Mapping[str, object]:
    """What the engine's state holds as outputs after a preview: a create's checked inputs for
    custom resources, registered outputs for components and the stack."""
    if resource.custom:
        return resource.outputs or resource.inputs
    return resource.outputs


class _Analysis:
    """Analyze calls in flight for one pack, and what came back."""

    def __init__(self, pack: PolicyPackProcess, info: PackInfo, root: Path | None) -> None:
        self.pack = pack
        self.info = info
        self.root = root
        self.known: dict[str, PlannedResource] = {}
        self.order: list[PlannedResource] = []
        self.reads: list[PlannedResource] = []
        self.pending: collections.deque[tuple[PlannedResource, Any, PolicyPackProcess]] = (
            collections.deque()
        )
        #: Analyze calls in flight per pack process (the first, and a helper once it is ready)
        self.in_flight: dict[PolicyPackProcess, int] = {pack: 0}
        #: Analyze calls sent to a helper, and when it joined (perf_counter)
        self.helper_calls = 0
        self.helper_at: float | None = None
        self.violations: list[Violation] = []
        self.not_applicable: dict[tuple[str, str], str] = {}
        self.requests: dict[str, Any] = {}
        self.provider_msgs: dict[str, Any] = {}
        self.timings: dict[str, float] = {}
        # The engine runs a Remediate pass before Analyze; only policies at the "remediate" level
        # can change anything, so without them the pass is skipped (it would be a no-op call).
        self.remediate = any(r.enforcement_level == "remediate" for r in info.rules)
        self.remediated: list[tuple[str, str]] = []

    def submit(self, resource: PlannedResource) -> None:
        if resource.external:
            # a read creates and stores nothing: Pulumi's step generator analyzes only
            # registrations (GenerateSteps), and its AnalyzeStack ranges over `news`, where the
            # step executor never stores a read (step_executor.go keeps those in `reads`)
            self.known[resource.urn] = resource
            self.reads.append(resource)
            return
        provider = self.known.get(resource.provider_urn or "")
        if self.remediate:
            resource = self._remediate(resource, provider)
        self.known[resource.urn] = resource
        self.order.append(resource)
        provider_msg = None
        if provider is not None:
            # every resource of a provider carries the same provider message: encode it once
            provider_msg = self.provider_msgs.get(provider.urn)
            if provider_msg is None:
                provider_msg = self.provider_msgs[provider.urn] = provider_message(provider)
        request = analyze_request(resource, provider, provider_msg=provider_msg)
        self.requests[resource.urn] = request
        # A bounded window of calls in flight: enough to keep the pack busy while the program
        # runs; unbounded, thousands of concurrent streams make the pack's server cancel calls.
        # With a helper, the pack with fewer calls in flight takes the next; answers are still
        # collected in the order the calls went out, so findings keep the resources' order.
        pack = min(self.in_flight, key=self.in_flight.__getitem__)
        while self.in_flight[pack] >= ANALYZE_WINDOW:
            self._collect_oldest()
        self.in_flight[pack] += 1
        self.helper_calls += pack is not self.pack
        self.pending.append((resource, pack.analyze_async(request), pack))

    def add_helper(self, helper: PolicyPackProcess) -> None:
        self.in_flight[helper] = 0
        self.helper_at = time.perf_counter()

    def backlog(self) -> int:
        return len(self.pending)

    def _collect_oldest(self) -> None:
        resource, future, pack = self.pending.popleft()
        self.in_flight[pack] -= 1
        try:
            resp = future.result()
        except grpc.RpcError as exc:
            raise pack.error("Analyze", exc, resource.urn) from exc
        self.violations += _violations(
            resp.diagnostics, resource.urn, self.known, self.info, self.root
        )
        for na in resp.not_applicable:
            self.not_applicable[(resource.urn, na.policy_name)] = na.reason

    def _remediate(
        self, resource: PlannedResource, provider: PlannedResource | None
    ) -> PlannedResource:
        resp = self.pack.remediate(analyze_request(resource, provider))
        if resp is None:
            return resource
        for rem in resp.remediations:
            if rem.diagnostic or not rem.HasField("properties"):
                continue
            # like the engine: each remediation's properties replace the resource's inputs
            inputs = decode_map(json_format.MessageToDict(rem.properties))
            resource = dataclasses.replace(resource, inputs=inputs)
            self.remediated.append((resource.urn, rem.policyName))
        return resource

    def finish(
        self, stack_urn: str, stack_props: Mapping[str, Mapping[str, object]] | None = None
    ) -> tuple[list[Violation], dict[tuple[str, str], str]]:
        t_start = time.perf_counter()
        while self.pending:
            self._collect_oldest()
        violations, not_applicable = self.violations, self.not_applicable
        t_analyzed = time.perf_counter()
        messages = []
        for r in self.order:
            props = (stack_props or {}).get(r.urn)
            if props is None:
                props = _stack_properties(r)
            request = self.requests[r.urn]
            # a create's preview outputs are its inputs: reuse the Struct already built for Analyze
            reuse = props is r.inputs
            messages.append(
                stack_resource_message(
                    r,
                    self.known.get(r.provider_urn or ""),
                    props,
                    properties_struct=request.properties if reuse else None,
                    provider_message=request.provider if request.HasField("provider") else None,
                )
            )
        t_built = time.perf_counter()
        resp = self.pack.analyze_stack(messages)
        self.timings = {
            "analyze_wait": t_analyzed - t_start,
            "stack_build": t_built - t_analyzed,
            "analyze_stack": time.perf_counter() - t_built,
        }
        violations += _violations(resp.diagnostics, stack_urn, self.known, self.info, self.root)
        for na in resp.not_applicable:
            not_applicable[(stack_urn, na.policy_name)] = na.reason
        return violations, not_applicable


_END = object()


class _Helper:
    """A second process of the pack for the Analyze calls queued behind the program's burst.

    The program registers most resources in a final burst; the one pack then worked through the
    queue on one core after the program's end while the other core idled. Per-resource Analyze
    is a pure function of the request and the pack's configuration: the helper gets the same
    ConfigureStack and Configure, and the gate collects answers in the order the calls went out,
    so verdicts, findings and their order are those of one process. The CLI may itself send
    Analyze calls concurrently (pulumi_policy serves them on four threads), so no pack may rely
    on call order; AnalyzeStack stays with the first process. Started only once HELPER_BACKLOG
    calls wait (memory: one more pack process, which keeps no stack-wide state); one that fails
    to start leaves the first process to finish alone (the verdict needs none of it)."""

    def __init__(self, pack: PolicyPackProcess, stack_config: StackConfig) -> None:
        self._first = pack
        self._process = pack.sibling(stack_config)
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._tried = False

    def start(self) -> None:
        self._tried = True
        # the process here, so that close() always finds it; the waiting in a thread
        try:
            self._process.start()
        except PackError:
            return  # the first process carries on alone
        self._thread = threading.Thread(target=self._start, name="hkmail-pack-helper", daemon=True)
        self._thread.start()

    def _start(self) -> None:
        try:
            self._process.prepare_as(self._first)
        except BaseException:  # it failed, or close() stopped it: the first carries on alone
            return
        self._ready.set()

    @property
    def started(self) -> bool:
        return self._tried

    def ready(self) -> PolicyPackProcess | None:
        """The helper once it answers, else None (not yet, or it failed to start)."""
        return self._process if self._ready.is_set() else None

    def close(self) -> None:
        """Stop it, ready or still starting (a late helper must not hold up the verdict)."""
        self._process.close()
        if self._thread is not None:
            self._thread.join(timeout=10)


class _Feed:
    """A run's resources, read by a thread into an unbounded queue from the moment the feed is
    made: the program never waits for the gate (its pipe is always drained) while its resources
    are used at the pack's pace. An update-mode pass fed this way finishes beside the preview;
    read only after the preview's Analyze calls, it waited on its full pipe until then."""

    def __init__(self, run: ProgramRun) -> None:
        self._items: queue.SimpleQueue[object] = queue.SimpleQueue()
        #: when the program's last event was read (perf_counter), once it was
        self.ended: float | None = None
        self._thread = threading.Thread(
            target=self._read, args=(run,), name="hkmail-program-reader", daemon=True
        )
        self._thread.start()

    def _read(self, run: ProgramRun) -> None:
        try:
            for resource in run.resources():
                self._items.put(resource)
        except BaseException as exc:  # handed to the consuming thread, which raises it
            self._items.put(exc)
        finally:
            self.ended = time.perf_counter()
            self._items.put(_END)

    def queued(self) -> int:
        """Resources read from the program and not yet taken."""
        return self._items.qsize()

    def __iter__(self) -> Iterator[PlannedResource]:
        while True:
            item = self._items.get()
            if item is _END:
                break
            if isinstance(item, BaseException):
                raise item
            assert isinstance(item, PlannedResource)
            yield item
        self._thread.join()


#: the Hong Kong regions of the two clouds (DESIGN.md, "Clouds"): an ``allowedRegions`` setting
#: may narrow the pack's residency rules to these, never widen them beyond Hong Kong
HONG_KONG_REGIONS = frozenset({"cn-hongkong", "ap-hongkong"})


def check_policy_config(given: Mapping[str, Mapping[str, Any]], info: PackInfo, where: str) -> None:
    """Refuse a policy config that names a rule the pack does not have, or that lets a rule
    allow a region outside Hong Kong: either would silently weaken the gate."""
    from toolchain.gate import placement  # the gate's own rules can be configured too

    names = {r.name for r in info.rules} | set(placement.RULES) | {ENV_PLACEMENT_POLICY}
    problems = []
    for name, entry in given.items():
        if name != "all" and name not in names:
            problems.append(f"unknown policy {name!r} (the pack {info.name} has {sorted(names)})")
        props = entry.get("properties") or {}
        for key, value in props.items():
            if key != "allowedRegions":
                continue
            values = value if isinstance(value, list) else [value]
            outside = [v for v in values if v not in HONG_KONG_REGIONS]
            if outside:
                problems.append(
                    f"{name}.allowedRegions names {', '.join(map(repr, outside))}, outside Hong "
                    f"Kong (allowed: {', '.join(sorted(HONG_KONG_REGIONS))})"
                )
    if problems:
        raise PackError("the policy config is not valid: " + "; ".join(problems), where)


def _prepare(pack: PolicyPackProcess, policy_config: str | os.PathLike[str] | None) -> PackInfo:
    given = load_policy_config(policy_config) if policy_config else {}
    pack.wait_ready()
    pack.handshake()
    info = pack.info()
    check_policy_config(given, info, str(policy_config or pack.spec.root))
    config = reconcile_config(
        info.rules, pack.initial_config, given, str(policy_config or pack.spec.root)
    )
    lowered = _lowered(pack, info, config, given, policy_config)
    pack.configure(config)
    # report rules at the level they run at
    effective = tuple(
        dataclasses.replace(r, enforcement_level=config[r.name]["enforcementLevel"])
        for r in info.rules
    )
    return PackInfo(
        name=info.name,
        version=info.version,
        plugin_version=info.plugin_version,
        display_name=info.display_name,
        description=info.description,
        rules=effective,
        lowered=lowered,
        config_name=Path(policy_config).name if policy_config else "",
    )


def _lowered(
    pack: PolicyPackProcess,
    info: PackInfo,
    config: Mapping[str, Mapping[str, Any]],
    given: Mapping[str, Mapping[str, Any]],
    policy_config: str | os.PathLike[str] | None,
) -> tuple[tuple[str, str, str, str], ...]:
    """Rules the config runs below their default level (the pack's and the gate's own); a
    residency-* or secrets-* rule needs an approved downgrade record (else exit 2)."""
    if not policy_config:
        return ()
    from toolchain.gate import placement

    defaults = {r.name: r.enforcement_level for r in info.rules}
    levels = {r.name: str(config[r.name]["enforcementLevel"]) for r in info.rules}
    defaults.update(placement._levels(None))
    levels.update(placement._levels(given))
    everything = (given.get("all") or {}).get("enforcementLevel")
    defaults[ENV_PLACEMENT_POLICY] = "mandatory"
    levels[ENV_PLACEMENT_POLICY] = (
        (given.get(ENV_PLACEMENT_POLICY) or {}).get("enforcementLevel") or everything or "mandatory"
    )
    gate_rules = (*placement.RULES, ENV_PLACEMENT_POLICY)
    return check_downgrades(
        pack.spec.root, levels, defaults, str(policy_config), pack.pass_env, gate_rules
    )


@dataclass(frozen=True)
class StackFailure:
    """A stack whose program (or config) could not be run: the gate fails closed for it."""

    stack: str
    error: EngineError


def _env_violations(
    plan: Plan,
    stack_urn: str,
    root: Path | None,
    policy_config: str | os.PathLike[str] | None = None,
) -> list[Violation]:
    """The gate's own finding for every placement variable the program read (class 7)."""
    given = load_policy_config(policy_config) if policy_config and plan.env_reads else {}
    level = (given.get(ENV_PLACEMENT_POLICY) or {}).get("enforcementLevel") or (
        given.get("all") or {}
    ).get("enforcementLevel", "mandatory")
    if level == "disabled":
        return []
    result = []
    for read in plan.env_reads:
        where = read.location
        if root is not None and where.startswith(str(root) + os.sep):
            where = where[len(str(root)) + 1 :]
        state = "set" if read.present else "not set here"
        result.append(
            Violation(
                policy_name=ENV_PLACEMENT_POLICY,
                policy_pack_name=GATE_FINDINGS,
                policy_pack_version="",
                enforcement_level=level,
                severity="critical",
                resource_urn=stack_urn,
                resource_type=ROOT_STACK_TYPE,
                resource_name=f"{plan.project}-{plan.stack}",
                message=(
                    f"the program reads the environment variable {read.name} ({state}) at "
                    f"{where or 'an unknown location'}: where its resources go would depend on "
                    "the environment of whoever deploys, which no preview can check. Take the "
                    "region from the stack's config and pin it to Hong Kong."
                ),
                source=read.location,
            )
        )
    return result


def _update_pass_error(stack: str, exc: EngineError) -> EngineError:
    return EngineError(
        f"stack {stack}: the update-mode pass (mock ids, every apply() run) failed, so resources "
        f"that the program registers only inside an apply() cannot be checked: {exc}",
        exc.where,
    )


def _judge_stack(
    pack: PolicyPackProcess,
    info: PackInfo,
    run: ProgramRun,
    update_run: ProgramRun | None,
    t0: float,
    t_ready: float,
    policy_config: str | os.PathLike[str] | None = None,
    *,
    update_feed: Callable[[], _Feed | None] | None = None,
) -> GateResult:
    """One stack through an already configured pack: the preview pass streams into Analyze as
    the program registers; then the resources only the update pass found; then AnalyzeStack."""
    from toolchain.gate import placement  # state and secrets placement (issue 12)

    pack.configure_stack(run.config)
    # its files are read now, while the program starts, not in the tail after it
    judge_placement = placement.preview_judge(run.project.root, run.config.path, policy_config)
    analysis = _Analysis(pack, info, run.project.root)
    if update_feed is None:  # an update pass started by the caller: drain it from now on
        started = _Feed(update_run) if update_run is not None and update_run.started else None
        update_feed = lambda: started  # noqa: E731
    feed = _Feed(run)
    helper = _Helper(pack, run.config)
    try:
        for resource in feed:
            if (
                not helper.started
                and not analysis.remediate
                and feed.queued() + analysis.backlog() >= HELPER_BACKLOG
            ):
                helper.start()
            if helper.started and len(analysis.in_flight) == 1:
                ready = helper.ready()
                if ready is not None:
                    analysis.add_helper(ready)
            analysis.submit(resource)
        t_program = feed.ended if feed.ended is not None else time.perf_counter()
        return _finish_stack(
            pack,
            info,
            run,
            update_run,
            update_feed,
            analysis,
            judge_placement,
            t0,
            t_ready,
            t_program,
            policy_config,
        )
    finally:
        helper.close()


def _finish_stack(
    pack: PolicyPackProcess,
    info: PackInfo,
    run: ProgramRun,
    update_run: ProgramRun | None,
    update_feed: Callable[[], _Feed | None],
    analysis: _Analysis,
    judge_placement: Callable[[str], list[Violation]],
    t0: float,
    t_ready: float,
    t_program: float,
    policy_config: str | os.PathLike[str] | None,
) -> GateResult:
    """The rest of _judge_stack once the preview's resources are all sent."""
    plan = run.plan
    stack_urn = next(
        (r.urn for r in plan.resources if r.type == ROOT_STACK_TYPE),
        f"urn:pulumi:{plan.stack}::{plan.project}::{ROOT_STACK_TYPE}::{plan.project}-{plan.stack}",
    )
    update_only: list[str] = []
    updates = update_feed()
    if update_run is not None and updates is not None:
        try:
            for resource in updates:
                if resource.urn in analysis.known:
                    continue
                # a resource the preview never registered: an apply() on an unknown value made
                # it (its provider, if also new, came just before it, as in the engine's order)
                analysis.submit(resource)
                update_only.append(resource.urn)
        except EngineError as exc:
            raise _update_pass_error(plan.stack, exc) from exc
    t_update = time.perf_counter()
    violations, not_applicable = analysis.finish(stack_urn)
    violations = violations + _env_violations(plan, stack_urn, run.project.root, policy_config)
    violations += judge_placement(stack_urn)
    t_end = time.perf_counter()
    return GateResult(
        project=plan.project,
        stack=plan.stack,
        pack=info,
        resources=tuple(analysis.order),
        violations=tuple(violations),
        not_applicable=not_applicable,
        mode="preview",
        project_root=run.project.root,
        config_file=run.config.path,
        plan=plan,
        remediated=tuple(analysis.remediated),
        update_only=tuple(update_only),
        reads=tuple(analysis.reads),
        update_pass=(
            (run.update_needed or "forced") if update_run is not None and update_run.started else ""
        ),
        timings={
            "pack_ready": t_ready - t0,
            "program_done": t_program - t0,
            "update_pass_done": t_update - t0,
            **analysis.timings,
            # a helper pack process: when it took its first call, and how many it took
            **(
                {"helper_ready": analysis.helper_at - t0, "helper_calls": analysis.helper_calls}
                if analysis.helper_at is not None
                else {}
            ),
            "total": t_end - t0,
        },
    )


def run_gates(
    project_dir: str | os.PathLike[str],
    stacks: Sequence[str],
    pack_dir: str | os.PathLike[str],
    *,
    policy_config: str | os.PathLike[str] | None = None,
    timeout: float | None = 600.0,
    pack_timeout: float = 300.0,
    pass_env: tuple[str, ...] = (),
    update_pass: bool = True,
    force_update_pass: bool = False,
    on_stack_done: Callable[[int, GateResult | StackFailure], None] | None = None,
) -> list[GateResult | StackFailure]:
    """Every stack of a project through ONE pack process, in order; ``on_stack_done(i, result)``
    is called as each is judged (progress on a terminal).

    For each stack the program runs twice side by side: a preview (what `pulumi preview` shows
    the pack) and, on the second core, an update-mode pass with mock ids in which every apply()
    runs, to find resources that a preview never registers. A stack whose program or config
    fails is a :class:`StackFailure` (the others are still judged); a pack failure raises."""
    if not stacks:
        raise EngineError("no stack to judge", str(project_dir))
    check_pack_records(pack_dir, pass_env)  # a bad exemptions file: exit 2, before any run
    t0 = time.perf_counter()
    results: list[GateResult | StackFailure] = []

    def start(stack: str) -> tuple[ProgramRun, ProgramRun | None, Callable[[], _Feed | None]]:
        update = (
            ProgramRun(project_dir, stack, preview=False, timeout=timeout, pass_env=pass_env)
            if update_pass
            else None
        )
        lock = threading.Lock()
        feeds: list[_Feed] = []

        def start_update(why: str) -> None:
            # the preview says an update-mode run could register more: start it now, beside
            # the preview, on the other core (a program that never skips an apply() on an
            # unknown value nor asks whether it previews registers the same in both modes)
            with lock:
                if update is not None and not update.started:
                    update.start()
                    feeds.append(_Feed(update))

        def update_feed() -> _Feed | None:
            with lock:
                return feeds[0] if feeds else None

        run = ProgramRun(
            project_dir, stack, timeout=timeout, pass_env=pass_env, on_update_needed=start_update
        )
        run.start()
        if force_update_pass:
            start_update("forced")
        return run, update, update_feed

    first: tuple[ProgramRun, ProgramRun | None, Callable[[], _Feed | None]] | StackFailure
    try:
        first = start(stacks[0])
    except EngineError as exc:
        first = StackFailure(stacks[0], exc)
    pack = PolicyPackProcess(
        pack_dir,
        stack_config=first[0].config if isinstance(first, tuple) else None,
        timeout=pack_timeout,
        pass_env=pass_env,
    )
    with pack:  # the first stack's programs and the pack warm up side by side
        try:
            info = _prepare(pack, policy_config)
        except BaseException:
            if isinstance(first, tuple):
                for r in first[:2]:
                    if isinstance(r, ProgramRun):
                        r.close()
            raise
        t_ready = time.perf_counter()
        for i, stack in enumerate(stacks):
            runs: tuple[ProgramRun, ProgramRun | None, Callable[[], _Feed | None]] | StackFailure
            if i == 0:
                runs = first
            else:
                try:
                    runs = start(stack)
                except EngineError as exc:
                    runs = StackFailure(stack, exc)
            if isinstance(runs, StackFailure):
                results.append(runs)
            else:
                run, update, update_feed = runs
                try:
                    results.append(
                        _judge_stack(
                            pack,
                            info,
                            run,
                            update,
                            t0,
                            t_ready,
                            policy_config,
                            update_feed=update_feed,
                        )
                    )
                except PackError:
                    raise
                except EngineError as exc:
                    results.append(StackFailure(stack, exc))
                finally:
                    run.close()
                    if update is not None:
                        update.close()
            if on_stack_done is not None:
                on_stack_done(i, results[-1])
    return results


def run_gate(
    project_dir: str | os.PathLike[str],
    stack: str,
    pack_dir: str | os.PathLike[str],
    *,
    policy_config: str | os.PathLike[str] | None = None,
    timeout: float | None = 600.0,
    pack_timeout: float = 300.0,
    pass_env: tuple[str, ...] = (),
    update_pass: bool = True,
    force_update_pass: bool = False,
) -> GateResult:
    """Run the program for ``stack`` under mocks and its resources through the pack.
    ``force_update_pass`` runs the update-mode pass even when the preview needs none (the
    benchmark's worst case)."""
    (result,) = run_gates(
        project_dir,
        [stack],
        pack_dir,
        policy_config=policy_config,
        timeout=timeout,
        pack_timeout=pack_timeout,
        pass_env=pass_env,
        update_pass=update_pass,
        force_update_pass=force_update_pass,
    )
    if isinstance(result, StackFailure):
        raise result.error
    return result


def run_gate_on_state(
    state_file: str | os.PathLike[str],
    pack_dir: str | os.PathLike[str],
    *,
    policy_config: str | os.PathLike[str] | None = None,
    pack_timeout: float = 300.0,
    pass_env: tuple[str, ...] = (),
) -> GateResult:
    """The same analysis over a ``pulumi stack export`` document (what is deployed)."""
    t0 = time.perf_counter()
    check_pack_records(pack_dir, pass_env)
    project, stack, resources = load_state(state_file)
    pack = PolicyPackProcess(
        pack_dir, project=project, stack=stack, timeout=pack_timeout, pass_env=pass_env
    )
    with pack:
        info = _prepare(pack, policy_config)
        analysis = _Analysis(pack, info, None)
        for resource in resources:
            analysis.submit(resource)
        stack_urn = next(
            (r.urn for r in resources if r.type == ROOT_STACK_TYPE),
            f"urn:pulumi:{stack}::{project}::{ROOT_STACK_TYPE}::{project}-{stack}",
        )
        # deployed state: AnalyzeStack sees the recorded outputs of every resource
        violations, not_applicable = analysis.finish(
            stack_urn, {r.urn: r.outputs for r in resources}
        )
    from toolchain.gate import placement  # state and secrets placement (issue 12)

    violations += placement.for_state(state_file, stack_urn, policy_config)
    return GateResult(
        project=project,
        stack=stack,
        pack=info,
        resources=tuple(analysis.order),
        violations=tuple(violations),
        not_applicable=not_applicable,
        remediated=tuple(analysis.remediated),
        mode="state",
        reads=tuple(analysis.reads),
        project_root=None,
        config_file=Path(state_file).resolve(),
        timings={"total": time.perf_counter() - t0},
    )


def rule_pairs(result: GateResult) -> Sequence[tuple[PlannedResource | None, str]]:
    """Every (resource, rule) pair the pack evaluated: resource rules x resources, stack rules x
    the stack (None)."""
    pairs: list[tuple[PlannedResource | None, str]] = []
    resource_rules = [
        r.name
        for r in result.pack.rules
        if r.kind == "resource" and r.enforcement_level != "disabled"
    ]
    stack_rules = [
        r.name for r in result.pack.rules if r.kind == "stack" and r.enforcement_level != "disabled"
    ]
    for res in result.resources:
        pairs.extend((res, rule) for rule in resource_rules)
    pairs.extend((None, rule) for rule in stack_rules)
    return pairs
