"""The component package as a non-Python consumer uses it: the plugin started the way the CLI's
python language host starts it, spoken to over gRPC only.

The language host runs ``python <plugin directory> <engine address>`` (RunPlugin: a directory with
``__main__.py`` is run directly) and reads the port the plugin prints. Here the engine and the
resource monitor are a gRPC server of this test on loopback that records every RegisterResource
call; the test asks the plugin for its schema and constructs a MailDomain through it, then
compares what the plugin registered with what this repo's Python program registers for the same
domain under Pulumi's mocks.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass, field
from typing import Any

import grpc
import pytest
from google.protobuf import empty_pb2, json_format, struct_pb2  # type: ignore[import-untyped]
from pulumi.runtime import rpc
from pulumi.runtime.proto import (
    engine_pb2,
    engine_pb2_grpc,
    provider_pb2,
    provider_pb2_grpc,
    resource_pb2,
    resource_pb2_grpc,
)

from program import run
from tests.conftest import stack_config
from tests.support import (
    MOCK_PUBLIC_IP,
    PRIVATE_STACK_HASHES,
    REPO,
    SECRET_SIG,
    SECRET_VALUE,
    Registered,
    plaintext_hits,
    run_program,
    secret_count,
    with_secrets,
)

PROJECT = "hk-mail"
STACK = "grpc"
COMPONENTS = {"MailDomain", "TencentMailServer", "AlicloudMailServer"}
PROVIDER_TYPES = {
    "tencentcloud": "pulumi:providers:tencentcloud",
    "alicloud": "pulumi:providers:alicloud",
}


# ------------------------------------------------------------------------------------------------
# The engine's side: Engine (logs) and ResourceMonitor (registrations) on one loopback server
# ------------------------------------------------------------------------------------------------


@dataclass
class Monitor:
    registered: list[Registered] = field(default_factory=list)
    outputs: list[dict[str, Any]] = field(default_factory=list)
    logs: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _urn(type_: str, name: str, parent: str) -> str:
    qualified = type_
    if parent:
        parent_type = parent.split("::", 3)[2]
        if parent_type != "pulumi:pulumi:Stack":
            qualified = f"{parent_type}${type_}"
    return f"urn:pulumi:{STACK}::{PROJECT}::{qualified}::{name}"


class ResourceMonitor(resource_pb2_grpc.ResourceMonitorServicer):  # type: ignore[misc]
    def __init__(self, state: Monitor) -> None:
        self.state = state

    def GetDeploymentInfo(self, request: Any, context: Any) -> Any:
        return resource_pb2.DeploymentInfo(
            supportedFeatures=[
                resource_pb2.RESOURCE_MONITOR_FEATURE_SECRETS,
                resource_pb2.RESOURCE_MONITOR_FEATURE_RESOURCE_REFERENCES,
                resource_pb2.RESOURCE_MONITOR_FEATURE_ALIAS_SPECS,
            ]
        )

    def SupportsFeature(self, request: Any, context: Any) -> Any:
        return resource_pb2.SupportsFeatureResponse(
            hasSupport=request.id in ("secrets", "resourceReferences", "aliasSpecs")
        )

    def Invoke(self, request: Any, context: Any) -> Any:
        # The only invoke a component makes here: the SDK looks up a provider it was handed by
        # reference (the engine answers from its state).
        assert request.tok == "pulumi:pulumi:getResource", request.tok
        urn = rpc.deserialize_properties(request.args)["urn"]
        result = struct_pb2.Struct()
        result.update({"urn": urn, "id": f"{urn.rsplit('::', 1)[1]}-id", "state": {}})
        return provider_pb2.InvokeResponse(**{"return": result})

    def RegisterPackage(self, request: Any, context: Any) -> Any:
        return resource_pb2.RegisterPackageResponse(ref=f"{request.name}-ref")

    def RegisterResource(self, request: Any, context: Any) -> Any:
        urn = _urn(request.type, request.name, request.parent)
        inputs = rpc.deserialize_properties(request.object)
        state = dict(inputs)
        if request.type in (
            "tencentcloud:Instance/instance:Instance",
            "alicloud:ecs/instance:Instance",
        ):
            state["publicIp"] = MOCK_PUBLIC_IP
        with self.state.lock:
            self.state.registered.append(
                Registered(
                    type=request.type,
                    name=request.name,
                    urn=urn,
                    parent=request.parent,
                    provider=request.provider,
                    inputs=inputs,
                    raw=json_format.MessageToDict(request.object),
                    protect=request.protect,
                    retain_on_delete=request.retainOnDelete,
                    custom=request.custom,
                    aliases=tuple(json_format.MessageToDict(a) for a in request.aliases),
                )
            )
        out = struct_pb2.Struct()
        out.update({k: v for k, v in json_format.MessageToDict(request.object).items()})
        for k in ("publicIp",):
            if k in state:
                out[k] = state[k]
        return resource_pb2.RegisterResourceResponse(
            urn=urn, id=f"{request.name}-id" if request.custom else "", object=out
        )

    def RegisterResourceOutputs(self, request: Any, context: Any) -> Any:
        with self.state.lock:
            self.state.outputs.append(json_format.MessageToDict(request.outputs))
        return empty_pb2.Empty()


class Engine(engine_pb2_grpc.EngineServicer):  # type: ignore[misc]
    def __init__(self, state: Monitor) -> None:
        self.state = state

    def Log(self, request: Any, context: Any) -> Any:
        with self.state.lock:
            self.state.logs.append(request.message)
        return empty_pb2.Empty()

    def GetRootResource(self, request: Any, context: Any) -> Any:
        return engine_pb2.GetRootResourceResponse(urn="")

    def SetRootResource(self, request: Any, context: Any) -> Any:
        return engine_pb2.SetRootResourceResponse()


@dataclass
class Plugin:
    stub: Any  # provider_pb2_grpc.ResourceProviderStub
    monitor: Monitor
    monitor_address: str


@pytest.fixture(scope="module")
def plugin() -> Iterator[Plugin]:
    state = Monitor()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    resource_pb2_grpc.add_ResourceMonitorServicer_to_server(ResourceMonitor(state), server)
    engine_pb2_grpc.add_EngineServicer_to_server(Engine(state), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    address = f"127.0.0.1:{port}"
    # As RunPlugin does: `python <plugin directory> <engine address>`, in the plugin's directory.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PULUMI_CONFIG")}
    proc = subprocess.Popen(
        [sys.executable, str(REPO / "components"), address],
        cwd=REPO / "components",
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        if not line.isdigit():
            proc.kill()
            pytest.fail(f"the plugin printed no port: {line!r}\n{proc.communicate()[1]}")
        channel = grpc.insecure_channel(f"127.0.0.1:{line}")
        grpc.channel_ready_future(channel).result(timeout=30)
        yield Plugin(provider_pb2_grpc.ResourceProviderStub(channel), state, address)
        channel.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        server.stop(None)


# ------------------------------------------------------------------------------------------------
# GetSchema
# ------------------------------------------------------------------------------------------------


def test_the_schema_has_every_component_with_typed_described_inputs(plugin: Plugin) -> None:
    response = plugin.stub.GetSchema(provider_pb2.GetSchemaRequest(version=0), timeout=60)
    schema = json.loads(response.schema)
    assert schema["name"] == "hkmail"
    # the package's own version, not the SDK's 0.0.0 default
    pyproject = (REPO / "components" / "pyproject.toml").read_text()
    assert f'version = "{schema["version"]}"' in pyproject and schema["version"] != "0.0.0"
    # dnsPlan is an enum of exactly the plans the facts table knows
    from hkmail.facts import TTL_FLOOR

    plans = {p for table in TTL_FLOOR.values() for p in table}
    assert {e["value"] for e in schema["types"]["hkmail:index:DnsPlan"]["enum"]} == plans
    dns_plan = schema["resources"]["hkmail:index:MailDomain"]["inputProperties"]["dnsPlan"]
    assert dns_plan["$ref"] == "#/types/hkmail:index:DnsPlan" and "type" not in dns_plan
    # migration is typed: its phase an enum of the reader's phases, old system and verify pass
    from hkmail.spec import MIGRATION_PHASES

    migration = schema["resources"]["hkmail:index:MailDomain"]["inputProperties"]["migration"]
    assert migration["$ref"] == "#/types/hkmail:index:MigrationArgs"
    mig_type = schema["types"]["hkmail:index:MigrationArgs"]
    assert mig_type["properties"]["phase"]["$ref"] == "#/types/hkmail:index:MigrationPhase"
    phases = [e["value"] for e in schema["types"]["hkmail:index:MigrationPhase"]["enum"]]
    assert phases == list(MIGRATION_PHASES)
    assert set(mig_type["required"]) == {"phase", "old", "lowTtl", "monitorUntil"}
    assert schema["types"]["hkmail:index:OldMailSystemArgs"]["properties"]["mxTtl"]["type"] == (
        "integer"
    )
    assert set(schema["resources"]) == {f"hkmail:index:{c}" for c in COMPONENTS}
    for token, resource in schema["resources"].items():
        assert resource["isComponent"] is True, token
        assert resource.get("description"), token
        inputs = resource["inputProperties"]
        assert inputs and resource.get("requiredInputs"), token
        for name, prop in inputs.items():
            assert prop.get("description"), (token, name)
            assert "type" in prop or "$ref" in prop, (token, name)
    types = schema["types"]
    for token, typ in types.items():
        assert typ.get("description"), token
        for name, prop in typ.get("properties", {}).items():
            assert prop.get("description") and ("type" in prop or "$ref" in prop), (token, name)
    domain = schema["resources"]["hkmail:index:MailDomain"]
    assert set(domain["requiredInputs"]) == {"name", "dnsProvider", "mail"}
    assert domain["inputProperties"]["dnsProvider"]["$ref"] == "#/types/hkmail:index:DnsProvider"
    assert [e["value"] for e in types["hkmail:index:DnsProvider"]["enum"]] == ["dnspod", "alidns"]
    assert [e["value"] for e in types["hkmail:index:MailSuite"]["enum"]] == [
        "tencent-exmail",
        "alibaba-mail",
        "alibaba-mail-hk",
        "custom",
        "private",
        "none",
    ]
    assert domain["inputProperties"]["dkim"]["items"]["$ref"] == "#/types/hkmail:index:DkimKeyArgs"
    assert domain["properties"]["records"]["additionalProperties"]["type"] == "string"
    server = schema["resources"]["hkmail:index:TencentMailServer"]
    assert {"relayPassword", "backupPassword"} <= set(server["requiredInputs"])
    assert server["inputProperties"]["users"]["items"]["type"] == "string"


# ------------------------------------------------------------------------------------------------
# Construct
# ------------------------------------------------------------------------------------------------


def _construct(
    plugin: Plugin, name: str, inputs: dict[str, Any], providers: dict[str, str]
) -> tuple[Any, list[Registered]]:
    before = len(plugin.monitor.registered)
    struct = struct_pb2.Struct()
    struct.update(inputs)
    request = provider_pb2.ConstructRequest(
        project=PROJECT,
        stack=STACK,
        dryRun=False,
        parallel=4,
        monitorEndpoint=plugin.monitor_address,
        type="hkmail:index:MailDomain",
        name=name,
        parent=f"urn:pulumi:{STACK}::{PROJECT}::pulumi:pulumi:Stack::{PROJECT}-{STACK}",
        inputs=struct,
        providers=providers,
        organization="organization",
    )
    response = plugin.stub.Construct(request, timeout=120)
    with plugin.monitor.lock:
        return response, plugin.monitor.registered[before:]


def _camel_args(stack: str, index: int, config: dict[str, Any] | None = None) -> dict[str, Any]:
    """A stack's domain entry as a TypeScript or YAML program would write MailDomain's inputs."""
    config = config or stack_config(stack)
    domain = dict(config["hkmail:domains"][index])
    domain["dnsProvider"] = config["hkmail:dnsProvider"]
    domain["dnsPlan"] = config.get("hkmail:dnsPlan", "free")
    if domain.get("autodiscovery") is True:
        domain["autodiscovery"] = {"preset": True}
    return json.loads(json.dumps(domain, default=str))


def _shape(resources: list[Registered], root: str) -> list[tuple[Any, ...]]:
    """Each resource under the component named ``root``: its place in the tree (types and names
    from the component down), inputs, protection and which provider it goes through."""
    by_urn = {r.urn: r for r in resources}

    def path(r: Registered) -> tuple[str, ...]:
        out = [f"{r.type}::{r.name}"]
        parent = by_urn.get(r.parent)
        while parent is not None:
            out.append(f"{parent.type}::{parent.name}")
            parent = by_urn.get(parent.parent)
        return tuple(reversed(out))

    rows = []
    for r in resources:
        p = path(r)
        if p[0] != f"hkmail:index:MailDomain::{root}":
            continue
        provider = r.provider.split("::")[2].split("$")[-1] if r.provider else ""
        rows.append((p, json.dumps(r.inputs, sort_keys=True), r.protect, provider))
    return sorted(rows)


@pytest.mark.parametrize(
    ("stack", "index", "cloud"),
    [("tencent-exmail", 0, "tencentcloud"), ("alibaba-mail", 0, "alicloud")],
)
def test_construct_registers_what_the_python_program_registers(
    plugin: Plugin, stack: str, index: int, cloud: str
) -> None:
    args = _camel_args(stack, index)
    name = args["name"]
    provider_ref = (
        f"urn:pulumi:{STACK}::{PROJECT}::{PROVIDER_TYPES[cloud]}::{cloud}-hk::{cloud}-hk-id"
    )
    response, registered = _construct(plugin, name, args, {cloud: provider_ref})
    assert response.urn == f"urn:pulumi:{STACK}::{PROJECT}::hkmail:index:MailDomain::{name}"
    records = json_format.MessageToDict(response.state)["records"]
    assert records and all(k.startswith(f"{name}/") for k in records)

    via_program = run_program(lambda: run(stack_config(stack)), stack=STACK).resources
    assert _shape(registered, name) == _shape(via_program, name)

    # All in Hong Kong: every cloud resource goes through the Hong Kong provider passed in.
    custom = [r for r in registered if r.custom]
    assert custom and {r.provider for r in custom} == {provider_ref}
    [hk] = [r for r in via_program if r.type == PROVIDER_TYPES[cloud]]
    assert hk.inputs["region"] in ("ap-hongkong", "cn-hongkong")
    assert {r.type for r in registered if not r.custom} <= {
        "hkmail:index:MailDomain",
        "hkmail:index:DnspodZone",
        "hkmail:index:AlidnsZone",
    }


def test_bad_inputs_are_refused_by_field_before_anything_is_registered(plugin: Plugin) -> None:
    args = _camel_args("tencent-exmail", 0)
    args["name"] = "refused.example.hk"
    args["dmarc"] = {"policy": "reject", "pct": 150}
    args["ttl"] = 100000
    before = len(plugin.monitor.registered)
    with pytest.raises(grpc.RpcError) as err:
        _construct(plugin, args["name"], args, {})
    message = err.value.details()
    assert "hkmail:index:MailDomain refused.example.hk has 2 errors" in message
    assert "args.ttl: 100000 is not valid; allowed: an integer from " in message
    assert "args.dmarc.pct: 150 is not valid; allowed: an integer from 0 to 100" in message
    with plugin.monitor.lock:
        assert plugin.monitor.registered[before:] == []


def _secret(value: Any) -> dict[str, Any]:
    """A secret as it crosses the wire (pulumi.runtime.rpc: the secret signature)."""
    return {SECRET_SIG: SECRET_VALUE, "value": value}


def test_construct_of_a_private_domain_keeps_secrets_and_hong_kong(plugin: Plugin) -> None:
    config, pem = with_secrets("private-tencent")
    args = _camel_args("private-tencent", 0, config)
    server = {k: v for k, v in config["hkmail:privateServer"].items() if k != "domain"}
    args["privateServer"] = server
    args["dkimPrivateKey"] = _secret(pem)
    args["mailboxPasswordHashes"] = _secret(PRIVATE_STACK_HASHES)
    args["relayPassword"] = _secret(config["hkmail:relayPassword"])
    args["backupPassword"] = _secret(config["hkmail:backupPassword"])
    name = args["name"]
    provider_ref = (
        f"urn:pulumi:{STACK}::{PROJECT}::pulumi:providers:tencentcloud::tencentcloud-hk::"
        "tencentcloud-hk-id"
    )
    _, registered = _construct(plugin, name, args, {"tencentcloud": provider_ref})

    via_program = run_program(lambda: run(config), stack=STACK).resources
    assert _shape(registered, name) == _shape(via_program, name)
    types = {r.type for r in registered}
    assert {"hkmail:index:TencentMailServer", "tencentcloud:Instance/instance:Instance"} <= types
    # Hong Kong only: the given provider, Hong Kong zones.
    assert {r.provider for r in registered if r.custom} == {provider_ref}
    zones = {r.inputs["availabilityZone"] for r in registered if "availabilityZone" in r.inputs}
    assert zones == {server["zone"]} and server["zone"].startswith("ap-hongkong-")
    # The secrets arrived as secrets and left as secrets: never in plain text to the engine.
    needles = (
        pem.splitlines()[1],
        config["hkmail:relayPassword"],
        config["hkmail:backupPassword"],
        *PRIVATE_STACK_HASHES.values(),
    )
    hits = [h for r in registered for h in plaintext_hits(r.raw, needles, r.name)]
    hits += [h for o in plugin.monitor.outputs for h in plaintext_hits(o, needles, "outputs")]
    assert hits == []
    versions = [r for r in registered if r.type == "tencentcloud:Ssm/secretVersion:SecretVersion"]
    assert len(versions) == 4
    assert all(secret_count(v.raw.get("secretString")) == 1 for v in versions)


def test_an_enum_input_outside_the_schema_is_refused_by_the_sdk(plugin: Plugin) -> None:
    args = _camel_args("tencent-exmail", 0)
    args["name"] = "enum.example.hk"
    args["dnsProvider"] = "route53"
    before = len(plugin.monitor.registered)
    with pytest.raises(grpc.RpcError) as err:
        _construct(plugin, args["name"], args, {})
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    status = dict(err.value.trailing_metadata() or ())
    details = status.get("grpc-status-details-bin", b"")
    assert b"dnsProvider" in details and b"route53" in details
    with plugin.monitor.lock:
        assert plugin.monitor.registered[before:] == []
