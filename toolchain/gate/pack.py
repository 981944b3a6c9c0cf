"""Start a Python policy pack the way the Pulumi CLI does and talk to it over the analyzer protocol.

The CLI (``NewPolicyAnalyzer``) runs ``pulumi-analyzer-policy-python <engine> . -virtualenv=...``
in the pack directory; that shim runs ``<venv>/bin/python -u -m pulumi.policy <engine> .`` and the
pack prints the port of its gRPC server on stdout. The CLI then calls Handshake, ConfigureStack,
GetAnalyzerInfo, GetPluginInfo and Configure, and Analyze/AnalyzeStack as resources come in. We do
the same, over one channel, with the environment the CLI sets (stack config in PULUMI_CONFIG).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import grpc  # type: ignore[import-untyped]
import jsonschema  # type: ignore[import-untyped]
import yaml
from google.protobuf import empty_pb2, json_format, struct_pb2  # type: ignore[import-untyped]
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

from toolchain.engine.childenv import child_environment
from toolchain.engine.model import EngineError, PlannedResource
from toolchain.engine.project import StackConfig
from toolchain.engine.venv import ensure_virtualenv
from toolchain.engine.wire import to_struct

LEVELS = ("advisory", "mandatory", "remediate", "disabled")
_LEVEL_TO_PROTO: dict[str, int] = {
    "advisory": analyzer_pb2.ADVISORY,
    "mandatory": analyzer_pb2.MANDATORY,
    "remediate": analyzer_pb2.REMEDIATE,
    "disabled": analyzer_pb2.DISABLED,
}
_PROTO_TO_LEVEL: dict[int, str] = {v: k for k, v in _LEVEL_TO_PROTO.items()}
_SEVERITY: dict[int, str] = {
    analyzer_pb2.POLICY_SEVERITY_UNSPECIFIED: "",
    analyzer_pb2.POLICY_SEVERITY_LOW: "low",
    analyzer_pb2.POLICY_SEVERITY_MEDIUM: "medium",
    analyzer_pb2.POLICY_SEVERITY_HIGH: "high",
    analyzer_pb2.POLICY_SEVERITY_CRITICAL: "critical",
}
_MAX_MESSAGE = 400 * 1024 * 1024
_REPO_ROOT = Path(__file__).resolve().parents[2]
#: the engine address handed to the pack; pulumi.policy accepts it but a pack never dials it
_NO_ENGINE = "127.0.0.1:0"


#: Runs ``pulumi.policy`` as ``python -m`` would, after loading the stack config into the SDK's
#: config store once. pulumi_policy re-reads PULUMI_CONFIG from the environment and re-parses it on
#: every Analyze call (``_configure_runtime_settings``): with hundreds of domains in the config that
#: costs more than the policies themselves. Policies still see every value through pulumi.Config.
#:
#: One pack process judges every stack of a project (as many `pulumi preview` runs would with one
#: pack each): ConfigureStack, which the engine sends with the stack's name and config before
#: analysing it, replaces the config store and the stack settings that the CLI would have put in
#: that pack's environment (pulumi_policy itself keeps only the stack tags from it).
_BOOTSTRAP = (
    "import json, os, runpy, sys\n"
    "path = sys.argv.pop(1)\n"
    "with open(path, encoding='utf-8') as f: os.environ.update(json.load(f))\n"
    "os.unlink(path)\n"
    "import pulumi.runtime\n"
    "from pulumi.runtime import config as _cfg\n"
    "for k, v in json.loads(os.environ.pop('PULUMI_CONFIG', '{}')).items():\n"
    "    pulumi.runtime.set_config(k, v)\n"
    "import pulumi_policy.policy as _pp\n"
    "_orig = _pp._PolicyAnalyzerServicer.ConfigureStack\n"
    "def _configure_stack(self, request, context):\n"
    "    store = _cfg.CONFIG.get()\n"
    "    store.clear()\n"
    "    store.update(dict(request.config))\n"
    "    if request.stack: os.environ['PULUMI_STACK'] = request.stack\n"
    "    if request.project: os.environ['PULUMI_PROJECT'] = request.project\n"
    "    return _orig(self, request, context)\n"
    "_pp._PolicyAnalyzerServicer.ConfigureStack = _configure_stack\n"
    "runpy.run_module('pulumi.policy', run_name='__main__', alter_sys=True)\n"
)


class PackError(EngineError):
    """The policy pack could not be started, crashed, timed out or failed a call."""


def level_name(value: int) -> str:
    return _PROTO_TO_LEVEL.get(value, "advisory")


def severity_name(value: int) -> str:
    return _SEVERITY.get(value, "")


@dataclass(frozen=True)
class PolicyRule:
    """A policy as the pack describes it (GetAnalyzerInfo), with its effective level."""

    name: str
    description: str
    enforcement_level: str
    severity: str = ""
    kind: str = "resource"  # or "stack"
    display_name: str = ""
    remediation_steps: str = ""
    url: str = ""
    tags: tuple[str, ...] = ()
    framework: str = ""
    config_schema: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PackInfo:
    name: str
    version: str
    plugin_version: str
    display_name: str
    description: str
    rules: tuple[PolicyRule, ...]
    #: rules the policy config runs below their default level: (rule, default, level, record id)
    lowered: tuple[tuple[str, str, str, str], ...] = ()
    #: the policy config file's name ("" when none was given)
    config_name: str = ""


@dataclass(frozen=True)
class PackSpec:
    """A policy pack directory as described by its ``PulumiPolicy.yaml``."""

    root: Path
    runtime: str
    options: Mapping[str, object]
    version: str
    description: str

    @property
    def virtualenv(self) -> Path | None:
        venv = self.options.get("virtualenv")
        if not isinstance(venv, str) or not venv:
            return None
        path = Path(venv)
        return path if path.is_absolute() else self.root / path


def load_pack(root: str | os.PathLike[str]) -> PackSpec:
    path = Path(root).resolve()
    spec_file = path / "PulumiPolicy.yaml"
    try:
        doc = yaml.safe_load(spec_file.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise PackError(
            f"policy pack not found: no PulumiPolicy.yaml in {path}", str(path)
        ) from exc
    except (OSError, yaml.YAMLError) as exc:
        raise PackError(f"cannot read {spec_file}: {exc}", str(spec_file)) from exc
    if not isinstance(doc, dict):
        raise PackError(f"{spec_file} must be a YAML mapping", str(spec_file))
    runtime_doc = doc.get("runtime")
    options: dict[str, object] = {}
    if isinstance(runtime_doc, dict):
        runtime = str(runtime_doc.get("name", ""))
        options = dict(runtime_doc.get("options") or {})
    else:
        runtime = str(runtime_doc or "")
    if runtime != "python":
        raise PackError(
            f"{spec_file}: runtime is {runtime!r}; only Python policy packs are supported",
            str(spec_file),
        )
    return PackSpec(
        root=path,
        runtime=runtime,
        options=options,
        version=str(doc.get("version") or ""),
        description=str(doc.get("description") or ""),
    )


def load_policy_config(path: str | os.PathLike[str]) -> dict[str, dict[str, Any]]:
    """A ``--policy-pack-config`` JSON file, parsed as the CLI does (``parsePolicyPackConfig``).

    Returns policy name -> {"enforcementLevel"?: str, "properties"?: dict}.
    """
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise PackError(f"cannot read the policy config {file}: {exc.strerror}", str(file)) from exc
    if not text.strip():
        return {}
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PackError(
            f"the policy config {file} is not valid JSON: {exc.msg}", f"{file}:{exc.lineno}"
        ) from exc
    if not isinstance(doc, dict):
        raise PackError(f"the policy config {file} must be a JSON object", str(file))
    result: dict[str, dict[str, Any]] = {}
    for name, value in doc.items():
        entry: dict[str, Any] = {}
        if isinstance(value, str):
            level: object = value
            props: dict[str, Any] = {}
        elif isinstance(value, dict):
            props = dict(value)
            level = props.pop("enforcementLevel", None)
        else:
            raise PackError(
                f"policy config {file}: {name!r}: {value!r} is not a valid value; must be a string "
                "or object",
                str(file),
            )
        if level is not None:
            if level not in LEVELS:
                raise PackError(
                    f"policy config {file}: {name!r}: {level!r} is not a valid enforcement level "
                    f"({', '.join(LEVELS)})",
                    str(file),
                )
            entry["enforcementLevel"] = level
        if props:
            entry["properties"] = props
        if entry:
            result[str(name)] = entry
    return result


def reconcile_config(
    rules: Sequence[PolicyRule],
    initial: Mapping[str, Mapping[str, Any]],
    given: Mapping[str, Mapping[str, Any]],
    where: str,
) -> dict[str, dict[str, Any]]:
    """The CLI's ``ReconcilePolicyPackConfig``: schema defaults, then the pack's initial config,
    then the user's config ("all" sets every level), validated against each policy's schema."""
    result: dict[str, dict[str, Any]] = {}
    for rule in rules:
        props = {
            k: v["default"]
            for k, v in (rule.config_schema.get("properties") or {}).items()
            if isinstance(v, Mapping) and "default" in v
        }
        result[rule.name] = {"enforcementLevel": rule.enforcement_level, "properties": props}
    for layer in (initial, given):
        all_level = (layer.get("all") or {}).get("enforcementLevel")
        if all_level in LEVELS:
            for entry in result.values():
                entry["enforcementLevel"] = all_level
        for name, cfg in layer.items():
            entry = result.setdefault(name, {"enforcementLevel": "", "properties": {}})
            if cfg.get("enforcementLevel") in LEVELS:
                entry["enforcementLevel"] = cfg["enforcementLevel"]
            entry["properties"].update(cfg.get("properties") or {})
    errors = []
    for rule in rules:
        if not rule.config_schema:
            continue
        schema: dict[str, Any] = {"type": "object"}
        if rule.config_schema.get("properties"):
            schema["properties"] = rule.config_schema["properties"]
        if rule.config_schema.get("required"):
            schema["required"] = rule.config_schema["required"]
        validator = jsonschema.Draft7Validator(schema)
        for err in validator.iter_errors(result[rule.name]["properties"]):
            errors.append(f"{rule.name}: {err.message}")
    if errors:
        raise PackError("the policy config is not valid: " + "; ".join(errors), where)
    return result


def _analyzer_options(resource: PlannedResource, *, with_parent: bool) -> Any:
    opts = resource.options
    timeouts = analyzer_pb2.AnalyzerResourceOptions.CustomTimeouts(
        create=opts.custom_timeouts.create,
        update=opts.custom_timeouts.update,
        delete=opts.custom_timeouts.delete,
    )
    return analyzer_pb2.AnalyzerResourceOptions(
        protect=opts.protect,
        ignoreChanges=list(opts.ignore_changes),
        deleteBeforeReplace=bool(opts.delete_before_replace),
        deleteBeforeReplaceDefined=opts.delete_before_replace is not None,
        additionalSecretOutputs=list(opts.additional_secret_outputs),
        aliases=list(opts.aliases),
        customTimeouts=timeouts,
        parent=(resource.parent or "") if with_parent else "",
    )


def _provider_message(provider: PlannedResource | None) -> Any:
    if provider is None:
        return None
    return analyzer_pb2.AnalyzerProviderResource(
        type=provider.type,
        properties=to_struct(provider.inputs),
        urn=provider.urn,
        name=provider.name,
    )


def provider_message(provider: PlannedResource | None) -> Any:
    """The ``AnalyzerProviderResource`` for a provider (its inputs), or None."""
    return _provider_message(provider)


def analyze_request(
    resource: PlannedResource, provider: PlannedResource | None, *, provider_msg: Any = None
) -> Any:
    """The ``AnalyzeRequest`` the engine sends for one resource registration."""
    return analyzer_pb2.AnalyzeRequest(
        type=resource.type,
        properties=to_struct(resource.inputs),
        urn=resource.urn,
        name=resource.name,
        options=_analyzer_options(resource, with_parent=True),
        provider=provider_msg if provider_msg is not None else _provider_message(provider),
    )


def stack_resource_message(
    resource: PlannedResource,
    provider: PlannedResource | None,
    properties: Mapping[str, object],
    *,
    properties_struct: Any = None,
    provider_message: Any = None,
) -> Any:
    """One ``AnalyzerResource`` of an ``AnalyzeStackRequest`` (the engine sends final outputs).
    Already-encoded properties/provider may be passed in to avoid encoding them twice."""
    deps = {
        k: analyzer_pb2.AnalyzerPropertyDependencies(urns=list(v))
        for k, v in resource.property_dependencies.items()
        if v
    }
    return analyzer_pb2.AnalyzerResource(
        type=resource.type,
        properties=properties_struct if properties_struct is not None else to_struct(properties),
        urn=resource.urn,
        name=resource.name,
        options=_analyzer_options(resource, with_parent=False),
        provider=provider_message if provider_message is not None else _provider_message(provider),
        parent=resource.parent or "",
        dependencies=list(resource.dependencies),
        propertyDependencies=deps,
    )


class PolicyPackProcess:
    """A running policy pack and one gRPC channel to it."""

    def __init__(
        self,
        pack_dir: str | os.PathLike[str],
        *,
        stack_config: StackConfig | None = None,
        project: str = "",
        stack: str = "",
        timeout: float = 300.0,
        start_timeout: float | None = None,
        pass_env: tuple[str, ...] = (),
    ) -> None:
        self.spec = load_pack(pack_dir)
        self.pass_env = pass_env
        self._home: str | None = None
        self.timeout = timeout
        # by default the pack gets as long to start (print its port) as to answer one call
        self.start_timeout = timeout if start_timeout is None else start_timeout
        self._config = stack_config
        self._project = stack_config.project.name if stack_config else project
        self._stack = stack_config.stack if stack_config else stack
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None
        self._channel: grpc.Channel | None = None
        self._stub: Any = None
        #: the pack's own initial config (GetAnalyzerInfo), reconciled before the user's
        self.initial_config: dict[str, dict[str, Any]] = {}
        #: the policy config last sent with Configure (a helper pack gets the same)
        self.configured: Mapping[str, Mapping[str, Any]] = {}

    # -- lifecycle ----------------------------------------------------------------------------

    def _python(self) -> str:
        venv = self.spec.virtualenv
        if venv is None:
            # The CLI's shim runs `python3` from PATH; ours is the interpreter running the gate.
            return sys.executable
        return ensure_virtualenv(
            venv, self.spec.root / "requirements.txt", what=f"policy pack {self.spec.root}"
        )

    def _env(self) -> dict[str, str]:
        # Only what the pack needs (childenv): no cloud keys, tokens or passphrases.
        if self._home is None:
            self._home = tempfile.mkdtemp(prefix="hkmail-pack-home-")
        env = child_environment(pass_env=self.pass_env, home=self._home)
        if self._config is not None:
            # constructEnv: the stack's config goes to the pack like to a program
            env.update(self._config.env(dry_run=True))
            env.pop("PULUMI_CONFIG_SECRET_KEYS", None)
        else:
            env.pop("PULUMI_CONFIG", None)
            if self._project:
                env["PULUMI_PROJECT"] = self._project
            if self._stack:
                env["PULUMI_STACK"] = self._stack
            env["PULUMI_DRY_RUN"] = "true"
            env["PULUMI_ORGANIZATION"] = "organization"
        venv = self.spec.virtualenv
        if venv is not None:
            env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
            env.pop("PYTHONHOME", None)
        # scripts/gate puts this repository on PYTHONPATH for itself; the CLI would not give it
        # to the pack, so a pack that (wrongly) imports it must fail here as it would there.
        paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
        kept = [p for p in paths if Path(p).resolve() != _REPO_ROOT]
        if kept:
            env["PYTHONPATH"] = os.pathsep.join(kept)
        else:
            env.pop("PYTHONPATH", None)
        return env

    def start(self) -> None:
        python = self._python()
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 closed in close()
        env = self._env()
        # the config goes through a file (it may also be too big to exec) into the pack's
        # config store; see _BOOTSTRAP
        fd, path = tempfile.mkstemp(prefix="hkmail-pack-env-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump({"PULUMI_CONFIG": env.pop("PULUMI_CONFIG", "{}")}, f)
        cmd = [python, "-u", "-c", _BOOTSTRAP, path, _NO_ENGINE, "."]
        try:
            self._proc = subprocess.Popen(
                cmd,
                cwd=str(self.spec.root),
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=self._stderr,
            )
        except OSError as exc:
            raise PackError(
                f"cannot start the policy pack with {python}: {exc.strerror}", str(self.spec.root)
            ) from exc

    def wait_ready(self) -> None:
        """Read the port the pack prints and open the channel."""
        assert self._proc is not None and self._proc.stdout is not None
        port_line: list[bytes] = []

        def read_port() -> None:
            assert self._proc is not None and self._proc.stdout is not None
            try:
                port_line.append(self._proc.stdout.readline())
            except (ValueError, OSError):  # close() ended the process while it started
                port_line.append(b"")

        reader = threading.Thread(target=read_port, daemon=True)
        reader.start()
        reader.join(self.start_timeout)
        line = port_line[0].strip() if port_line else b""
        if not line.isdigit():
            if reader.is_alive():
                self._proc.kill()
                raise PackError(
                    f"the policy pack did not start within {self.start_timeout:g} seconds "
                    "(no port on its stdout)",
                    str(self.spec.root),
                )
            code = self._proc.wait()
            raise PackError(
                f"the policy pack failed to start (exit status {code}): {self.stderr_tail()}",
                str(self.spec.root),
            )
        # Drain anything else the pack prints so it can never block on a full pipe.
        threading.Thread(target=self._drain_stdout, daemon=True).start()
        self._channel = grpc.insecure_channel(
            f"127.0.0.1:{int(line)}",
            options=[
                ("grpc.max_receive_message_length", _MAX_MESSAGE),
                ("grpc.max_send_message_length", _MAX_MESSAGE),
            ],
        )
        self._stub = analyzer_pb2_grpc.AnalyzerStub(self._channel)
        try:
            grpc.channel_ready_future(self._channel).result(timeout=self.start_timeout)
        except grpc.FutureTimeoutError as exc:
            raise PackError(
                f"cannot connect to the policy pack on port {int(line)}", str(self.spec.root)
            ) from exc

    def _drain_stdout(self) -> None:
        if self._proc is not None and self._proc.stdout is not None:
            for _ in self._proc.stdout:
                pass

    def stderr_tail(self, lines: int = 15) -> str:
        if self._stderr is None:
            return ""
        self._stderr.seek(0)
        text = self._stderr.read().decode("utf-8", errors="replace").strip()
        return "\n".join(text.splitlines()[-lines:]) or "(no output)"

    def close(self) -> None:
        if self._channel is not None:
            self._channel.close()
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        if self._proc is not None and self._proc.stdout is not None:
            self._proc.stdout.close()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None
        if self._home is not None:
            shutil.rmtree(self._home, ignore_errors=True)
            self._home = None

    def __enter__(self) -> PolicyPackProcess:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- calls --------------------------------------------------------------------------------

    def error(self, call: str, exc: grpc.RpcError, subject: str = "") -> PackError:
        """A fail-closed error for a failed call, saying what happened and where."""
        code = exc.code() if hasattr(exc, "code") else None
        about = f" for {subject}" if subject else ""
        where = str(self.spec.root)
        if code == grpc.StatusCode.DEADLINE_EXCEEDED:
            return PackError(
                f"the policy pack did not answer {call}{about} within {self.timeout:g} seconds",
                where,
            )
        lost = (
            grpc.StatusCode.UNAVAILABLE,
            grpc.StatusCode.CANCELLED,
            grpc.StatusCode.INTERNAL,
        )
        if code in lost and self._proc is not None:
            # a dropped connection is usually the process dying: let it finish dying
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(timeout=2)
        if self._proc is not None and self._proc.poll() is not None:
            return PackError(
                f"the policy pack crashed (exit status {self._proc.returncode}) during "
                f"{call}{about}: {self.stderr_tail()}",
                where,
            )
        details = exc.details() if hasattr(exc, "details") else str(exc)
        return PackError(f"the policy pack failed {call}{about}: {details}", where)

    def _call(self, name: str, request: Any, *, optional: bool = False) -> Any:
        try:
            return getattr(self._stub, name)(request, timeout=self.timeout)
        except grpc.RpcError as exc:
            if optional and exc.code() == grpc.StatusCode.UNIMPLEMENTED:
                return None
            raise self.error(name, exc) from exc

    def handshake(self) -> None:
        root = str(self.spec.root)
        self._call(
            "Handshake",
            analyzer_pb2.AnalyzerHandshakeRequest(
                engine_address=_NO_ENGINE, root_directory=root, program_directory=root
            ),
            optional=True,
        )
        if self._config is not None:
            self.configure_stack(self._config)
        else:
            self._configure_stack(self._project, self._stack, {}, [])

    def configure_stack(self, stack_config: StackConfig) -> None:
        """Tell the pack which stack comes next, with its config (ConfigureStack)."""
        # config as the engine holds it: key -> string (secure values decrypted where the CLI
        # could, else the offline placeholder; named in config_secret_keys)
        self._configure_stack(
            stack_config.project.name,
            stack_config.stack,
            dict(stack_config.values),
            sorted(stack_config.secret_keys),
        )

    def _configure_stack(
        self, project: str, stack: str, config: dict[str, str], secret_keys: list[str]
    ) -> None:
        self._call(
            "ConfigureStack",
            analyzer_pb2.AnalyzerStackConfigureRequest(
                stack=stack,
                project=project,
                organization="organization",
                dry_run=True,
                config=config,
                config_secret_keys=secret_keys,
            ),
            optional=True,
        )

    def info(self) -> PackInfo:
        resp = self._call("GetAnalyzerInfo", empty_pb2.Empty())
        plugin = self._call("GetPluginInfo", empty_pb2.Empty())
        rules = []
        for p in resp.policies:
            schema: dict[str, Any] = {}
            if resp.supportsConfig:
                schema = {
                    "properties": json_format.MessageToDict(p.configSchema.properties),
                    "required": list(p.configSchema.required),
                }
                # the CLI injects enforcementLevel into every policy's schema
                schema["properties"]["enforcementLevel"] = {"type": "string", "enum": list(LEVELS)}
            framework = p.framework.name if p.HasField("framework") else ""
            rules.append(
                PolicyRule(
                    name=p.name,
                    description=p.description,
                    enforcement_level=level_name(p.enforcementLevel),
                    severity=severity_name(p.severity),
                    kind="stack" if p.policy_type == analyzer_pb2.POLICY_TYPE_STACK else "resource",
                    display_name=p.displayName,
                    remediation_steps=p.remediation_steps,
                    url=p.url,
                    tags=tuple(p.tags),
                    framework=framework,
                    config_schema=schema,
                )
            )
        self.initial_config = {
            k: {
                **(
                    {"enforcementLevel": level_name(v.enforcementLevel)}
                    if v.enforcementLevel in _PROTO_TO_LEVEL
                    else {}
                ),
                "properties": json_format.MessageToDict(v.properties),
            }
            for k, v in resp.initialConfig.items()
        }
        return PackInfo(
            name=resp.name,
            version=self.spec.version or resp.version,
            plugin_version=plugin.version if plugin is not None else "",
            display_name=resp.displayName,
            description=resp.description or self.spec.description,
            rules=tuple(sorted(rules, key=lambda r: r.name)),
        )

    def configure(self, config: Mapping[str, Mapping[str, Any]]) -> None:
        request = analyzer_pb2.ConfigureAnalyzerRequest()
        for name, cfg in config.items():
            props = struct_pb2.Struct()
            json_format.ParseDict(cfg.get("properties") or {}, props)
            level: Any = _LEVEL_TO_PROTO.get(
                str(cfg.get("enforcementLevel")), analyzer_pb2.ADVISORY
            )
            request.policyConfig[name].CopyFrom(
                analyzer_pb2.PolicyConfig(enforcementLevel=level, properties=props)
            )
        self._call("Configure", request)
        self.configured = config

    def sibling(self, stack_config: StackConfig) -> PolicyPackProcess:
        """Another process of the same pack for the same stack, not started (core._Helper)."""
        return PolicyPackProcess(
            self.spec.root,
            stack_config=stack_config,
            timeout=self.timeout,
            start_timeout=self.start_timeout,
            pass_env=self.pass_env,
        )

    def prepare_as(self, first: PolicyPackProcess) -> None:
        """Once started, configure this sibling as `first` was (ConfigureStack, Configure)."""
        self.wait_ready()
        self.handshake()
        self.info()
        self.configure(first.configured)

    def analyze_async(self, request: Any) -> Any:
        """Send one Analyze without waiting; a ``grpc.Future`` (calls pipeline on one channel)."""
        return self._stub.Analyze.future(request, timeout=self.timeout)

    def analyze_stack(self, resources: Sequence[Any]) -> Any:
        return self._call("AnalyzeStack", analyzer_pb2.AnalyzeStackRequest(resources=resources))

    def remediate(self, request: Any) -> Any:
        return self._call("Remediate", request, optional=True)
