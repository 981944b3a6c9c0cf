"""Minimal analyzer-protocol client for the policy pack tests (the way the Pulumi CLI drives a
pack): start `python -m pulumi.policy <engine> .` in policies/, read the port from stdout, then
GetAnalyzerInfo, Configure (every policy with its level and properties), Analyze, AnalyzeStack."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc  # type: ignore[import-untyped]
from google.protobuf import json_format, struct_pb2  # type: ignore[import-untyped]
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

POLICIES = Path(__file__).resolve().parent.parent / "policies"
SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
UNKNOWN_STRING = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
LEVELS = {
    analyzer_pb2.ADVISORY: "advisory",
    analyzer_pb2.MANDATORY: "mandatory",
    analyzer_pb2.DISABLED: "disabled",
    analyzer_pb2.REMEDIATE: "remediate",
}
TO_LEVEL = {v: k for k, v in LEVELS.items()}
STACK, PROJECT = "test", "hk-mail"


def secret(value: Any) -> dict[str, Any]:
    """A value as the engine serialises a secret."""
    return {SECRET_SIG_KEY: SECRET_SIG, "value": value}


@dataclass
class Res:
    type: str
    name: str
    props: dict[str, Any] = field(default_factory=dict)
    provider: Res | None = None
    protect: bool = False
    parent: Res | None = None
    property_dependencies: dict[str, list[str]] = field(default_factory=dict)

    @property
    def urn(self) -> str:
        qualified = self.type
        node = self.parent
        while node is not None:  # the engine prefixes parent types: a$b
            qualified = f"{node.type}${qualified}"
            node = node.parent
        return f"urn:pulumi:{STACK}::{PROJECT}::{qualified}::{self.name}"


@dataclass(frozen=True)
class Diag:
    policy: str
    level: str
    message: str
    urn: str


def _struct(d: Mapping[str, Any]) -> struct_pb2.Struct:
    s = struct_pb2.Struct()
    s.update(dict(d))
    return s


def _options(r: Res) -> analyzer_pb2.AnalyzerResourceOptions:
    return analyzer_pb2.AnalyzerResourceOptions(
        protect=r.protect, parent=r.parent.urn if r.parent else ""
    )


def _provider(r: Res) -> analyzer_pb2.AnalyzerProviderResource | None:
    if r.provider is None:
        return None
    p = r.provider
    return analyzer_pb2.AnalyzerProviderResource(
        type=p.type, properties=_struct(p.props), urn=p.urn, name=p.name
    )


class PackClient:
    def __init__(self, env: Mapping[str, str] | None = None, pack_dir: Path = POLICIES) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-u", "-m", "pulumi.policy", "127.0.0.1:0", "."],
            cwd=pack_dir,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, **(env or {})},
        )
        assert self.proc.stdout is not None
        line: list[bytes] = []
        reader = threading.Thread(target=lambda: line.append(self.proc.stdout.readline()))  # type: ignore[union-attr]
        reader.start()
        reader.join(60)
        port = line[0].strip() if line else b""
        if not port.isdigit():
            self.proc.kill()
            _, err = self.proc.communicate(timeout=10)
            raise RuntimeError(f"policy pack did not start: {err.decode(errors='replace')}")
        self.channel = grpc.insecure_channel(f"127.0.0.1:{int(port)}")
        self.stub = analyzer_pb2_grpc.AnalyzerStub(self.channel)
        self.info = self.stub.GetAnalyzerInfo(_empty())
        self.defaults = {p.name: p for p in self.info.policies}

    def configure(self, overrides: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        """Like the CLI: every policy gets its effective level and its properties."""
        req = analyzer_pb2.ConfigureAnalyzerRequest()
        for name, policy in self.defaults.items():
            over = dict((overrides or {}).get(name, {}))
            level = over.pop("enforcementLevel", LEVELS[policy.enforcementLevel])
            props = {k: v.get("default") for k, v in json_format.MessageToDict(
                policy.configSchema.properties).items() if "default" in v}  # fmt: skip
            props.update(over)
            req.policyConfig[name].CopyFrom(
                analyzer_pb2.PolicyConfig(
                    enforcementLevel=TO_LEVEL[level], properties=_struct(props)
                )
            )
        # Unknown policy names go through too: the pack must reject them.
        for extra, settings in (overrides or {}).items():
            if extra not in self.defaults:
                req.policyConfig[extra].CopyFrom(
                    analyzer_pb2.PolicyConfig(properties=_struct(settings))
                )
        self.stub.Configure(req)

    def analyze(self, r: Res) -> list[Diag]:
        req = analyzer_pb2.AnalyzeRequest(
            type=r.type, properties=_struct(r.props), urn=r.urn, name=r.name, options=_options(r)
        )
        prov = _provider(r)
        if prov is not None:
            req.provider.CopyFrom(prov)
        return self._diags(self.stub.Analyze(req))

    def analyze_stack(self, resources: Sequence[Res]) -> list[Diag]:
        msgs = []
        for r in resources:
            m = analyzer_pb2.AnalyzerResource(
                type=r.type, properties=_struct(r.props), urn=r.urn, name=r.name,
                options=_options(r), parent=r.parent.urn if r.parent else "",
            )  # fmt: skip
            prov = _provider(r)
            if prov is not None:
                m.provider.CopyFrom(prov)
            for k, urns in r.property_dependencies.items():
                m.propertyDependencies[k].urns.extend(urns)
            msgs.append(m)
        return self._diags(self.stub.AnalyzeStack(analyzer_pb2.AnalyzeStackRequest(resources=msgs)))

    @staticmethod
    def _diags(resp: Any) -> list[Diag]:
        return [
            Diag(d.policyName, LEVELS[d.enforcementLevel], d.message, d.urn)
            for d in resp.diagnostics
        ]

    def close(self) -> None:
        self.channel.close()
        self.proc.kill()
        self.proc.communicate(timeout=10)


def _empty() -> Any:
    from google.protobuf import empty_pb2

    return empty_pb2.Empty()
