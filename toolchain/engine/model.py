"""What an offline run of a Pulumi program produces: the resources the engine would register.

Values inside ``inputs``/``outputs`` are plain JSON-like Python values plus three markers:
:class:`Secret` (wraps a value that must never be printed), :data:`UNKNOWN` (a value the engine
would not know during preview) and :class:`ResourceReference`.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Final

ROOT_STACK_TYPE: Final = "pulumi:pulumi:Stack"
PROVIDER_TYPE_PREFIX: Final = "pulumi:providers:"


class Secret:
    """A secret value. ``repr``/``str`` never show the plaintext.

    The gate must hand the plaintext to the policy pack inside the engine's secret wrapper, exactly
    as ``pulumi preview`` does, so the value is kept (privately) and only :meth:`reveal` returns it.
    """

    __slots__ = ("_value",)

    def __init__(self, value: object) -> None:
        self._value = value

    def reveal(self) -> object:
        """The wrapped value; only for serializing to the analyzer protocol."""
        return self._value

    def __repr__(self) -> str:
        return "[secret]"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash("[secret]")


class _Unknown:
    """The value of an output the engine does not know during preview."""

    _instance: _Unknown | None = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "[unknown]"

    __str__ = __repr__

    def __reduce__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Final = _Unknown()


@dataclass(frozen=True)
class ResourceReference:
    """A reference to another resource inside a property (the engine's resource sig)."""

    urn: str
    id: object = None  # str, UNKNOWN, or None for components
    package_version: str = ""


@dataclass(frozen=True)
class CustomTimeouts:
    """Custom timeouts in seconds (0 = not set), as the engine hands them to analyzers."""

    create: float = 0.0
    update: float = 0.0
    delete: float = 0.0


@dataclass(frozen=True)
class ResourceOptions:
    """The resource options the engine records for a registration."""

    protect: bool = False
    retain_on_delete: bool = False
    delete_before_replace: bool | None = None
    ignore_changes: tuple[str, ...] = ()
    replace_on_changes: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    custom_timeouts: CustomTimeouts = field(default_factory=CustomTimeouts)
    additional_secret_outputs: tuple[str, ...] = ()
    import_id: str = ""
    deleted_with: str = ""


@dataclass(frozen=True)
class PlannedResource:
    """One resource registration, in the form the engine would see it during ``pulumi preview``."""

    urn: str
    type: str
    name: str
    custom: bool
    parent: str | None
    #: provider reference ``<provider urn>::<id>`` for custom resources (None for components,
    #: providers themselves and the stack)
    provider: str | None
    inputs: Mapping[str, object]
    options: ResourceOptions = field(default_factory=ResourceOptions)
    dependencies: tuple[str, ...] = ()
    property_dependencies: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: providers map of a component (package -> provider reference)
    providers: Mapping[str, str] = field(default_factory=dict)
    #: the physical id; None when unknown (always, during preview)
    id: str | None = None
    #: outputs registered with ``register_outputs`` (components and the stack)
    outputs: Mapping[str, object] = field(default_factory=dict)
    version: str = ""
    plugin_download_url: str = ""
    #: True for resources the engine adds itself (default providers)
    synthetic: bool = False
    #: True for ``Resource.get``-style reads of existing resources
    external: bool = False
    #: ``path:line`` of the program code that constructed the resource ("" if unknown)
    source: str = ""

    @property
    def is_provider(self) -> bool:
        return self.type.startswith(PROVIDER_TYPE_PREFIX)

    @property
    def package(self) -> str:
        """The package that manages this type (``tencentcloud`` for ``tencentcloud:Dnspod/...``)."""
        if self.is_provider:
            return self.type[len(PROVIDER_TYPE_PREFIX) :]
        return self.type.split(":", 1)[0]

    @property
    def provider_urn(self) -> str | None:
        if not self.provider:
            return None
        return self.provider.rsplit("::", 1)[0]


@dataclass(frozen=True)
class Diagnostic:
    """A message the program logged (``pulumi.log``)."""

    severity: str
    message: str
    urn: str = ""


@dataclass(frozen=True)
class EnvRead:
    """The program read an environment variable that chooses placement (a region or zone)."""

    name: str
    #: whether the variable was set in the program's (minimised) environment
    present: bool
    #: ``path:line`` of the program code that read it (or that called the SDK code that did)
    location: str = ""


@dataclass(frozen=True)
class Plan:
    """Everything a preview of one stack would register, in registration order."""

    project: str
    stack: str
    resources: tuple[PlannedResource, ...]
    outputs: Mapping[str, object] = field(default_factory=dict)
    diagnostics: tuple[Diagnostic, ...] = ()
    #: the stack configuration the program ran with (secrets as :class:`Secret`)
    config: Mapping[str, object] = field(default_factory=dict)
    #: placement environment variables the program read (it would deploy where they say)
    env_reads: tuple[EnvRead, ...] = ()
    #: True for a run in update mode (mock ids, applies on ids run), False for a preview
    update_mode: bool = False

    def __iter__(self) -> Iterator[PlannedResource]:
        return iter(self.resources)

    def __len__(self) -> int:
        return len(self.resources)

    @functools.cached_property
    def _index(self) -> dict[str, PlannedResource]:
        return {r.urn: r for r in self.resources}

    def by_urn(self, urn: str) -> PlannedResource | None:
        return self._index.get(urn)

    def provider_of(self, resource: PlannedResource) -> PlannedResource | None:
        urn = resource.provider_urn
        return self.by_urn(urn) if urn else None

    def region_of(self, resource: PlannedResource) -> str | None:
        """The region of the provider that manages ``resource`` (its ``region`` input)."""
        return provider_region(self.provider_of(resource))

    def of_type(self, type_: str) -> list[PlannedResource]:
        return [r for r in self.resources if r.type == type_]


def provider_region(provider: PlannedResource | None) -> str | None:
    """The ``region`` input of a provider resource, if it is a known plain string."""
    if provider is None:
        return None
    region = provider.inputs.get("region")
    return region if isinstance(region, str) else None


class EngineError(Exception):
    """The program, its project or its configuration could not be run."""

    def __init__(self, message: str, where: str = "") -> None:
        self.where = where
        super().__init__(message)


class ProjectError(EngineError):
    """A missing or unreadable ``Pulumi.yaml`` or stack file."""


class ProgramError(EngineError):
    """The program failed (raised, exited non-zero, or logged an error)."""

    def __init__(self, message: str, where: str = "", traceback_tail: str = "") -> None:
        self.traceback_tail = traceback_tail
        super().__init__(message, where)


class DefaultProviderDisabledError(ProgramError):
    """A resource needs a default provider that ``pulumi:disable-default-providers`` denies."""
