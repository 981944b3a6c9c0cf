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
from pulumi.runtime import mocks
from pulumi.runtime import stack as pulumi_stack
from pulumi.runtime.proto import engine_pb2, resource_pb2
from pulumi.runtime.settings import SETTINGS, _get_rpc_manager, configure

ROOT_STACK_TYPE = "pulumi:pulumi:Stack"
_SEVERITY = {
    engine_pb2.DEBUG: "debug",
    engine_pb2.INFO: "info",
    engine_pb2.WARNING: "warning",
    engine_pb2.ERROR: "error",
}
_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


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


class _NoMocks(mocks.Mocks):
    """Invokes return nothing, as a mock provider with no data would."""

    def call(self, args: mocks.MockCallArgs) -> tuple[dict[Any, Any], list[tuple[str, str]] | None]:
        return {}, None

    def new_resource(self, args: mocks.MockResourceArgs) -> tuple[str | None, dict[Any, Any]]:
        return "", {}


class CapturingMonitor(mocks.MockMonitor):
    """A mock resource monitor that answers like the engine does in preview and records it all."""

    def __init__(self, emitter: Emitter, project: str, stack: str, preview: bool) -> None:
        super().__init__(_NoMocks())
        self._emitter = emitter
        self._project = project
        self._stack = stack
        self._preview = preview

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
        # During preview the engine answers a create with the checked inputs as the outputs
        # (unknowns stay unknown); components get no outputs from the engine.
        obj = request.object if custom else struct_pb2.Struct()
        return resource_pb2.RegisterResourceResponse(urn=urn, id=rid, object=obj)

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
        return resource_pb2.ReadResourceResponse(urn=urn, properties=request.properties)

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
    inside = [f for f in tb if os.path.abspath(f.filename).startswith(root + os.sep)]
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
