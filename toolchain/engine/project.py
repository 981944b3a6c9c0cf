"""Read a Pulumi project (``Pulumi.yaml``) and a stack's config the way the Pulumi CLI does."""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from .model import ProjectError, Secret
from .secrets import StackDecrypter

#: What a ``secure:`` value becomes offline: it cannot be decrypted without the stack's secrets
#: provider, so the program gets this (clearly fake) text, flagged as a secret config key.
SECRET_PLACEHOLDER = "[hk-mail offline: secure config value not decrypted]"

_DECLARATION_KEYS = {"type", "description", "default", "value", "secret", "items"}


# --------------------------------------------------------------------------------------------
# YAML as the Pulumi CLI reads it: gopkg.in/yaml.v3 (v3.0.1; resolve.go, decode.go), through
# sdk/go/common/workspace/loaders.go (LoadProjectStackBytes) and resource/config (object.go).
# --------------------------------------------------------------------------------------------

_PLAIN = "?plain"  # tag of an untagged plain scalar, resolved below as yaml.v3 resolves it
_STR = "tag:yaml.org,2002:str"
_V3_MAP: Mapping[str, object] = {
    **dict.fromkeys(("true", "True", "TRUE"), True),
    **dict.fromkeys(("false", "False", "FALSE"), False),
    **dict.fromkeys(("", "~", "null", "Null", "NULL"), None),
    **dict.fromkeys((".nan", ".NaN", ".NAN"), float("nan")),
    **dict.fromkeys((".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"), float("inf")),
    **dict.fromkeys(("-.inf", "-.Inf", "-.INF"), float("-inf")),
}
_V3_FLOAT = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")
_GO_FLOAT = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+\.?[0-9]*)([eE][-+]?[0-9]+)?$")
_V3_TIMESTAMP = re.compile(
    r"^(\d{4})-(\d{1,2})-(\d{1,2})"
    r"(?:([Tt]| )(\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.(\d{1,9}))?"
    r"(Z|[+-]\d{2}:\d{2})?)?$"
)
_INT64 = (-(1 << 63), (1 << 63) - 1)


@dataclass(frozen=True)
class GoTime:
    """A YAML timestamp as yaml.v3 decodes it (a Go ``time.Time``); the CLI hands the program its
    ``String()`` form, e.g. ``2027-03-31 00:00:00 +0000 UTC`` for ``2027-03-31``."""

    text: str
    go_string: str


def _go_parse_int(text: str) -> int | None:
    """Go's ``strconv.ParseInt(text, 0, 64)`` / ``ParseUint``: 0x, 0o, 0b and a bare leading 0
    (octal, as YAML 1.1 wrote it) are all prefixes."""
    sign, body = 1, text
    if body[:1] in "+-":
        sign, body = (-1 if body[0] == "-" else 1), body[1:]
    if not body:
        return None
    base = 10
    if body[0] == "0":
        prefix = body[1:2].lower()
        if len(body) >= 3 and prefix in ("b", "o", "x"):
            base, body = {"b": 2, "o": 8, "x": 16}[prefix], body[2:]
        else:
            base, body = 8, body[1:] or "0"
    if not body or not all(c in "0123456789abcdef"[:base] for c in body.lower()):
        return None
    value = sign * int(body, base)
    if _INT64[0] <= value <= _INT64[1] or (sign == 1 and value < (1 << 64)):
        return value
    return None


def _go_time(m: re.Match[str]) -> GoTime | None:
    year, month, day, sep, hh, mm, ss, frac, zone = m.groups()
    # yaml.v3's layouts: "2006-1-2T15:4:5.999999999Z07:00" (a zone is required after T),
    # "2006-1-2 15:4:5.999999999" (no zone after a space) and "2006-1-2"
    if sep is not None and (sep.strip() == "") != (zone is None):
        return None
    if sep is not None and sep not in ("T", "t", " "):
        return None
    try:
        dt.datetime(int(year), int(month), int(day), int(hh or 0), int(mm or 0), int(ss or 0))
    except ValueError:
        return None
    clock = f"{int(hh or 0):02d}:{int(mm or 0):02d}:{int(ss or 0):02d}"
    digits = (frac or "").rstrip("0")
    if digits:
        clock += "." + digits
    if zone in (None, "Z"):
        suffix = "+0000 UTC"
    else:
        offset = zone.replace(":", "")
        suffix = f"{offset} {offset}"
    return GoTime(m.group(0), f"{int(year):04d}-{int(month):02d}-{int(day):02d} {clock} {suffix}")


def resolve_plain(text: str) -> object:
    """An untagged plain scalar as yaml.v3 resolves it (resolve.go): YAML 1.2 booleans and nulls
    only (``yes``/``no``/``on``/``off`` stay strings), no base-60 (``10:00`` stays a string), but
    a leading-zero integer is octal (``010`` is 8) and a date is a timestamp."""
    if text in _V3_MAP:
        return _V3_MAP[text]
    first = text[:1]
    if first == ".":
        if _GO_FLOAT.match(text):
            return float(text)
        return text
    if not (first.isdigit() or first in "+-"):
        return text
    m = _V3_TIMESTAMP.match(text)
    if m is not None:
        when = _go_time(m)
        if when is not None:
            return when
    plain = text.replace("_", "")
    number = _go_parse_int(plain)
    if number is not None:
        return number
    if _V3_FLOAT.match(plain):
        return float(plain)
    return text


class _V3Resolver(yaml.resolver.BaseResolver):
    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is yaml.ScalarNode and implicit[0]:
            return _PLAIN
        return super().resolve(kind, value, implicit)  # type: ignore[no-untyped-call]


class _V3Loader(
    yaml.reader.Reader,
    yaml.scanner.Scanner,
    yaml.parser.Parser,
    yaml.composer.Composer,
    _V3Resolver,
):
    def __init__(self, stream: str) -> None:
        yaml.reader.Reader.__init__(self, stream)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)
        yaml.composer.Composer.__init__(self)
        _V3Resolver.__init__(self)


class YamlNotes:
    """What the CLI reads differently from what a person may have meant, for warnings."""

    def __init__(self) -> None:
        self.octal: list[tuple[int, str, int]] = []


def _construct(node: yaml.Node, what: str, path: Path, notes: YamlNotes) -> object:
    if isinstance(node, yaml.ScalarNode):
        if node.tag == _PLAIN:
            value = resolve_plain(node.value)
            text = node.value.replace("_", "").lstrip("+-")
            if (
                isinstance(value, int)
                and not isinstance(value, bool)
                and len(text) > 1
                and text[0] == "0"
                and text[1].isdigit()
            ):
                notes.octal.append((node.start_mark.line + 1, node.value, value))
            return value
        if node.tag in (_STR, "tag:yaml.org,2002:binary") or node.style:
            return node.value
        # an explicit !!int, !!bool, ... tag: resolved by the value, as yaml.v3 does
        return resolve_plain(node.value)
    if isinstance(node, yaml.SequenceNode):
        return [_construct(n, what, path, notes) for n in node.value]
    if isinstance(node, yaml.MappingNode):
        out: dict[object, object] = {}
        seen: dict[tuple[type, str], int] = {}
        for key_node, value_node in node.value:
            ident = (type(key_node), str(getattr(key_node, "value", "")))
            line = key_node.start_mark.line + 1
            if isinstance(key_node, yaml.ScalarNode) and ident in seen:
                raise ProjectError(
                    f"{what} {path} is not valid YAML: line {line}: mapping key "
                    f'"{key_node.value}" already defined at line {seen[ident]} (the Pulumi CLI '
                    "refuses duplicate keys)",
                    f"{path}:{line}",
                )
            seen.setdefault(ident, line)
            key = _construct(key_node, what, path, notes)
            if not isinstance(key, str):
                raise ProjectError(
                    f"{what} {path}: line {line}: expected only string keys, got {key!r} "
                    "(quote the key)",
                    f"{path}:{line}",
                )
            out[key] = _construct(value_node, what, path, notes)
        return out
    raise ProjectError(f"{what} {path}: unsupported YAML node", str(path))


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


def _not_utf8(what: str, path: Path, data: bytes, exc: UnicodeDecodeError) -> ProjectError:
    """Where the first byte that is not UTF-8 is, as an editor shows it (line, column in
    bytes), and what to do: the CLI reads these files as UTF-8 only."""
    line = data.count(b"\n", 0, exc.start) + 1
    column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
    return ProjectError(
        f"{what} {path} must be UTF-8 text: byte 0x{data[exc.start]:02x} at line {line}, column "
        f"{column} (byte offset {exc.start}) is not UTF-8 ({exc.reason}); the Pulumi CLI reads "
        "it as UTF-8: save the file as UTF-8 (e.g. iconv -f BIG5 -t UTF-8, or GB18030 for "
        "simplified Chinese)",
        f"{path}:{line}:{column}",
    )


# (what, path, digest of the bytes) -> (document, octal notes): the gate reads a stack's file for
# the preview and again for the update pass (a stack of 1,000 domains is a megabyte of YAML and
# seconds of pure-Python parsing); the same bytes are parsed once.
_PARSED: dict[tuple[str, str, bytes], tuple[Any, tuple[tuple[int, str, int], ...]]] = {}
_PARSED_MAX = 8


def _load_yaml(path: Path, what: str, notes: YamlNotes | None = None) -> Any:
    """``path`` read as the CLI reads it (a UTF-8 BOM stripped, yaml.v3 scalar resolution)."""
    try:
        data = path.read_bytes()
    except OSError:
        data = None  # reported by _parse_yaml, which reads it again
    key = None
    if data is not None:
        key = (what, str(path), hashlib.blake2b(data, digest_size=20).digest())
        hit = _PARSED.get(key)
        if hit is not None:
            if notes is not None:
                notes.octal.extend(hit[1])
            return copy.deepcopy(hit[0])  # callers may change what they get
    own = YamlNotes()
    doc = _parse_yaml(path, what, own)
    if notes is not None:
        notes.octal.extend(own.octal)
    if key is not None:
        if len(_PARSED) >= _PARSED_MAX:
            _PARSED.pop(next(iter(_PARSED)))
        _PARSED[key] = (copy.deepcopy(doc), tuple(own.octal))
    return doc


def _parse_yaml(path: Path, what: str, notes: YamlNotes) -> Any:
    try:
        data = path.read_bytes().removeprefix(b"\xef\xbb\xbf")
        text = data.decode("utf-8")
    except FileNotFoundError as exc:
        raise ProjectError(f"{what} not found: {path}", str(path)) from exc
    except UnicodeDecodeError as exc:
        raise _not_utf8(what, path, data, exc) from exc
    except OSError as exc:
        raise ProjectError(f"cannot read {what} {path}: {exc.strerror}", str(path)) from exc
    try:
        loader = _V3Loader(text)
        try:
            node = loader.get_single_node()
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        where = str(path)
        mark = getattr(exc, "problem_mark", None)
        if mark is not None:
            where = f"{path}:{mark.line + 1}:{mark.column + 1}"
        problem = getattr(exc, "problem", None) or str(exc)
        raise ProjectError(f"{what} {path} is not valid YAML: {problem}", where) from exc
    if node is None:
        return None
    return _construct(node, what, path, notes)


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


def _go_float(value: float, where: str, key: str) -> str:
    """A float64 as Go's encoding/json writes it (the CLI's object.MarshalJSON)."""
    if value != value or value in (float("inf"), float("-inf")):
        raise ProjectError(
            f"config key {key!r}: {value} cannot be passed to a program (json: unsupported value)",
            where,
        )
    if value == 0:
        return "0" if str(value)[0] != "-" else "-0"
    if 1e-6 <= abs(value) < 1e21:
        text = format(Decimal(repr(value)), "f")
        return text.rstrip("0").rstrip(".") if "." in text else text
    mantissa, exp = repr(value).replace("e+0", "e+").replace("e-0", "e-").split("e")
    return f"{mantissa.removesuffix('.0')}e{exp if exp[0] in '+-' else '+' + exp}"


def _go_json(value: object, where: str, key: str) -> str:
    """``value`` as Go's json.Marshal writes it: map keys sorted, no spaces."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _go_float(value, where, key)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ",".join(_go_json(v, where, key) for v in value) + "]"
    if isinstance(value, dict):
        return (
            "{"
            + ",".join(
                f"{json.dumps(str(k), ensure_ascii=False)}:{_go_json(v, where, key)}"
                for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))
            )
            + "}"
        )
    raise ProjectError(f"config key {key!r} has an unsupported value", where)


def _encode(
    value: object, key: str, where: str, decrypter: StackDecrypter | None = None
) -> tuple[str, bool]:
    """A YAML config value -> (the string the program sees, whether it is secret), as the CLI's
    config.Value does it (resource/config/object.go: unmarshalObject, MarshalString); secure
    values decrypted where the CLI could (see secrets.StackDecrypter)."""
    secret = False

    def plain(v: object) -> object:
        nonlocal secret
        if isinstance(v, GoTime):
            return v.go_string
        if isinstance(v, dict):
            if len(v) == 1 and isinstance(v.get("secure"), str):
                secret = True
                if decrypter is not None and decrypter.available:
                    return decrypter.decrypt(key, v["secure"])
                return SECRET_PLACEHOLDER
            return {str(k): plain(x) for k, x in v.items()}
        if isinstance(v, list):
            return [plain(x) for x in v]
        return v

    converted = plain(value)
    if isinstance(converted, str):
        return converted, secret
    if converted is None:
        return "", secret  # a top-level null is "" (loaders.go checkForEmptyConfig)
    return _go_json(converted, where, key), secret


def plain_leaves_beside_secrets(value: object, key: str) -> list[str]:
    """Paths of plain-text values in an object that also holds ``secure:`` values: the CLI
    marks the whole key secret and the program cannot tell, but those values sit unencrypted in
    the stack file."""
    secure: list[str] = []
    plain: list[str] = []

    def walk(v: object, path: str) -> None:
        if isinstance(v, dict):
            if len(v) == 1 and isinstance(v.get("secure"), str):
                secure.append(path)
                return
            for k, x in v.items():
                walk(x, f"{path}.{k}")
        elif isinstance(v, list):
            for i, x in enumerate(v):
                walk(x, f"{path}[{i}]")
        elif v is not None and path != key:
            plain.append(path)

    walk(value, key)
    return plain if secure else []


def parse_config_key(key: str, project: str, where: str) -> str:
    """A stack file's config key as the CLI parses it (loaders.go, config/key.go ParseKey):
    no namespace -> the project's; ``ns:name``; ``ns:config:name`` (old form) -> ``ns:name``."""
    colons = key.count(":")
    if colons == 0:
        return f"{project}:{key}"
    if colons == 1:
        return key
    parts = key.split(":")
    if colons == 2 and parts[1] == "config" and parts[0] and parts[2]:
        return f"{parts[0]}:{parts[2]}"
    raise ProjectError(
        f"could not parse {key} as a configuration key (configuration keys should be of the "
        "form `<namespace>:<name>`)",
        where,
    )


def load_stack_config(project: Project, stack: str) -> StackConfig:
    """Read ``<stackConfigDir>/Pulumi.<stack>.yaml`` and merge the project's config defaults."""
    if not stack or not stack.rsplit("/", 1)[-1]:
        raise ProjectError("a stack name is required")
    short = stack.rsplit("/", 1)[-1]  # org/project/stack -> stack, as the file is named
    path = project.stack_file(short)
    notes = YamlNotes()
    doc = _load_yaml(path, "stack config file", notes)
    if doc is None:
        doc = {}
    if not isinstance(doc, dict):
        raise ProjectError(f"stack config file {path} must be a YAML mapping", str(path))
    config_doc = doc.get("config")
    if config_doc is None:
        config_doc = {}
    if not isinstance(config_doc, dict):
        raise ProjectError(f"stack config file {path}: 'config' must be a mapping", str(path))

    warnings: list[str] = []
    if "config" not in doc:
        stray = sorted(str(k) for k in doc if ":" in str(k))
        warnings.append(
            f"{path} has no 'config:' section, so the program gets no stack configuration"
            + (
                f"; {', '.join(stray)} must be indented under a top-level 'config:' key"
                if stray
                else ""
            )
        )
    for line, text, number in notes.octal:
        warnings.append(
            f"{path}:{line}: {text} has a leading zero, so the Pulumi CLI reads it as the octal "
            f"number {number} (YAML 1.1 style); write it without the leading zero, or quote it "
            "to keep the text"
        )
    empty = sorted(str(k) for k, v in config_doc.items() if v is None)
    if empty:
        warnings.append(
            f'{path}: no value for configuration key(s) {", ".join(empty)}; the CLI passes ""'
        )
    if doc.get("environment"):
        warnings.append(
            f"{path}: Pulumi ESC environments ('environment:') cannot be opened offline; only "
            "the 'config:' values are used"
        )
    values: dict[str, str] = {}
    secret_keys: set[str] = set()
    merged: dict[str, object] = dict(project.config_defaults)
    for key, value in config_doc.items():
        merged[parse_config_key(str(key), project.name, str(path))] = value
    # secure values are decrypted where the CLI could (passphrase stacks, passphrase in env)
    decrypter = StackDecrypter(doc, str(path))
    for key, value in merged.items():
        mixed = plain_leaves_beside_secrets(value, key)
        if mixed:
            warnings.append(
                f"{path}: {', '.join(mixed)} in plain text beside secure: values of {key}; "
                f"set each with `pulumi config set --secret --path '{mixed[0]}' ...`. "
                "`pulumi up` does not refuse it: the CLI marks the whole key secret, so the "
                "program gets a secret and the state holds it encrypted, but this value stays "
                "readable in the stack file (and in git)"
            )
        text, secret = _encode(value, key, str(path), decrypter)
        values[key] = text
        if secret:
            secret_keys.add(key)
    if secret_keys and not decrypter.available:
        warnings.append(
            f"{path}: secure config values ({', '.join(sorted(secret_keys))}) are not decrypted "
            f"offline ({decrypter.why}); the program sees a placeholder, and one that reaches a "
            "region-bearing field is blocked as unresolved"
        )
    return StackConfig(
        project=project,
        stack=short,
        path=path,
        values=values,
        secret_keys=frozenset(secret_keys),
        warnings=tuple(warnings),
    )
