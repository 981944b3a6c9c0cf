"""Shared test support: real local servers and the in-process mock harness.

A test that needs a tool from Debian's packages fails when the tool is missing and CI=true (CI
installs everything, see scripts/test); outside CI it is skipped with the install command.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
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
    #: the alias specs sent with the request ({"spec": {...}} or {"urn": ...}), for alias checks
    aliases: tuple[dict[str, Any], ...] = ()


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
                        aliases=tuple(json_format.MessageToDict(a) for a in request.aliases),
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


# ------------------------------------------------------------------------------------------------
# The private-server components' test inputs (shared by the per-cloud and gRPC tests)
# ------------------------------------------------------------------------------------------------

DKIM_PEM = (
    "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC-test-dkim-key-bytes\n"
    "-----END PRIVATE KEY-----\n"
)
HASHES = {
    "alice": "{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$c2FsdA$alice-hash-bytes",
    "bob": "{SHA512-CRYPT}$6$salt$bob-hash-bytes",
}
RELAY_PASSWORD = "relay-Pa55-secret-value"
NEEDLES = ("test-dkim-key-bytes", "alice-hash-bytes", "bob-hash-bytes", RELAY_PASSWORD)
MTA_STS_POLICY = "version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmax_age: 604800\r\n"
SSH_KEY = (
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKexampleexampleexampleexampleexampleexampleE admin@hk"
)
#: The cloud-side name prefix the components derive from the domain example.com.
SERVER_PREFIX = "hkmail-example-com"


def private_args(cloud: str, **changes: Any) -> dict[str, Any]:
    """MailServerArgs of a server for example.com on ``cloud``; secrets as Pulumi secrets."""
    import pulumi

    zone = {"tencentcloud": "ap-hongkong-2", "alicloud": "cn-hongkong-b"}[cloud]
    base: dict[str, Any] = {
        "domain": "example.com",
        "hostname": "mail.example.com",
        "zone": zone,
        "account_id": "100012345678",
        "app_id": "1250000000",
        "image_id": "img-debian12",
        "admin_cidr": "203.0.113.0/24",
        "users": ["alice", "bob"],
        "dkim_selector": "hk1",
        "archive_bucket": "hkmail-archive",
        "relay_username": "noreply@example.com",
        "mta_sts_policy": MTA_STS_POLICY,
        "dkim_private_key": pulumi.Output.secret(DKIM_PEM),
        "mailbox_password_hashes": pulumi.Output.secret(HASHES),
        "relay_password": pulumi.Output.secret(RELAY_PASSWORD),
    }
    return {**base, **changes}


def unwrap_secret(value: Any) -> Any:
    assert isinstance(value, dict) and value.get(SECRET_SIG) == SECRET_VALUE, value
    return value["value"]


def children_of(
    run: Run, component_type: str, provider_type: str
) -> tuple[Registered, Registered, list[Registered]]:
    comp = run.one(component_type)
    provider = run.one(provider_type)
    children = [r for r in run.resources if r.custom and r is not provider]
    return comp, provider, children


# ------------------------------------------------------------------------------------------------
# How the engine finds a registered resource in the previous state (aliases)
# ------------------------------------------------------------------------------------------------


def _urn(stack: str, project: str, parent: str, type_: str, name: str) -> str:
    qualified = type_
    if parent:
        parent_type = parent.split("::", 3)[2]
        if parent_type != "pulumi:pulumi:Stack":
            qualified = f"{parent_type}${type_}"
    return f"urn:pulumi:{stack}::{project}::{qualified}::{name}"


def match_old_state(
    resources: Sequence[Registered], old: set[str], *, stack: str, project: str
) -> dict[str, str | None]:
    """Engine URN of each resource -> the old URN the engine takes it for (None: a create), as
    pkg/resource/deploy's stepGenerator does: the URN itself first, then the resource's aliases,
    then the aliases
    inherited from the alias its parent matched (generateAliases, collapseAliasToUrn,
    inheritedChildAlias)."""
    used: dict[str, str] = {}  # new URN -> old URN it matched through an alias
    matched: dict[str, str | None] = {}
    engine_urn: dict[str, str] = {}  # the mock monitor's URN -> the engine's (no Stack$ prefix)
    for r in resources:
        parent = engine_urn.get(r.parent, r.parent)
        urn = engine_urn[r.urn] = _urn(stack, project, parent, r.type, r.name)
        r = dataclasses.replace(r, urn=urn, parent=parent)
        matched[urn] = None
        own: list[tuple[str, str]] = []  # (type, name) of each collapsed own alias
        candidates: list[str] = []
        for alias in r.aliases:
            if "urn" in alias:
                candidates.append(alias["urn"])
                continue
            spec = alias.get("spec", {})
            parent = spec.get("parentUrn") or r.parent
            if spec.get("parentUrn") and parent in used:
                parent = used[parent]
            if spec.get("noParent"):
                parent = ""
            t, n = spec.get("type") or r.type, spec.get("name") or r.name
            own.append((t, n))
            candidates.append(
                _urn(spec.get("stack") or stack, spec.get("project") or project, parent, t, n)
            )
        if r.parent in used:
            parent_alias = used[r.parent]
            parent_name = r.parent.split("::", 3)[3]
            for t, n in [(r.type, r.name), *own]:
                if n.startswith(parent_name):
                    n = parent_alias.split("::", 3)[3] + n[len(parent_name) :]
                candidates.append(_urn(stack, project, parent_alias, t, n))
        for urn in [r.urn, *candidates]:
            if urn in old:
                matched[r.urn] = urn
                if urn != r.urn:
                    used[r.urn] = urn
                break
    return matched
