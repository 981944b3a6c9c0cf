"""Shared test support: real local servers and the in-process mock harness.

A test that needs a tool from Debian's packages fails when the tool is missing and CI=true (CI
installs everything, see scripts/test); outside CI it is skipped with the install command.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import dataclasses
import fcntl
import json
import os
import shutil
import socket
import subprocess
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from hkmail.mailserver import fetch_secrets as fs

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


# Test servers listen on ports this process chose: below the kernel's ephemeral range (32768-60999
# on Linux), so no outgoing connection takes one between the choice and the bind, and in a slice
# of their own per xdist worker (PYTEST_XDIST_WORKER gwN of PYTEST_XDIST_WORKER_COUNT), so two
# workers never choose the same one. Each process walks its slice from a random start and skips
# ports in use (another run on the machine): a port comes round again only after the whole slice
# (6,000 ports with two workers).
PORT_RANGE = range(20000, 32000)


def _port_slice(environ: Mapping[str, str] = os.environ) -> range:
    worker = environ.get("PYTEST_XDIST_WORKER", "")
    count = int(environ.get("PYTEST_XDIST_WORKER_COUNT") or 1)
    index = int(worker[2:]) if worker.startswith("gw") and worker[2:].isdigit() else 0
    size = len(PORT_RANGE) // max(count, 1)
    start = PORT_RANGE.start + (index % max(count, 1)) * size
    return range(start, start + size)


_PORTS = _port_slice()
_next_port = [_PORTS.start + int.from_bytes(os.urandom(2), "big") % len(_PORTS)]
_port_lock = threading.Lock()


def _bindable(port: int) -> list[socket.socket] | None:
    """Both protocols bound on ``port`` (Knot serves DNS on UDP and TCP), or None if it is taken."""
    held = []
    try:
        for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
            s = socket.socket(socket.AF_INET, kind)
            held.append(s)
            s.bind(("127.0.0.1", port))
        return held
    except OSError:
        for s in held:
            s.close()
        return None


def free_tcp_ports(n: int) -> list[int]:
    """``n`` distinct free loopback ports (TCP and UDP) of this process's slice."""
    chosen: list[int] = []
    held: list[socket.socket] = []
    with _port_lock:
        try:
            for _ in range(len(_PORTS)):
                if len(chosen) == n:
                    break
                port = _next_port[0]
                _next_port[0] = port + 1 if port + 1 < _PORTS.stop else _PORTS.start
                socks = _bindable(port)
                if socks is not None:
                    chosen.append(port)
                    held += socks
        finally:
            for s in held:
                s.close()
    if len(chosen) < n:
        raise RuntimeError(f"no {n} free ports in {_PORTS} on 127.0.0.1")
    return chosen


def free_port() -> int:
    return free_tcp_ports(1)[0]


def wait_for_tcp(port: int, timeout: float = 10.0, host: str = "127.0.0.1") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.2):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listening on {host}:{port} after {timeout}s")


# One lock for every test process on the machine (xdist workers, other runs), in root's /run.
HOST_ACCOUNTS_LOCK = Path("/run/hkmail-tests-accounts.lock")


@contextlib.contextmanager
def host_accounts() -> Iterator[None]:
    """Hold the machine's account database still. The shared mail server's boot adds system users
    to the real /etc (its runcmd's useradd), while a test on another xdist worker may be copying
    /etc: cp -a fails on a lock or temporary file useradd removes mid-copy."""
    with HOST_ACCOUNTS_LOCK.open("a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


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
            # generous: knotd loads its zones first, and a loaded 2-core machine is slow at it
            wait_for_tcp(self.port, timeout=30.0, host=self.address)
        except TimeoutError as exc:
            raise TimeoutError(f"{exc}; knotd said:\n{self.stop()}") from None
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
BACKUP_PASSWORD = "restic-repo-Pa55-secret-value-9c1e"
NEEDLES = (
    "test-dkim-key-bytes",
    "alice-hash-bytes",
    "bob-hash-bytes",
    RELAY_PASSWORD,
    BACKUP_PASSWORD,
)
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
        "backup_password": pulumi.Output.secret(BACKUP_PASSWORD),
    }
    if cloud == "tencentcloud":
        base["app_id"] = "1250000000"  # the COS bucket suffix, a Tencent-only field
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


# ------------------------------------------------------------------------------------------------
# A stand-in for a cloud's metadata service and secret store (hkmail-fetch-secrets' tests)
# ------------------------------------------------------------------------------------------------


@dataclass
class FakeCloud:
    """Metadata + secret store of one cloud on a loopback port, verifying every signature."""

    cloud: str
    role: str
    secrets: Mapping[str, str]
    region: str = ""
    calls: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    key_id: str = "AKIDtemporary"
    key_secret: str = "temporary-secret"
    token: str = "sts-token-123"
    imds_token: str = "imds-token-abc"

    def __post_init__(self) -> None:
        self.region = (
            self.region or {"tencentcloud": "ap-hongkong", "alicloud": "cn-hongkong"}[self.cloud]
        )

    # -- request handling -----------------------------------------------------------------------

    def handle(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[int, bytes]:
        url = urllib.parse.urlsplit(path)
        self.calls.append(f"{method} {url.path}")
        if self.cloud == "tencentcloud":
            return self._tencent(method, url, headers, body)
        return self._alicloud(method, url, headers)

    def _fail(self, why: str) -> tuple[int, bytes]:
        self.errors.append(why)
        return 403, json.dumps({"error": why}).encode()

    def _tencent(
        self, method: str, url: urllib.parse.SplitResult, headers: Mapping[str, str], body: bytes
    ) -> tuple[int, bytes]:
        if url.path == f"/latest/meta-data/cam/security-credentials/{self.role}":
            creds = {
                "TmpSecretId": self.key_id,
                "TmpSecretKey": self.key_secret,
                "Token": self.token,
                "ExpiredTime": 2000000000,
                "Code": "Success",
            }
            return 200, json.dumps(creds).encode()
        if url.path != "/" or method != "POST":
            return self._fail(f"unexpected {method} {url.path}")
        h = {k.lower(): v for k, v in headers.items()}
        if h.get("x-tc-action") != "GetSecretValue" or h.get("x-tc-version") != "2019-09-23":
            return self._fail("wrong action/version")
        if h.get("x-tc-region") != self.region or h.get("x-tc-token") != self.token:
            return self._fail("wrong region or token")
        scope, sig = fs.tc3_signature(
            self.key_secret, "ssm", h["host"], body.decode(), int(h["x-tc-timestamp"])
        )
        want = (
            f"TC3-HMAC-SHA256 Credential={self.key_id}/{scope}, "
            f"SignedHeaders=content-type;host, Signature={sig}"
        )
        if h.get("authorization") != want:
            return self._fail("TC3 signature does not match")
        req = json.loads(body)
        name = req.get("SecretName")
        if name not in self.secrets or req.get("VersionId") != fs.SSM_VERSION_ID:
            return 200, json.dumps(
                {"Response": {"Error": {"Code": "ResourceNotFound", "Message": "no such secret"}}}
            ).encode()
        return 200, json.dumps(
            {"Response": {"SecretName": name, "SecretString": self.secrets[name]}}
        ).encode()

    def _alicloud(
        self, method: str, url: urllib.parse.SplitResult, headers: Mapping[str, str]
    ) -> tuple[int, bytes]:
        h = {k.lower(): v for k, v in headers.items()}
        if url.path == "/latest/api/token" and method == "PUT":
            if not h.get("x-aliyun-ecs-metadata-token-ttl-seconds"):
                return self._fail("token request without ttl")
            return 200, self.imds_token.encode()
        if url.path == f"/latest/meta-data/ram/security-credentials/{self.role}":
            if h.get("x-aliyun-ecs-metadata-token") != self.imds_token:
                return self._fail("metadata read without the IMDS token")
            creds = {
                "AccessKeyId": self.key_id,
                "AccessKeySecret": self.key_secret,
                "SecurityToken": self.token,
                "Expiration": "2099-01-01T00:00:00Z",
                "Code": "Success",
            }
            return 200, json.dumps(creds).encode()
        if url.path != "/" or method != "GET":
            return self._fail(f"unexpected {method} {url.path}")
        params = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
        sig = params.pop("Signature", "")
        if fs.rpc_signature("GET", params, self.key_secret) != sig:
            return self._fail("RPC signature does not match")
        if (params.get("Action"), params.get("Version")) != ("GetSecretValue", "2016-01-20"):
            return self._fail("wrong action/version")
        if params.get("SecurityToken") != self.token or params.get("AccessKeyId") != self.key_id:
            return self._fail("not the role's temporary credentials")
        name = params.get("SecretName", "")
        if name not in self.secrets:
            return 404, json.dumps(
                {"Code": "Forbidden.ResourceNotFound", "Message": "no such secret"}
            ).encode()
        return 200, json.dumps(
            {"SecretName": name, "SecretData": self.secrets[name], "SecretDataType": "text"}
        ).encode()


@contextmanager
def serve(fake: FakeCloud) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def _any(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status, out = fake.handle(self.command, self.path, dict(self.headers), body)
            self.send_response(status)
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        do_GET = do_PUT = do_POST = _any

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


# ------------------------------------------------------------------------------------------------
# A migration stack (hkmail:migration) around the tencent-exmail example
# ------------------------------------------------------------------------------------------------

MIGRATION_DOMAIN = "harbourtrading.com.hk"


def migration_config(phase: str, **migration: Any) -> dict[str, Any]:
    """Tencent Exmail is the new system; the company comes from Alibaba Mail."""
    from tests.conftest import stack_config

    cfg = copy.deepcopy(stack_config("tencent-exmail"))
    cfg["hkmail:dnsPlan"] = "professional"  # TTL floor 120
    cfg["hkmail:domains"][0]["ttl"] = 3600
    cfg["hkmail:migration"] = {
        "domain": MIGRATION_DOMAIN,
        "phase": phase,
        "old": {"suite": "alibaba-mail", "mxTtl": 3600, "spf": {"ip4": ["192.0.2.25"]}},
        "lowTtl": 300,
        "monitorUntil": "2027-12-31",
        **migration,
    }
    return cfg


# The migration stack is the tencent-exmail example's company moving in: the example's Exmail
# attestation (ATT-2026-001) is scoped to that stack name, as a reviewer signs for one company.
MIGRATION_STACK = "tencent-exmail"


def write_migration_project(tmp: Path, cfg: dict[str, Any]) -> Path:
    """A project around this repo's program, with one migration stack (MIGRATION_STACK)."""
    (tmp / "stacks").mkdir(parents=True)
    import yaml

    project = yaml.safe_load((REPO / "Pulumi.yaml").read_text())
    project["main"] = str(REPO)
    project["runtime"]["options"]["virtualenv"] = str(REPO / ".venv")
    (tmp / "Pulumi.yaml").write_text(yaml.safe_dump(project))
    text = "# migration stack\nconfig:\n" + "".join(
        f"  {k}: {json.dumps(v)}\n" for k, v in cfg.items() if k != "hkmail:migration"
    )
    m = cfg["hkmail:migration"]
    text += "  hkmail:migration:\n" + "".join(
        f"    {k}: {json.dumps(v)}  # {k}\n" for k, v in m.items()
    )
    (tmp / "stacks" / f"Pulumi.{MIGRATION_STACK}.yaml").write_text(text)
    return tmp


# ------------------------------------------------------------------------------------------------
# A private-server example stack with real secret values
# ------------------------------------------------------------------------------------------------

PRIVATE_STACK_HASHES = {
    "ops": "{SHA512-CRYPT}$6$aaaa$ops",
    "compliance": "{SHA512-CRYPT}$6$bbbb$comp",
    "reception": "{SHA512-CRYPT}$6$cccc$rec",
}


def with_secrets(stack: str) -> tuple[dict[str, Any], str]:
    """The stack's config with real secret values (as the CLI would decrypt them)."""
    import base64
    import copy
    import json

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    from tests.conftest import stack_config

    config = copy.deepcopy(stack_config(stack))
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    config["hkmail:domains"][0]["dkim"][0]["publicKey"] = base64.b64encode(der).decode()
    config["hkmail:dkimPrivateKey"] = pem
    config["hkmail:mailboxPasswordHashes"] = json.dumps(PRIVATE_STACK_HASHES)
    config["hkmail:relayPassword"] = "relay-Pa55word-for-tests"
    config["hkmail:backupPassword"] = BACKUP_PASSWORD
    return config, pem


def make_test_ca(
    tmp: Path, *, dns_names: Sequence[str], ip_addresses: Sequence[str] = (), days: int = 2
) -> tuple[Path, Path, Path]:
    """A throw-away test CA and a server certificate it signed for ``dns_names`` (the first is the
    subject) and ``ip_addresses``: the paths of ca.pem, cert.pem and key.pem in ``tmp``."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.UTC)
    valid_from, valid_to = now - dt.timedelta(hours=1), now + dt.timedelta(days=days)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hk-mail test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(valid_from)
        .not_valid_after(valid_to)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    alt_names: list[x509.GeneralName] = [x509.DNSName(n) for n in dns_names]
    alt_names += [x509.IPAddress(ipaddress.ip_address(a)) for a in ip_addresses]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, dns_names[0])]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(valid_from)
        .not_valid_after(valid_to)
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = (tmp / "ca.pem", tmp / "cert.pem", tmp / "key.pem")
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


def pack_with(tmp: Path, entries: list[dict[str, Any]]) -> Path:
    """A pack directory: the repo's pack code, these exemptions, the repo's approvers."""
    pack = tmp / "pack"
    pack.mkdir(exist_ok=True)
    for name in ("hkmail_policy", "__main__.py", "PulumiPolicy.yaml", "approvers.yaml"):
        if not (pack / name).exists():
            (pack / name).symlink_to(REPO / "policies" / name)
    (pack / "exemptions.yaml").write_text(yaml.safe_dump({"exemptions": entries}))
    return pack


# The instance metadata service on $ADDR in a network namespace of its own, behind the
# rendered nftables.conf ($CONF); prints what root, nobody, www-data and uid 5001 (hkmail-logship)
# each get from it.
METADATA_PROBE = r"""
set -eu
ip link set lo up
ip addr add "$ADDR/32" dev lo
nft -f "$CONF"
python3 -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 80)); s.listen(8)
while True:
    c, _ = s.accept(); c.sendall(b"role keys\n"); c.close()
' "$ADDR" >/dev/null 2>&1 &
server=$!
sleep 0.5
probe='
import socket, sys
try:
    print(socket.create_connection((sys.argv[1], 80), timeout=3).recv(100).decode().strip())
except OSError as exc:
    print(type(exc).__name__)
'
echo "root: $(python3 -c "$probe" "$ADDR")"
as_user() { setpriv --reuid="$1" --regid="$2" --clear-groups python3 -c "$probe" "$ADDR"; }
echo "nobody: $(as_user nobody nogroup)"
echo "www-data: $(as_user www-data www-data)"
echo "uid 5001: $(as_user 5001 5001)"
kill "$server"
"""
