"""Driving policies/ in tests through the gate's own analyzer client (toolchain.gate.pack), i.e. the
way the Pulumi CLI starts a pack and talks to it: `python -m pulumi.policy`, port on stdout,
Handshake/ConfigureStack, GetAnalyzerInfo, Configure (reconciled like the CLI), Analyze,
AnalyzeStack. Resources are described with the small `Res` builder below."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from toolchain.engine.model import UNKNOWN, PlannedResource, ResourceOptions, Secret
from toolchain.gate.pack import (
    PackError,
    PackInfo,
    PolicyPackProcess,
    analyze_request,
    level_name,
    reconcile_config,
    stack_resource_message,
)

POLICIES = Path(__file__).resolve().parent.parent.parent / "policies"
STACK, PROJECT = "test", "hk-mail"
__all__ = ["UNKNOWN", "Diag", "PackClient", "PackError", "Res", "secret"]


def secret(value: Any) -> Secret:
    """A secret input (sent to the pack in the engine's secret wrapper)."""
    return Secret(value)


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

    def planned(self) -> PlannedResource:
        return PlannedResource(
            urn=self.urn,
            type=self.type,
            name=self.name,
            custom=":" in self.type and not self.type.startswith("hkmail:"),
            parent=self.parent.urn if self.parent else None,
            provider=f"{self.provider.urn}::id" if self.provider else None,
            inputs=self.props,
            options=ResourceOptions(protect=self.protect),
            property_dependencies={k: tuple(v) for k, v in self.property_dependencies.items()},
        )


@dataclass(frozen=True)
class Diag:
    policy: str
    level: str
    message: str
    urn: str


class PackClient:
    """One pack process for a test module."""

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        # the gate gives the pack a minimal environment: name what this client hands it
        self.process = PolicyPackProcess(
            POLICIES, project=PROJECT, stack=STACK, pass_env=tuple(env or {})
        )
        saved = {k: os.environ.get(k) for k in env or {}}
        os.environ.update(env or {})  # the client hands its environment to the pack
        try:
            self.process.start()
            self.process.wait_ready()
        except PackError:
            self.process.close()
            raise
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        self.process.handshake()
        self.info: PackInfo = self.process.info()
        self.rules = {r.name: r for r in self.info.rules}

    def configure(self, overrides: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        """`--policy-pack-config` semantics: {rule: {"enforcementLevel"?, setting: value}}."""
        given = {}
        for name, over in (overrides or {}).items():
            props = {k: v for k, v in over.items() if k != "enforcementLevel"}
            entry: dict[str, Any] = {"properties": props}
            if "enforcementLevel" in over:
                entry["enforcementLevel"] = over["enforcementLevel"]
            given[name] = entry
        self.process.configure(
            reconcile_config(self.info.rules, self.process.initial_config, given, "test")
        )

    def configure_raw(self, config: Mapping[str, Mapping[str, Any]]) -> None:
        """Send a config as given, without the client-side schema check (tests the pack's)."""
        self.process.configure(config)

    def analyze(self, r: Res) -> list[Diag]:
        req = analyze_request(r.planned(), r.provider.planned() if r.provider else None)
        return self._diags(self.process.analyze_async(req).result())

    def analyze_stack(self, resources: Sequence[Res]) -> list[Diag]:
        msgs = [
            stack_resource_message(
                r.planned(), r.provider.planned() if r.provider else None, r.props
            )
            for r in resources
        ]
        return self._diags(self.process.analyze_stack(msgs))

    @staticmethod
    def _diags(resp: Any) -> list[Diag]:
        return [
            Diag(d.policyName, level_name(d.enforcementLevel), d.message, d.urn)
            for d in resp.diagnostics
        ]

    def close(self) -> None:
        self.process.close()
