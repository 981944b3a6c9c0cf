"""Shared test support: real local servers and the in-process mock harness.

A test that needs a tool from Debian's packages fails when the tool is missing and CI=true (CI
installs everything, see scripts/test); outside CI it is skipped with the install command.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
MOCK_PUBLIC_IP = "203.0.113.10"


def unavailable(message: str) -> None:
    """A test cannot run here: in CI (CI=true installs everything) that fails the run."""
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def require_tool(binary: str, package: str) -> str:
    path = shutil.which(binary) or next(
        (p for p in (f"/usr/sbin/{binary}", f"/usr/bin/{binary}") if os.path.exists(p)), None
    )
    if path is None:
        unavailable(f"{binary} not found: apt-get install {package} (scripts/test does this)")
    assert path is not None
    return path


def require_root(why: str) -> None:
    if os.geteuid() != 0:
        unavailable(f"needs root: {why} (CI runs as root)")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def free_tcp_ports(n: int) -> list[int]:
    """``n`` distinct free loopback TCP ports (held together while chosen, so no repeats)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [int(s.getsockname()[1]) for s in socks]
    finally:
        for s in socks:
            s.close()


def wait_for_tcp(port: int, timeout: float = 10.0, host: str = "127.0.0.1") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.2):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listening on {host}:{port} after {timeout}s")


@dataclass
class KnotServer:
    """A real Knot DNS authoritative server on a loopback port, serving the given zone files."""

    workdir: Path
    zones: Mapping[str, str]
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    address: str = "127.0.0.1"  # any loopback address: several servers can share one port

    def start(self) -> KnotServer:
        knotd = require_tool("knotd", "knot")
        zone_conf = []
        for name, text in self.zones.items():
            path = self.workdir / (f"{name}.zone" if name != "." else "root.zone")
            path.write_text(text)
            zone_conf.append(f'  - domain: {name}\n    file: "{path}"\n')
        conf = self.workdir / "knot.conf"
        conf.write_text(
            "server:\n"
            f'  rundir: "{self.workdir}"\n'
            f"  listen: {self.address}@{self.port}\n"
            "database:\n"
            f'  storage: "{self.workdir}"\n'
            "log:\n  - target: stderr\n    any: warning\n"
            "template:\n  - id: default\n    journal-content: none\n    zonefile-sync: -1\n"
            "zone:\n" + "".join(zone_conf)
        )
        self.process = subprocess.Popen(
            [knotd, "-c", str(conf)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        try:
            wait_for_tcp(self.port, host=self.address)
        except TimeoutError:
            self.stop()
            raise
        return self

    def stop(self) -> str:
        if self.process is None:
            return ""
        self.process.terminate()
        try:
            out, _ = self.process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            out, _ = self.process.communicate()
        self.process = None
        return out.decode(errors="replace")


@contextlib.contextmanager
def knot(
    workdir: Path, zones: Mapping[str, str], port: int | None = None, address: str = "127.0.0.1"
) -> Iterator[KnotServer]:
    server = KnotServer(workdir, zones, port or free_port(), address=address).start()
    try:
        yield server
    finally:
        server.stop()


# ---------------------------------------------------------------------------------------------
# In-process mock harness for component tests (project-level runs use toolchain.engine instead).
# ---------------------------------------------------------------------------------------------

# How the SDK sends a Pulumi secret to the engine (pulumi.runtime.rpc): {SIG: SECRET_VALUE, value}.
SECRET_SIG = "4dabf18193072939515e22adb298388d"
SECRET_VALUE = "1b47061264138c4ac30d75fd1eb44270"


@dataclass(frozen=True)
class Registered:
    """One RegisterResource request as the engine would receive it."""

    type: str
    name: str
    urn: str
    parent: str
    provider: str
    inputs: dict[str, Any]  # secrets kept wrapped in the secret signature
    raw: dict[str, Any]  # the protobuf struct itself, for plaintext scans
    protect: bool
    retain_on_delete: bool
    custom: bool


@dataclass
class Run:
    resources: list[Registered] = field(default_factory=list)
    outputs: list[dict[str, Any]] = field(default_factory=list)  # RegisterResourceOutputs structs

    def of(self, type_: str) -> list[Registered]:
        return [r for r in self.resources if r.type == type_]

    def one(self, type_: str) -> Registered:
        found = self.of(type_)
        assert len(found) == 1, (type_, [r.name for r in found])
        return found[0]


def run_program(
    program: Callable[[], None],
    *,
    preview: bool = False,
    stack: str = "test",
    ses_dkim: str = "v=DKIM1; k=rsa; p=QUJD",
    run: Run | None = None,
) -> Run:
    """Run ``program()`` under Pulumi's mocks in this process and record every registration;
    ``run`` collects them even when the program fails."""
    import pulumi
    from google.protobuf import json_format  # type: ignore[import-untyped]
    from pulumi.runtime import mocks, rpc
    from pulumi.runtime.stack import wait_for_rpcs
    from pulumi.runtime.sync_await import _sync_await

    rec = Run() if run is None else run

    class Mocks(pulumi.runtime.Mocks):
        def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
            state = dict(args.inputs)
            if args.typ in (
                "tencentcloud:Instance/instance:Instance",
                "alicloud:ecs/instance:Instance",
            ):
                state["publicIp"] = MOCK_PUBLIC_IP
            if args.typ == "alicloud:ram/role:Role":
                state["roleName"] = args.inputs.get("roleName")
            if args.typ == "tencentcloud:Ses/domain:Domain":
                domain = args.inputs["emailIdentity"]
                state["attributes"] = [
                    {
                        "type": "TXT",
                        "sendDomain": f"qcloud._domainkey.{domain}",
                        "expectedValue": ses_dkim,
                    },
                ]
            return f"{args.name}-id", state

        def call(
            self, args: pulumi.runtime.MockCallArgs
        ) -> tuple[dict[Any, Any], list[tuple[str, str]] | None]:
            return {}, None

    class Monitor(mocks.MockMonitor):
        def RegisterResource(self, request: Any) -> Any:
            response = super().RegisterResource(request)  # type: ignore[no-untyped-call]
            if request.type != "pulumi:pulumi:Stack":
                rec.resources.append(
                    Registered(
                        type=request.type,
                        name=request.name,
                        urn=response.urn,
                        parent=request.parent,
                        provider=request.provider,
                        inputs=rpc.deserialize_properties(request.object),
                        raw=json_format.MessageToDict(request.object),
                        protect=request.protect,
                        retain_on_delete=request.retainOnDelete,
                        custom=request.custom,
                    )
                )
            return response

        def RegisterResourceOutputs(self, request: Any) -> Any:
            rec.outputs.append(json_format.MessageToDict(request.outputs))
            return super().RegisterResourceOutputs(request)  # type: ignore[no-untyped-call]

    # A fresh event loop, root Stack and output queue per run: a run that failed leaves its
    # error, its tasks and its pending outputs in the runtime's globals, and later runs would
    # fail or hang on them.
    asyncio.set_event_loop(asyncio.new_event_loop())
    _forget_earlier_runs()
    m = Mocks()
    pulumi.runtime.set_mocks(m, project="hk-mail", stack=stack, preview=preview, monitor=Monitor(m))
    try:
        program()
        _sync_await(wait_for_rpcs())
    finally:
        _forget_earlier_runs()
    return rec


def _forget_earlier_runs() -> None:
    from pulumi.runtime import settings

    settings._get_rpc_manager().clear()
    settings.ROOT.set(None)
    with settings.SETTINGS.lock:
        settings.SETTINGS.outputs.clear()


def run_in_process(program: Callable[[], None], **kwargs: Any) -> list[Registered]:
    """The registrations of ``program()`` under the mocks (see :func:`run_program`)."""
    return run_program(program, **kwargs).resources


def of_type(resources: Sequence[Registered], type_: str) -> list[Registered]:
    return [r for r in resources if r.type == type_]


def plaintext_hits(value: Any, needles: tuple[str, ...], path: str = "") -> Iterator[str]:
    """Paths where a needle occurs outside a value wrapped as a Pulumi secret."""
    if isinstance(value, dict):
        if value.get(SECRET_SIG) == SECRET_VALUE:
            return  # a secret: encrypted in the state, masked in every display
        for k, v in value.items():
            yield from plaintext_hits(v, needles, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from plaintext_hits(v, needles, f"{path}[{i}]")
    elif isinstance(value, str):
        for n in needles:
            if n in value:
                yield f"{path}: {n}"


def secret_count(value: Any) -> int:
    if isinstance(value, dict):
        if value.get(SECRET_SIG) == SECRET_VALUE:
            return 1
        return sum(secret_count(v) for v in value.values())
    if isinstance(value, list):
        return sum(secret_count(v) for v in value)
    return 0
