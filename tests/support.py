"""Shared test support: real local servers and the in-process mock harness.

A test that needs a tool from Debian's packages fails when the tool is missing and CI=true (CI
installs everything, see scripts/test); outside CI it is skipped with the install command.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
MOCK_PUBLIC_IP = "203.0.113.10"


def require_tool(binary: str, package: str) -> str:
    path = shutil.which(binary) or next(
        (p for p in (f"/usr/sbin/{binary}", f"/usr/bin/{binary}") if os.path.exists(p)), None
    )
    if path is None:
        message = f"{binary} not found: apt-get install {package} (scripts/test does this)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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

    def start(self) -> KnotServer:
        knotd = require_tool("knotd", "knot")
        zone_conf = []
        for name, text in self.zones.items():
            path = self.workdir / f"{name}.zone"
            path.write_text(text)
            zone_conf.append(f'  - domain: {name}\n    file: "{path}"\n')
        conf = self.workdir / "knot.conf"
        conf.write_text(
            "server:\n"
            f'  rundir: "{self.workdir}"\n'
            f"  listen: 127.0.0.1@{self.port}\n"
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
            wait_for_tcp(self.port)
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
def knot(workdir: Path, zones: Mapping[str, str]) -> Iterator[KnotServer]:
    server = KnotServer(workdir, zones).start()
    try:
        yield server
    finally:
        server.stop()


# ---------------------------------------------------------------------------------------------
# In-process mock harness for component tests (project-level runs use hkmail.engine instead).
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Registered:
    type: str
    name: str
    urn: str
    parent: str
    provider: str
    inputs: dict[str, Any]
    protect: bool
    custom: bool


def run_in_process(
    program: Any,
    *,
    stack: str = "test",
    ses_dkim: str = "v=DKIM1; k=rsa; p=QUJD",
    seen: list[Registered] | None = None,
) -> list[Registered]:
    """Run ``program()`` under Pulumi's mocks in this process; return every registration
    (also appended to ``seen`` as they happen, for a caller that expects the program to fail)."""
    import pulumi
    from pulumi.runtime import mocks
    from pulumi.runtime.stack import wait_for_rpcs
    from pulumi.runtime.sync_await import _sync_await

    registered: list[Registered] = [] if seen is None else seen

    class Mocks(pulumi.runtime.Mocks):
        def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
            state = dict(args.inputs)
            if args.typ in (
                "tencentcloud:Instance/instance:Instance",
                "alicloud:ecs/instance:Instance",
            ):
                state["publicIp"] = MOCK_PUBLIC_IP
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
                from pulumi.runtime import rpc

                inputs = rpc.deserialize_properties(request.object)
                registered.append(
                    Registered(
                        request.type,
                        request.name,
                        response.urn,
                        request.parent,
                        request.provider,
                        inputs,
                        request.protect,
                        request.custom,
                    )
                )
            return response

    from pulumi.runtime.settings import _get_rpc_manager

    m = Mocks()
    pulumi.runtime.set_mocks(m, project="hk-mail", stack=stack, preview=False, monitor=Monitor(m))
    try:
        program()
        _sync_await(wait_for_rpcs())
    finally:
        # A failed run leaves its error, its root stack and its pending outputs in the runtime's
        # globals; the next run starts clean.
        from pulumi.runtime import settings

        _get_rpc_manager().clear()
        settings.ROOT.set(None)
        with settings.SETTINGS.lock:
            settings.SETTINGS.outputs.clear()
    return registered


def of_type(resources: Sequence[Registered], type_: str) -> list[Registered]:
    return [r for r in resources if r.type == type_]
