"""The provider registry: a provider's name → its ``ProviderSpec``.

Settings (``PAYGATE_PROVIDER``, the ``PAYGATE_<NAME>__...`` sections), the gateways'
``for_provider`` and ``from_settings``, the ``paygate`` command's ``--provider``, the pytest
plugin's fixtures, the contract suite and the error guide all iterate over this registry, so a
new provider is two packages (its adapter, its simulator) and one spec, and nothing else.

Stripe and Adyen are registered by the registry itself, then every ``ProviderSpec`` named by an
installed package's ``paygate.providers`` entry point, on the first look-up. Code registers one
more with ``register_provider(spec)``; see ``docs/writing-an-adapter.md``.
"""

from __future__ import annotations

import importlib
import inspect
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, Final

from paygate._sections import SettingsSection
from paygate.adapters.base import Adapter
from paygate.errors import DeclineReason, ErrorCode, RetryAdvice
from paygate.models import Operation

if TYPE_CHECKING:
    from paygate.testing.contract import ContractAdapter

__all__ = [
    "ENTRY_POINT_GROUP",
    "ProviderErrorTables",
    "ProviderSettings",
    "ProviderSpec",
    "provider_names",
    "provider_spec",
    "provider_specs",
    "register_provider",
    "unregister_provider",
]

ENTRY_POINT_GROUP: Final = "paygate.providers"
# The built-in providers, in the order everything lists them; each package exports ``SPEC``.
_BUILT_IN: Final = ("paygate.adapters.stripe", "paygate.adapters.adyen")
_NAME: Final = re.compile(r"[a-z][a-z0-9_]*")


class ProviderSettings(SettingsSection):
    """A provider's settings section (``[stripe]``, ``PAYGATE_STRIPE__...``): one field per
    keyword argument of the provider's adapter, defaults taken from the adapter's constants.
    Credentials are ``SecretStr``."""


@dataclass(frozen=True, slots=True)
class ProviderErrorTables:
    """One provider's error mapping tables, as the error guide (``docs/errors.md``, ``paygate
    errors``) renders them.

    ``name`` is the provider as the guide titles it; ``*_field`` name the provider's own
    fields, for the headings. ``operation_overrides`` are codes whose normalized code depends
    on the operation; ``status_codes`` normalize HTTP statuses whose error object names no code
    of its own.
    """

    name: str
    type_field: str
    code_field: str
    decline_field: str
    advice_field: str
    error_types: Mapping[str, ErrorCode]
    error_codes: Mapping[str, ErrorCode]
    code_reasons: Mapping[str, DeclineReason]
    decline_codes: Mapping[str, DeclineReason]
    advice_codes: Mapping[str, RetryAdvice]
    reason_advice: Mapping[DeclineReason, RetryAdvice]
    operation_overrides: Mapping[str, Mapping[Operation, ErrorCode]]
    status_codes: Mapping[int, ErrorCode]


@dataclass(frozen=True, slots=True)
class ProviderSpec:
    """Everything paygate needs to know about one provider.

    - ``name``: lower-case, as in ``PAYGATE_PROVIDER`` and ``--provider``; the settings
      section is ``PAYGATE_<NAME>__...`` (``[name]`` in TOML).
    - ``adapter``: builds the adapter from keyword arguments (the adapter class itself).
    - ``settings``: its ``ProviderSettings`` section; every field is a keyword argument of
      ``adapter``, so ``adapter(**section)`` is the adapter the settings describe.
    - ``error_tables``: its code tables, for the error guide.
    - ``testing``: returns its contract-suite entry (``paygate.testing.contract.
      ContractAdapter``: the simulator class, how to reach it and the sandbox, its test
      payment sources). Called only by test tooling, so the runtime never imports the
      simulator: import it inside the function.
    """

    name: str
    adapter: Callable[..., Adapter]
    settings: type[ProviderSettings]
    error_tables: ProviderErrorTables
    testing: Callable[[], ContractAdapter[Any]]

    def __post_init__(self) -> None:
        if not _NAME.fullmatch(self.name):
            raise ValueError(
                "a provider name is lower-case letters, digits and underscores, starting "
                f"with a letter, not {self.name!r}"
            )
        if not (isinstance(self.settings, type) and issubclass(self.settings, ProviderSettings)):
            raise TypeError(f"{self.name}: settings must be a ProviderSettings subclass")
        takes = self.adapter_parameters()
        extra = [field for field in self.settings.model_fields if field not in takes]
        if extra:
            raise TypeError(
                f"{self.name}: the adapter takes no keyword argument {', '.join(extra)} "
                "named by its settings section"
            )

    def adapter_parameters(self) -> frozenset[str]:
        """The keyword arguments the adapter factory takes."""
        return frozenset(
            name
            for name, parameter in inspect.signature(self.adapter).parameters.items()
            if parameter.kind in (parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY)
        )

    def adapter_from(self, section: ProviderSettings) -> Adapter:
        """The adapter a settings section describes."""
        return self.adapter(**dict(section))


class _Registry:
    """The registered specs by name; the built-ins and the entry points are added on the
    first look-up (not at import: the adapter packages import this module)."""

    def __init__(self) -> None:
        self._specs: dict[str, ProviderSpec] = {}
        self._loaded = False

    def specs(self) -> dict[str, ProviderSpec]:
        if not self._loaded:
            found = [importlib.import_module(module).SPEC for module in _BUILT_IN]
            for point in entry_points(group=ENTRY_POINT_GROUP):
                spec = point.load()
                if not isinstance(spec, ProviderSpec):
                    raise TypeError(
                        f"entry point {point.name} = {point.value} ({ENTRY_POINT_GROUP}) "
                        f"names a {type(spec).__name__}, not a ProviderSpec"
                    )
                found.append(spec)
            for spec in found:
                self.add(spec, replace=False)
            self._loaded = True
        return self._specs

    def add(self, spec: ProviderSpec, *, replace: bool) -> None:
        current = self._specs.get(spec.name)
        if current is not None and current is not spec and not replace:
            raise ValueError(f"a provider named {spec.name!r} is already registered")
        self._specs[spec.name] = spec


_REGISTRY: Final = _Registry()


def register_provider(spec: ProviderSpec, *, replace: bool = False) -> None:
    """Register a provider: from now on settings, ``for_provider``, ``from_settings``, the
    ``paygate`` command, the pytest plugin, the contract suite and the error guide know it.

    A name already registered is refused unless ``replace``; a name that is a settings table
    of its own (``store``, ``retry``, ...) is always refused.
    """
    if not isinstance(spec, ProviderSpec):
        raise TypeError(f"register a ProviderSpec, not a {type(spec).__name__}")
    from paygate.config import Settings  # noqa: PLC0415 - config imports this module

    if spec.name in Settings.model_fields or hasattr(Settings, spec.name):
        raise ValueError(f"{spec.name!r} is a name of the settings' own, not a provider's")
    _REGISTRY.specs()
    _REGISTRY.add(spec, replace=replace)


def unregister_provider(name: str) -> ProviderSpec:
    """Forget a provider (a test's, say); returns its spec. ``KeyError`` if none is named so."""
    spec = provider_spec(name)
    del _REGISTRY.specs()[name]
    return spec


def provider_spec(name: str) -> ProviderSpec:
    """The spec of the provider called ``name``; ``KeyError`` naming the known ones."""
    specs = _REGISTRY.specs()
    if name not in specs:
        raise KeyError(f"no provider {name!r}; registered: {', '.join(specs)}")
    return specs[name]


def provider_specs() -> tuple[ProviderSpec, ...]:
    """Every registered provider: the built-ins first, then in the order registered."""
    return tuple(_REGISTRY.specs().values())


def provider_names() -> tuple[str, ...]:
    return tuple(_REGISTRY.specs())
