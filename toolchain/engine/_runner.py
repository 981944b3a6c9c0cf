"""Child-process side of an offline run: the program under Pulumi's mocks, streaming registrations.

Run as ``python -m toolchain.engine._runner --fd N --program PATH --project P --stack S``, with the
config in ``PULUMI_CONFIG``/``PULUMI_CONFIG_SECRET_KEYS`` exactly as the language host passes it.
Each registration is written as one JSON line to file descriptor N as soon as the program makes it,
so the parent can analyse resources while the program still runs. This module must only use the
standard library and the ``pulumi`` SDK: it runs in the target project's own virtualenv.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import queue
import re
import runpy
import sys
import threading
import traceback
import uuid
from typing import IO, Any
from urllib.parse import unquote

import pulumi
import pulumi.runtime
from google.protobuf import (  # type: ignore[import-untyped]
    empty_pb2,
    json_format,
    struct_pb2,
)
from pulumi.runtime import mocks, rpc
from pulumi.runtime import stack as pulumi_stack
from pulumi.runtime._callbacks import _CallbackServicer
from pulumi.runtime.proto import engine_pb2, resource_pb2
from pulumi.runtime.settings import SETTINGS, _get_rpc_manager, configure

from toolchain.engine import invokes

ROOT_STACK_TYPE = "pulumi:pulumi:Stack"
_SEVERITY = {
    engine_pb2.DEBUG: "debug",
    engine_pb2.INFO: "info",
    engine_pb2.WARNING: "warning",
    engine_pb2.ERROR: "error",
}
_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


#: Environment variables that choose where cloud resources go: the providers' own region/zone
#: variables (``_utilities.get_env`` in pulumi-alicloud, tencentcloud-iac-pulumi, ...) and any
#: other variable named like a region or zone. A program that reads one places its resources
#: wherever the deploying environment says, which the gate cannot see (issue 13, class 7).
PLACEMENT_ENV = re.compile(
    r"^(ALICLOUD_REGION|ALIBABA_CLOUD_REGION(_ID)?|ALIBABACLOUD_REGION(_ID)?|ALICLOUD_ZONE"
    r"|TENCENTCLOUD_REGION|TENCENTCLOUD_ZONE|TENCENTCLOUD_DEFAULT_REGION|QCLOUD_REGION"
    r"|AWS_REGION|AWS_DEFAULT_REGION|GOOGLE_REGION|GOOGLE_ZONE|CLOUDSDK_COMPUTE_(REGION|ZONE)"
    r"|ARM_LOCATION|AZURE_LOCATION|HUAWEICLOUD_REGION|OS_REGION_NAME)$"
    r"|(^|_)(REGION|REGIONS|REGION_ID|ZONE|ZONE_ID|ZONES|AVAILABILITY_ZONE|LOCATION)(_|$)",
    re.IGNORECASE,
)


def parse_duration(text: str) -> float:
    """A Go duration string ("5m", "1h30m") in seconds, as the engine parses custom timeouts."""
    if not text:
        return 0.0
    pos, total = 0, 0.0
    for m in _DURATION.finditer(text):
        if m.start() != pos:
            raise ValueError(f"unable to parse customTimeout Value {text!r}")
        total += float(m.group(1)) * _UNIT_SECONDS[m.group(2)]
        pos = m.end()
    if pos != len(text):
        raise ValueError(f"unable to parse customTimeout Value {text!r}")
    return total


class Emitter:
    """Sends one JSON object per line to the parent. ``emit`` is called from the SDK's executor
    threads and never blocks on the pipe: a writer thread does the writing, so a busy reader
    cannot slow the program down."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream
        self._queue: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self._writer = threading.Thread(target=self._write, name="hkmail-emitter", daemon=True)
        self._writer.start()

    def emit(self, event: dict[str, Any]) -> None:
        self._queue.put(json.dumps(event, separators=(",", ":")) + "\n")

    def _write(self) -> None:
        while True:
            line = self._queue.get()
            if line is None:
                break
            lines = [line]
            # batch whatever else is waiting into one write
            while not self._queue.empty() and len(lines) < 256:
                more = self._queue.get()
                if more is None:
                    self._stream.write("".join(lines))
                    self._stream.flush()
                    return
                lines.append(more)
            self._stream.write("".join(lines))
            self._stream.flush()

    def close(self) -> None:
        """Send everything emitted so far, then stop the writer."""
        self._queue.put(None)
        self._writer.join()
        self._stream.flush()


class _UpdateNeeded:
    """Tells the parent, once, that an update-mode run could register what this preview did not:
    an apply() was skipped because its value was unknown, or the program asked whether it runs
    in preview. A program that does neither registers the same resources in both modes, so the
    gate starts its update-mode pass only on this signal."""

    def __init__(self) -> None:
        self._sent = False
        self._lock = threading.Lock()

    def signal(self, emitter: Emitter, why: str) -> None:
        with self._lock:
            if self._sent:
                return
            self._sent = True
        emitter.emit({"kind": "update_needed", "why": why})


_UPDATE_NEEDED = _UpdateNeeded()


def _watch_previews(emitter: Emitter) -> None:
    """Report the first apply() the preview skips on an unknown value, and the first time the
    program asks ``pulumi.runtime.is_dry_run()`` (see _UpdateNeeded)."""
    from pulumi.output import Output

    original_apply = Output.apply

    def apply(self: Any, func: Any, run_with_unknowns: bool = False) -> Any:
        result = original_apply(self, func, run_with_unknowns)
        if not run_with_unknowns:

            def seen(data: Any) -> None:
                if data.cancelled() or data.exception() is not None:
                    return
                if not data.result().is_known:
                    _UPDATE_NEEDED.signal(emitter, "an apply() on an unknown value was skipped")

            self._data.add_done_callback(seen)
        return result

    Output.apply = apply  # type: ignore[method-assign]
    original_is_dry_run = pulumi.runtime.is_dry_run

    def is_dry_run() -> bool:
        _UPDATE_NEEDED.signal(emitter, "the program asks whether it runs in preview")
        return bool(original_is_dry_run())

    pulumi.runtime.is_dry_run = is_dry_run


class AuditedEnviron(os._Environ):  # type: ignore[type-arg]
    """``os.environ`` that reports every read of a placement variable (see PLACEMENT_ENV).

    Installed over ``os.environ`` before the program starts, so ``os.environ[...]``,
    ``os.environ.get``, ``in`` and ``os.getenv`` (which reads ``os.environ``) are all seen, present
    or not. Each (variable, program location) is reported once."""

    def __init__(self, base: Any, emitter: Emitter, root: str) -> None:
        super().__init__(
            base._data, base.encodekey, base.decodekey, base.encodevalue, base.decodevalue
        )
        self._emitter = emitter
        self._root = root
        self._seen: set[tuple[str, str]] = set()

    def __getitem__(self, key: str) -> str:
        if isinstance(key, str) and PLACEMENT_ENV.search(key):
            self._report(key)
        if key == "PULUMI_DRY_RUN":
            _UPDATE_NEEDED.signal(self._emitter, "the program reads PULUMI_DRY_RUN")
        value: str = super().__getitem__(key)
        return value

    def _report(self, key: str) -> None:
        frames = traceback.extract_stack()[:-2]
        location = _program_location(traceback.StackSummary.from_list(frames), self._root)
        if (key, location) in self._seen:
            return
        self._seen.add((key, location))
        self._emitter.emit(
            {
                "kind": "env",
                "name": key,
                "present": key in self._data_keys(),
                "location": location,
            }
        )

    def _data_keys(self) -> set[str]:
        data: dict[bytes, bytes] = self._data  # type: ignore[attr-defined]
        return {self.decodekey(k) for k in data}


def _struct(msg: struct_pb2.Struct) -> dict[str, Any]:
    result: dict[str, Any] = json_format.MessageToDict(msg)
    return result


def _source(request: Any) -> str:
    """``path:line`` of the program code that constructed the resource, if the SDK sent it."""
    pos = request.sourcePosition
    if not pos.uri:
        return ""
    uri = str(pos.uri)
    path = uri[len("file://") :] if uri.startswith("file://") else uri
    return f"{unquote(path)}:{pos.line}"


class _OfflineMocks(mocks.Mocks):
    """Invokes answer with a well-formed result built from the function's result type (see
    invokes.py), in the region of the provider they go through; resources are answered by
    CapturingMonitor itself."""

    def __init__(self) -> None:
        self.provider_regions: dict[str, str] = {}  # provider URN -> its literal region input

    def call(self, args: mocks.MockCallArgs) -> tuple[dict[Any, Any], list[tuple[str, str]]]:
        typ = invokes.result_type(args.token)
        if typ is None:
            return {}, []
        provider_urn = (args.provider or "").rsplit("::", 1)[0]
        region = self.provider_regions.get(provider_urn)
        return invokes.build(typ, args.args, region), []

    def new_resource(self, args: mocks.MockResourceArgs) -> tuple[str | None, dict[Any, Any]]:
        return "", {}


class CapturingMonitor(mocks.MockMonitor):
    """A mock resource monitor that answers like the engine does in preview and records it all."""

    def __init__(self, emitter: Emitter, project: str, stack: str, preview: bool) -> None:
        self._mocks = _OfflineMocks()
        super().__init__(self._mocks)
        self._emitter = emitter
        self._project = project
        self._stack = stack
        self._preview = preview
        # Transforms, kept as the engine keeps them (source_eval.go): stack transforms in
        # registration order, each resource's own transforms by URN (its children run them too),
        # and every resource's parent, to walk up the chain.
        self._lock = threading.Lock()
        self._stack_transform_cbs: list[Any] = []
        self._resource_transform_cbs: dict[str, list[Any]] = {}
        self._parents: dict[str, str] = {}

    def RegisterStackTransform(self, request: Any) -> empty_pb2.Empty:
        with self._lock:
            self._stack_transform_cbs.append(request)
        return empty_pb2.Empty()

    @staticmethod
    def _invoke_callback(callback: Any, payload: bytes) -> bytes:
        """Call a transform callback as the engine does (``Callbacks.Invoke`` with the serialized
        request), in-process: the callback server runs on the program's event loop, and this
        method runs on one of the SDK's executor threads."""
        for servicer in list(_CallbackServicer._servicers):
            fn = servicer._callbacks.get(callback.token)
            if fn is not None:
                coro: Any = fn(payload)
                future: Any = asyncio.run_coroutine_threadsafe(coro, servicer._loop)
                response: bytes = future.result().SerializeToString()
                return response
        raise RuntimeError(f"transform callback {callback.token} not found")

    def _run_transforms(self, request: Any, urn: str) -> tuple[Any, Any]:
        """The engine's transform pass: this resource's transforms, then each ancestor's, then
        the stack's; each sees the properties and options the previous one returned.
        Returns (properties Struct, TransformResourceOptions) or (None, None) if none ran."""
        with self._lock:
            own = list(request.transforms)
            chain = list(own)
            current = request.parent
            while current:
                chain += self._resource_transform_cbs.get(current, [])
                current = self._parents.get(current, "")
            chain += self._stack_transform_cbs
            self._parents[urn] = request.parent
            if own:
                self._resource_transform_cbs[urn] = own
        if not chain:
            return None, None
        props = request.object
        opts = resource_pb2.TransformResourceOptions(
            depends_on=list(request.dependencies),
            ignore_changes=list(request.ignoreChanges),
            replace_on_changes=list(request.replaceOnChanges),
            version=request.version,
            aliases=list(request.aliases),
            provider=request.provider,
            plugin_download_url=request.pluginDownloadURL,
            deleted_with=request.deletedWith,
            additional_secret_outputs=list(request.additionalSecretOutputs),
            providers=dict(request.providers),
            plugin_checksums=dict(request.pluginChecksums),
            **{"import": request.importId},
        )
        if request.HasField("protect"):
            opts.protect = request.protect
        if request.HasField("retainOnDelete"):
            opts.retain_on_delete = request.retainOnDelete
        if request.HasField("customTimeouts"):
            opts.custom_timeouts.CopyFrom(request.customTimeouts)
        if request.deleteBeforeReplaceDefined:
            opts.delete_before_replace = request.deleteBeforeReplace
        for callback in chain:
            payload = resource_pb2.TransformRequest(
                type=request.type,
                name=request.name,
                custom=request.custom,
                parent=request.parent,
                properties=props,
                options=opts,
            ).SerializeToString()
            response = resource_pb2.TransformResponse.FromString(
                self._invoke_callback(callback, payload)
            )
            if response.HasField("properties"):
                props = response.properties
            if response.HasField("options"):
                opts = response.options
        return props, opts

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        # The engine qualifies the type with the parent's full type chain, except for the stack.
        qualified = type_
        if parent:
            parent_type = parent.split("::")[2]
            if parent_type != ROOT_STACK_TYPE:
                qualified = parent_type + "$" + type_
        return f"urn:pulumi:{self._stack}::{self._project}::{qualified}::{name}"

    def _alias_urns(self, request: Any) -> list[str]:
        urns = list(request.aliasURNs)
        for alias in request.aliases:
            if alias.urn:
                urns.append(alias.urn)
                continue
            spec = alias.spec
            name = spec.name or request.name
            type_ = spec.type or request.type
            if spec.noParent:
                parent = ""
            elif spec.parentUrn:
                parent = spec.parentUrn
            else:
                parent = request.parent
            urn = self.make_urn(parent, type_, name)
            if spec.stack or spec.project:
                stack = spec.stack or self._stack
                project = spec.project or self._project
                urn = f"urn:pulumi:{stack}::{project}::{urn.split('::', 2)[2]}"
            urns.append(urn)
        return urns

    def RegisterResource(self, request: Any) -> resource_pb2.RegisterResourceResponse:
        urn = self.make_urn(request.parent, request.type, request.name)
        props, opts = self._run_transforms(request, urn)
        if opts is not None:
            request = self._apply_transformed(request, props, opts)
        custom = bool(request.custom)
        if request.type == ROOT_STACK_TYPE or not custom:
            rid = ""
        elif self._preview:
            rid = ""  # new resources have unknown ids during preview
        else:
            rid = str(uuid.uuid5(uuid.NAMESPACE_URL, urn))
        timeouts = request.customTimeouts
        event: dict[str, Any] = {
            "kind": "resource",
            "urn": urn,
            "type": request.type,
            "name": request.name,
            "custom": custom,
            "remote": bool(request.remote),
            "parent": request.parent or None,
            "provider": request.provider or None,
            "providers": dict(request.providers),
            "inputs": _struct(request.object),
            "dependencies": list(request.dependencies),
            "propertyDependencies": {
                k: list(v.urns) for k, v in request.propertyDependencies.items()
            },
            "protect": bool(request.protect),
            "retainOnDelete": bool(request.retainOnDelete),
            "deleteBeforeReplace": (
                bool(request.deleteBeforeReplace) if request.deleteBeforeReplaceDefined else None
            ),
            "ignoreChanges": list(request.ignoreChanges),
            "replaceOnChanges": list(request.replaceOnChanges),
            "aliases": self._alias_urns(request),
            "customTimeouts": {
                "create": parse_duration(timeouts.create),
                "update": parse_duration(timeouts.update),
                "delete": parse_duration(timeouts.delete),
            },
            "additionalSecretOutputs": list(request.additionalSecretOutputs),
            "importId": request.importId,
            "deletedWith": request.deletedWith,
            "version": request.version,
            "pluginDownloadURL": request.pluginDownloadURL,
            "id": rid or None,
            "source": _source(request),
        }
        self._emitter.emit(event)
        self.resources[urn] = mocks.MockMonitor.ResourceRegistration(urn, rid, {})
        if request.type.startswith("pulumi:providers:"):
            region = event["inputs"].get("region")
            if isinstance(region, str) and region and region != rpc.UNKNOWN:
                self._mocks.provider_regions[urn] = region
        # During preview the engine answers a create with the checked inputs as the outputs
        # (unknowns stay unknown); components get no outputs from the engine.
        obj = request.object if custom else struct_pb2.Struct()
        # In update mode the id is a deterministic mock, so every apply() on an id runs and the
        # resources registered inside it are seen. What the provider would compute cannot be
        # known offline: ``unknown`` makes the SDK resolve every output the inputs do not
        # cover as unknown (as after a skipped create) rather than as a known None.
        unknown = custom and not self._preview and request.type != ROOT_STACK_TYPE
        return resource_pb2.RegisterResourceResponse(urn=urn, id=rid, object=obj, unknown=unknown)

    @staticmethod
    def _apply_transformed(request: Any, props: Any, opts: Any) -> Any:
        """A copy of the registration with what the transforms returned, as the engine goes on
        with the transformed properties and options."""
        out = resource_pb2.RegisterResourceRequest()
        out.CopyFrom(request)
        out.object.CopyFrom(props)
        out.dependencies[:] = list(opts.depends_on)
        out.ClearField("protect")
        if opts.HasField("protect"):
            out.protect = opts.protect
        out.ignoreChanges[:] = list(opts.ignore_changes)
        out.replaceOnChanges[:] = list(opts.replace_on_changes)
        out.version = opts.version
        del out.aliases[:]
        out.aliases.extend(opts.aliases)
        if request.custom or request.remote:
            out.provider = opts.provider  # the engine resolves a provider only for these
        out.ClearField("customTimeouts")
        if opts.HasField("custom_timeouts"):
            out.customTimeouts.CopyFrom(opts.custom_timeouts)
        out.pluginDownloadURL = opts.plugin_download_url
        out.ClearField("retainOnDelete")
        if opts.HasField("retain_on_delete"):
            out.retainOnDelete = opts.retain_on_delete
        out.deletedWith = opts.deleted_with
        out.deleteBeforeReplaceDefined = opts.HasField("delete_before_replace")
        out.deleteBeforeReplace = bool(opts.delete_before_replace)
        out.additionalSecretOutputs[:] = list(opts.additional_secret_outputs)
        out.providers.clear()
        out.providers.update(dict(opts.providers))
        out.importId = getattr(opts, "import")
        return out

    def RegisterResourceOutputs(self, request: Any) -> empty_pb2.Empty:
        self._emitter.emit(
            {"kind": "outputs", "urn": request.urn, "outputs": _struct(request.outputs)}
        )
        return empty_pb2.Empty()

    def ReadResource(self, request: Any) -> resource_pb2.ReadResourceResponse:
        urn = self.make_urn(request.parent, request.type, request.name)
        self._emitter.emit(
            {
                "kind": "read",
                "urn": urn,
                "type": request.type,
                "name": request.name,
                "id": request.id,
                "parent": request.parent or None,
                "provider": request.provider or None,
                "inputs": _struct(request.properties),
                "dependencies": list(request.dependencies),
                "version": request.version,
                "pluginDownloadURL": request.pluginDownloadURL,
            }
        )
        # What a read returns (another stack's outputs, an existing resource's state) is not
        # known offline: in update mode say so (``unknown``), as a preview leaves it unknown.
        return resource_pb2.ReadResourceResponse(
            urn=urn, properties=request.properties, id=request.id, unknown=not self._preview
        )

    def Invoke(self, request: Any) -> Any:
        if request.tok != "pulumi:pulumi:getResource":
            self._emitter.emit(
                {
                    "kind": "invoke",
                    "token": request.tok,
                    "provider": request.provider or None,
                    "version": request.version,
                }
            )
        return super().Invoke(request)  # type: ignore[no-untyped-call]


class CapturingEngine:
    """Receives ``pulumi.log`` messages and forwards them to the parent."""

    def __init__(self, emitter: Emitter) -> None:
        self._emitter = emitter

    def Log(self, request: Any) -> None:
        severity = _SEVERITY.get(request.severity, "info")
        if severity == "debug":
            return
        self._emitter.emit(
            {"kind": "log", "severity": severity, "message": request.message, "urn": request.urn}
        )


def _program_location(tb: traceback.StackSummary, root: str) -> str:
    """file:line of the innermost frame inside the project (else the innermost frame)."""
    inside = [
        f
        for f in tb
        if not f.filename.startswith("<")
        and os.path.abspath(f.filename).startswith(root + os.sep)
        and f"{os.sep}site-packages{os.sep}" not in f.filename
    ]
    frames = inside or list(tb)
    if not frames:
        return ""
    return f"{frames[-1].filename}:{frames[-1].lineno}"


async def _wait_for_rpcs(await_all_outstanding_tasks: bool = True) -> None:
    """``pulumi.runtime.stack.wait_for_rpcs`` with the same semantics in linear time.

    The SDK's loop waits with FIRST_COMPLETED on every pending output again after each one that
    finishes, which is quadratic in the number of outputs (minutes at 1,000 domains). Waiting
    with FIRST_EXCEPTION finishes the same set of tasks, re-raises the same failures, and adds
    each task's done-callback once.
    """
    rpc_manager = _get_rpc_manager()
    while True:
        while rpc_manager.rpcs:
            await asyncio.sleep(0)
            try:
                await rpc_manager.rpcs.pop()
            except Exception as exn:
                if rpc_manager.unhandled_exception is not None:
                    cause = rpc_manager.unhandled_exception.with_traceback(
                        rpc_manager.exception_traceback
                    )
                    raise exn from cause
                raise
        if rpc_manager.unhandled_exception is not None:
            raise rpc_manager.unhandled_exception.with_traceback(rpc_manager.exception_traceback)
        if await_all_outstanding_tasks:
            while True:
                with SETTINGS.lock:
                    if not SETTINGS.outputs:
                        break
                    pending = list(SETTINGS.outputs)
                    SETTINGS.outputs.clear()
                done, not_done = await asyncio.wait(pending, return_when=asyncio.FIRST_EXCEPTION)
                for task in done:
                    if task.cancelled() or task.exception() is not None:
                        await task  # re-raises, as the SDK does
                if not_done:
                    with SETTINGS.lock:
                        SETTINGS.outputs.update(not_done)
        if not rpc_manager.rpcs:
            break


def _forget_runner_path() -> None:
    """Hide the directory this runner was imported from (put on PYTHONPATH only so that
    ``-m toolchain.engine._runner`` works): the program must see the import path it would have under
    the CLI. A program whose own directory is that directory gets it back from runpy."""
    here = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
    kept = [
        p
        for p in os.environ.get("PYTHONPATH", "").split(os.pathsep)
        if p and os.path.abspath(p) != here
    ]
    if kept:
        os.environ["PYTHONPATH"] = os.pathsep.join(kept)
    else:
        os.environ.pop("PYTHONPATH", None)
    # This module runs as __main__; its parent packages must not be importable by the program.
    for name in [m for m in sys.modules if m == "toolchain" or m.startswith("toolchain.")]:
        del sys.modules[name]


def _run_path(program: str) -> None:
    runpy.run_path(program, run_name="__main__")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="toolchain.engine._runner")
    ap.add_argument("--fd", type=int, required=True)
    ap.add_argument("--program", required=True)
    ap.add_argument("--project", required=True)
    ap.add_argument("--stack", required=True)
    ap.add_argument("--pwd", required=True)
    ap.add_argument("--no-preview", action="store_true")
    ap.add_argument("--env-file", help="JSON of environment variables too large for exec")
    args = ap.parse_args(argv)
    if args.env_file:
        with open(args.env_file, encoding="utf-8") as f:
            os.environ.update(json.load(f))
        os.unlink(args.env_file)

    emitter = Emitter(os.fdopen(args.fd, "w", encoding="utf-8", buffering=1))
    preview = not args.no_preview

    # Config and settings exactly as pulumi-language-python-exec sets them up.
    pulumi.runtime.set_all_config(
        pulumi.runtime.get_config_env(), pulumi.runtime.get_config_secret_keys_env()
    )
    invokes.install()
    monitor = CapturingMonitor(emitter, args.project, args.stack, preview)
    features = monitor.GetDeploymentInfo(empty_pb2.Empty())  # type: ignore[no-untyped-call]
    settings = mocks.MockSettings(  # type: ignore[no-untyped-call]
        monitor=monitor,
        monitor_features=set(features.supportedFeatures),
        engine=CapturingEngine(emitter),
        project=args.project,
        stack=args.stack,
        dry_run=preview,
        organization=os.environ.get("PULUMI_ORGANIZATION", "organization"),
        callbacks=None,
    )
    configure(settings)
    pulumi_stack.wait_for_rpcs = _wait_for_rpcs

    _forget_runner_path()
    os.chdir(args.pwd)
    sys.argv = [args.program]
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    root = os.path.abspath(args.pwd)
    # From here on every read of a placement variable is reported (issue 13, class 7).
    os.environ = AuditedEnviron(os.environ, emitter, root)  # noqa: B003
    if preview:
        _watch_previews(emitter)
    code = 0
    try:
        loop.run_until_complete(pulumi.runtime.run_in_stack(lambda: _run_path(args.program)))
    except pulumi.RunError as exc:
        # The CLI prints a RunError's message alone, with no traceback.
        emitter.emit({"kind": "error", "error": "run_error", "message": str(exc)})
        code = 1
    except SystemExit as exc:
        status = exc.code
        if status not in (None, 0):
            message = status if isinstance(status, str) else ""
            exit_code = status if isinstance(status, int) else 1
            emitter.emit({"kind": "error", "error": "exit", "message": message, "code": exit_code})
            code = 1
    except BaseException as exc:
        tb = traceback.extract_tb(exc.__traceback__)
        emitter.emit(
            {
                "kind": "error",
                "error": "exception",
                "message": f"{type(exc).__name__}: {exc}",
                "location": _program_location(tb, root),
                "traceback": "".join(traceback.format_exception(exc)[-12:]),
            }
        )
        code = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    if code == 0:
        emitter.emit({"kind": "done"})
    emitter.close()
    # Skip interpreter teardown of the SDK's threads and loops: the result is already sent.
    os._exit(code)


if __name__ == "__main__":
    main()
