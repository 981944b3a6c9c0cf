"""Read a Pulumi project (``Pulumi.yaml``) and a stack's config the way the Pulumi CLI does."""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .model import ProjectError, Secret

#: What a ``secure:`` value becomes offline: it cannot be decrypted without the stack's secrets
#: provider, so the program gets this (clearly fake) text, flagged as a secret config key.
SECRET_PLACEHOLDER = "[hk-mail offline: secure config value not decrypted]"

_DECLARATION_KEYS = {"type", "description", "default", "value", "secret", "items"}


class _Yaml12Loader(yaml.SafeLoader):
    """PyYAML's safe loader with YAML 1.2 core scalars, as the CLI's Go YAML library reads them:
    dates stay strings, and only true/false are booleans (not yes/no/on/off)."""


_Yaml12Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in ("tag:yaml.org,2002:timestamp",)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
for _first in "yYnNoO":
    _Yaml12Loader.yaml_implicit_resolvers[_first] = [
        (tag, rx)
        for tag, rx in _Yaml12Loader.yaml_implicit_resolvers.get(_first, [])
        if tag != "tag:yaml.org,2002:bool"
    ]
_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


@dataclass(frozen=True)
class Project:
    """A Pulumi project directory, as described by its ``Pulumi.yaml``."""

    name: str
    root: Path
    #: the program: a directory holding ``__main__.py`` or a ``.py`` file
    main: Path
    runtime: str
    runtime_options: Mapping[str, object]
    stack_config_dir: Path
    #: project-level config defaults (``config:`` in Pulumi.yaml), full keys, raw YAML values
    config_defaults: Mapping[str, object] = field(default_factory=dict)

    @property
    def virtualenv(self) -> Path | None:
        venv = self.runtime_options.get("virtualenv")
        if not isinstance(venv, str) or not venv:
            return None
        path = Path(venv)
        return path if path.is_absolute() else self.root / path

    def python(self) -> str:
        """The interpreter the CLI would run the program with: the project's virtualenv if any."""
        venv = self.virtualenv
        if venv is not None:
            candidate = venv / "bin" / "python"
            if candidate.exists():
                return str(candidate)
        return sys.executable

    def stack_file(self, stack: str) -> Path:
        return self.stack_config_dir / f"Pulumi.{stack}.yaml"


@dataclass(frozen=True)
class StackConfig:
    """One stack's configuration, flattened the way the CLI hands it to a program."""

    project: Project
    stack: str
    path: Path
    #: full key (``ns:name``) -> the string the program sees
    values: Mapping[str, str]
    secret_keys: frozenset[str]
    #: things the offline run cannot honour (e.g. Pulumi ESC environments), for the user to see
    warnings: tuple[str, ...] = ()

    def env(self, *, dry_run: bool = True, organization: str = "organization") -> dict[str, str]:
        """The environment variables the language host sets for the program."""
        return {
            "PULUMI_CONFIG": json.dumps(dict(self.values)),
            "PULUMI_CONFIG_SECRET_KEYS": json.dumps(sorted(self.secret_keys)),
            "PULUMI_PROJECT": self.project.name,
            "PULUMI_STACK": self.stack,
            "PULUMI_DRY_RUN": "true" if dry_run else "false",
            "PULUMI_ORGANIZATION": organization,
        }

    def value(self, key: str) -> object:
        """A config value by full key, wrapped in :class:`Secret` when secure; None if unset."""
        if key not in self.values:
            return None
        raw = self.values[key]
        return Secret(raw) if key in self.secret_keys else raw

    def package_config(self, package: str) -> dict[str, object]:
        """``<package>:*`` keys without the namespace: the inputs of a default provider."""
        prefix = package + ":"
        return {
            k[len(prefix) :]: self.value(k) for k in sorted(self.values) if k.startswith(prefix)
        }

    def disabled_default_providers(self) -> frozenset[str]:
        raw = self.values.get("pulumi:disable-default-providers", "")
        if not raw:
            return frozenset()
        try:
            items = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ProjectError(
                f"pulumi:disable-default-providers must be a list of package names, got {raw!r}",
                str(self.path),
            ) from exc
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            raise ProjectError(
                "pulumi:disable-default-providers must be a list of package names", str(self.path)
            )
        return frozenset(i.strip() for i in items)

    def secrets_for_display(self) -> dict[str, object]:
        return {k: self.value(k) for k in sorted(self.values)}


def _load_yaml(path: Path, what: str) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ProjectError(f"{what} not found: {path}", str(path)) from exc
    except OSError as exc:
        raise ProjectError(f"cannot read {what} {path}: {exc.strerror}", str(path)) from exc
    try:
        return yaml.load(text, Loader=_Yaml12Loader)
    except yaml.YAMLError as exc:
        where = str(path)
        mark = getattr(exc, "problem_mark", None)
        if mark is not None:
            where = f"{path}:{mark.line + 1}:{mark.column + 1}"
        problem = getattr(exc, "problem", None) or str(exc)
        raise ProjectError(f"{what} {path} is not valid YAML: {problem}", where) from exc


def _full_key(key: str, project: str) -> str:
    # The CLI puts a key without a namespace in the project's namespace.
    return key if ":" in key else f"{project}:{key}"


def load_project(root: str | os.PathLike[str]) -> Project:
    """Read ``<root>/Pulumi.yaml``."""
    root_path = Path(root).resolve()
    path = root_path / "Pulumi.yaml"
    if not path.exists() and (root_path / "Pulumi.yml").exists():
        path = root_path / "Pulumi.yml"
    doc = _load_yaml(path, "Pulumi project file")
    if not isinstance(doc, dict):
        raise ProjectError(f"Pulumi project file {path} must be a YAML mapping", str(path))
    name = doc.get("name")
    if not isinstance(name, str) or not name:
        raise ProjectError(f"Pulumi project file {path} has no 'name'", str(path))
    runtime_doc = doc.get("runtime")
    options: dict[str, object] = {}
    if isinstance(runtime_doc, str):
        runtime = runtime_doc
    elif isinstance(runtime_doc, dict) and isinstance(runtime_doc.get("name"), str):
        runtime = runtime_doc["name"]
        opts = runtime_doc.get("options") or {}
        if not isinstance(opts, dict):
            raise ProjectError(f"{path}: runtime.options must be a mapping", str(path))
        options = {str(k): v for k, v in opts.items()}
    else:
        raise ProjectError(f"Pulumi project file {path} has no 'runtime'", str(path))
    if runtime != "python":
        raise ProjectError(
            f"{path}: runtime is {runtime!r}; only Python programs can be run offline", str(path)
        )
    main = doc.get("main")
    main_path = root_path / main if isinstance(main, str) and main else root_path
    if not main_path.exists():
        raise ProjectError(f"{path}: main {main!r} does not exist ({main_path})", str(path))
    if main_path.is_dir() and not (main_path / "__main__.py").exists():
        raise ProjectError(f"no __main__.py in the program directory {main_path}", str(main_path))
    scd = doc.get("stackConfigDir")
    stack_dir = root_path / scd if isinstance(scd, str) and scd else root_path

    defaults: dict[str, object] = {}
    config_doc = doc.get("config") or {}
    if not isinstance(config_doc, dict):
        raise ProjectError(f"{path}: 'config' must be a mapping", str(path))
    for key, spec in config_doc.items():
        full = _full_key(str(key), name)
        if isinstance(spec, dict) and spec and set(spec) <= _DECLARATION_KEYS:
            if "value" in spec:
                defaults[full] = spec["value"]
            elif "default" in spec:
                defaults[full] = spec["default"]
        else:
            defaults[full] = spec
    return Project(
        name=name,
        root=root_path,
        main=main_path,
        runtime=runtime,
        runtime_options=options,
        stack_config_dir=stack_dir,
        config_defaults=defaults,
    )


def _encode(value: object, key: str, where: str) -> tuple[str, bool]:
    """A YAML config value -> (the string the program sees, whether it is secret)."""
    secret = False

    def plain(v: object) -> object:
        nonlocal secret
        if isinstance(v, dict):
            if set(v) == {"secure"}:
                secret = True
                return SECRET_PLACEHOLDER
            return {str(k): plain(x) for k, x in v.items()}
        if isinstance(v, list):
            return [plain(x) for x in v]
        return v

    converted = plain(value)
    if isinstance(converted, str):
        return converted, secret
    if isinstance(converted, bool):
        return ("true" if converted else "false"), secret
    if isinstance(converted, int | float):
        return str(converted), secret
    if converted is None:
        return "", secret
    if isinstance(converted, dict | list):
        # Structured values reach the program JSON-encoded, as the CLI passes them.
        return json.dumps(converted, separators=(",", ":"), sort_keys=True, default=str), secret
    raise ProjectError(f"config key {key!r} has an unsupported value", where)


def load_stack_config(project: Project, stack: str) -> StackConfig:
    """Read ``<stackConfigDir>/Pulumi.<stack>.yaml`` and merge the project's config defaults."""
    if not stack or not stack.rsplit("/", 1)[-1]:
        raise ProjectError("a stack name is required")
    short = stack.rsplit("/", 1)[-1]  # org/project/stack -> stack, as the file is named
    path = project.stack_file(short)
    doc = _load_yaml(path, "stack config file")
    if doc is None:
        doc = {}
    if not isinstance(doc, dict):
        raise ProjectError(f"stack config file {path} must be a YAML mapping", str(path))
    config_doc = doc.get("config") or {}
    if not isinstance(config_doc, dict):
        raise ProjectError(f"stack config file {path}: 'config' must be a mapping", str(path))

    warnings: list[str] = []
    if doc.get("environment"):
        warnings.append(
            f"{path}: Pulumi ESC environments ('environment:') cannot be opened offline; only "
            "the 'config:' values are used"
        )
    values: dict[str, str] = {}
    secret_keys: set[str] = set()
    merged: dict[str, object] = dict(project.config_defaults)
    for key, value in config_doc.items():
        merged[_full_key(str(key), project.name)] = value
    for key, value in merged.items():
        text, secret = _encode(value, key, str(path))
        values[key] = text
        if secret:
            secret_keys.add(key)
    return StackConfig(
        project=project,
        stack=short,
        path=path,
        values=values,
        secret_keys=frozenset(secret_keys),
        warnings=tuple(warnings),
    )
