"""Settings: the provider and its credentials, the stores and every policy, from ``PAYGATE_*``
environment variables and/or a TOML file (environment wins). Nested fields use ``__``:
``PAYGATE_PROVIDER=stripe``, ``PAYGATE_STRIPE__API_KEY=sk_test_...``,
``PAYGATE_RETRY__MAX_ATTEMPTS=5``. Credentials are ``SecretStr``: masked in every repr.

Settings that do not validate raise ``ConfigurationError`` from ``Settings.load`` (and so from
``Gateway.from_settings``), naming each setting as its environment variable and TOML key and
neither showing nor holding the value given (``_quiet.QuietModel``, the base of every model
here and of the policies, keeps pydantic's own errors as quiet): a misspelled
``PAYGATE_STRIPE__API_KYE`` must not print the key it holds. Store URLs carry database
passwords, so their reprs and messages leave out what precedes the host.
"""

from __future__ import annotations

import difflib
import os
import warnings
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pydantic import (
    BaseModel,
    Field,
    ModelWrapValidatorHandler,
    ValidationError,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_core import InitErrorDetails
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from paygate._quiet import QuietModel, quiet_details
from paygate._sections import SettingsSection
from paygate._stores import open_breaker_state, open_idempotency, open_records, scheme
from paygate.adapters.adyen import AdyenSettings
from paygate.adapters.registry import ProviderSettings, provider_names, provider_spec
from paygate.adapters.stripe import StripeSettings
from paygate.errors import ConfigurationError
from paygate.idempotency import IdempotencyStore
from paygate.records import RecordStore
from paygate.resilience.breaker import StateBackend
from paygate.resilience.policies import (
    BreakerPolicy,
    BulkheadPolicy,
    HttpPolicy,
    IdempotencyPolicy,
    JanitorPolicy,
    LimitsPolicy,
    ReattemptPolicy,
    RetryPolicy,
    Timeout,
)

# StripeSettings and AdyenSettings live with their adapters; they are named here as before.
__all__ = ["AdyenSettings", "Settings", "StoreSettings", "StripeSettings", "gateway_options"]


class StoreSettings(SettingsSection):
    url: str = Field(
        default="memory://",
        description="every store family's default: memory://, sqlite:///FILE, "
        "postgresql://..., redis://...",
    )
    idempotency_url: str | None = Field(
        default=None, description="idempotency keys and outcomes, if not at url"
    )
    records_url: str | None = Field(
        default=None, description="payment records and audit trails (not Redis), if not at url"
    )
    breaker_url: str | None = Field(
        default=None, description="shared circuit-breaker state (Redis only), if not at url"
    )

    @model_validator(mode="after")
    def _known_schemes(self) -> StoreSettings:
        for url in (self.url, self.idempotency_url, self.records_url, self.breaker_url):
            if url is not None:
                scheme(url)
        return self

    def open(self) -> IdempotencyStore:
        with self._named("idempotency_url"):
            return open_idempotency(self.idempotency_url or self.url)

    def open_records(self) -> RecordStore:
        with self._named("records_url"):
            return open_records(self.records_url or self.url)

    def open_breaker_state(self, provider: str) -> StateBackend | None:
        with self._named("breaker_url"):
            return open_breaker_state(self.breaker_url or self.url, provider)

    @contextmanager
    def _named(self, field: str) -> Iterator[None]:
        """A store's refusal of its URL (a database that does not exist, a schema behind),
        named by the setting that holds the URL."""
        used = field if getattr(self, field) is not None else "url"
        try:
            yield
        except ConfigurationError as exc:
            raise ConfigurationError(f"{_setting_name(('store', used))}: {exc.message}") from None


class Settings(QuietModel, BaseSettings):
    """Everything a gateway needs, named in configuration so service code never changes.

    ``provider`` is a registered provider's name; its section (``PAYGATE_<NAME>__...``,
    ``[name]`` in TOML) is ``settings.section(name)`` (and ``settings.<name>``). Every
    registered provider's section is validated when given, by that provider's settings model.
    """

    model_config = SettingsConfigDict(
        env_prefix="PAYGATE_", env_nested_delimiter="__", extra="allow", frozen=True
    )

    provider: str = Field(description="which provider the gateway talks to")
    store: StoreSettings = StoreSettings()
    timeout: Timeout = Timeout()
    retry: RetryPolicy = RetryPolicy()
    breaker: BreakerPolicy = BreakerPolicy()
    bulkhead: BulkheadPolicy = BulkheadPolicy()
    reattempts: ReattemptPolicy = ReattemptPolicy()
    idempotency: IdempotencyPolicy = IdempotencyPolicy()
    limits: LimitsPolicy = LimitsPolicy()
    http: HttpPolicy = HttpPolicy()
    janitor: JanitorPolicy = JanitorPolicy()  # ``paygate janitor``'s schedule (not the gateway's)

    @model_validator(mode="wrap")
    @classmethod
    def _provider_sections(
        cls, data: Any, handler: ModelWrapValidatorHandler[Settings]
    ) -> Settings:
        """Validate each registered provider's section by its own model, and the rest as
        fields; a key that is neither is refused. Every error is reported, none with its
        input."""
        if not isinstance(data, Mapping):
            return handler(data)
        names = provider_names()
        errors: list[InitErrorDetails] = []
        sections: dict[str, ProviderSettings] = {}
        for name in names:
            value = data.get(name)
            if value is None:
                continue
            try:
                sections[name] = provider_spec(name).settings.model_validate(value)
            except ValidationError as exc:
                errors += quiet_details(exc, (name,))
        fields = {key: value for key, value in data.items() if key not in names}
        errors += [
            InitErrorDetails(type="extra_forbidden", loc=(key,), input=None)
            for key in fields
            if key not in cls.model_fields
        ]
        settings: Settings | None = None
        try:
            settings = handler({k: v for k, v in fields.items() if k in cls.model_fields})
        except ValidationError as exc:
            errors = quiet_details(exc) + errors
        if settings is not None:
            given = {name for name in names if data.get(name) is not None}
            errors += _provider_error(settings.provider, given)
        if errors or settings is None:
            raise ValidationError.from_exception_data(cls.__name__, errors, hide_input=True)
        assert settings.__pydantic_extra__ is not None  # extra="allow"
        settings.__pydantic_extra__.update(sections)
        return settings

    def section(self, name: str) -> ProviderSettings | None:
        """The settings section of provider ``name``; None when it was not given."""
        section = (self.__pydantic_extra__ or {}).get(name)
        return section if isinstance(section, ProviderSettings) else None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (
            init_settings,
            env_settings,
            _ProviderSectionsSource(settings_cls),
            TomlConfigSettingsSource(settings_cls),
        )

    @classmethod
    def load(cls, toml_file: str | Path | None = None) -> Settings:
        """Settings from the environment, over ``toml_file`` when one is given.

        ``ConfigurationError`` names every problem at once, each setting as its environment
        variable and its TOML key, and never a value given. A ``PAYGATE_<GROUP>__...`` variable
        whose group is no setting's is ignored with a warning that names the nearest one."""
        _warn_unknown_groups()
        if toml_file is None:
            return _validated(cls)
        path = Path(toml_file)
        if not path.is_file():
            raise ConfigurationError(
                f"the paygate settings file {path} is not there: give the path of a TOML file, "
                "or leave toml_file out to read PAYGATE_* environment variables only"
            )
        bound = type(
            cls.__name__, (cls,), {"model_config": {**cls.model_config, "toml_file": path}}
        )
        return _validated(bound)


def _validated(model: type[Settings]) -> Settings:
    try:
        return model()
    except ValidationError as exc:
        problems = [
            _problem(error["loc"], error["msg"].removeprefix("Value error, "))
            for error in exc.errors(include_input=False, include_url=False)
        ]
        raise ConfigurationError("paygate settings are not valid: " + "; ".join(problems)) from None


def _problem(loc: tuple[int | str, ...], message: str) -> str:
    """One problem, named by its setting; a problem of no one setting is its message alone
    (the message names the settings)."""
    return f"{_setting_name(loc)}: {message}" if loc else message


def _setting_name(loc: tuple[int | str, ...]) -> str:
    """A setting's environment variable and TOML key (``PAYGATE_STRIPE__API_KEY``, ``api_key``
    in ``[stripe]``)."""
    parts = [str(part) for part in loc]
    variable = "PAYGATE_" + "__".join(part.upper() for part in parts)
    if len(parts) == 1 and parts[0] in _groups():  # a group's own rule (its URLs agree...)
        return f"{variable}__* (TOML: [{parts[0]}])"
    if len(parts) == 1:
        return f"{variable} (TOML: {parts[0]})"
    return f"{variable} (TOML: {'.'.join(parts[1:])} in [{parts[0]}])"


def _groups() -> set[str]:
    """The names of the settings' groups: a policy or store section, or a provider's."""
    sections = {
        name
        for name, field in Settings.model_fields.items()
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel)
    }
    return sections | set(provider_names())


def _warn_unknown_groups() -> None:
    """Warn of ``PAYGATE_<GROUP>__<FIELD>`` variables whose group is no setting's: pydantic
    reads only the groups it knows, so a misspelled one would be ignored without a word."""
    groups = {name.upper() for name in _groups()}
    for name in sorted(os.environ):
        upper = name.upper()
        if not upper.startswith("PAYGATE_") or "__" not in upper:
            continue
        group, _, field = upper.removeprefix("PAYGATE_").partition("__")
        if group in groups:
            continue
        near = difflib.get_close_matches(group, sorted(groups), n=1)
        hint = f"; did you mean PAYGATE_{near[0]}__{field}?" if near else ""
        warnings.warn(
            f"{name} is not a paygate setting (there is no group {group}) and is ignored{hint}",
            stacklevel=3,
        )


def _provider_error(provider: str, given: Collection[str]) -> list[InitErrorDetails]:
    """The error of a provider that is not registered, or whose section is not ``given`` (the
    message names the registered providers, or the variables to set; never the value). A
    section given but not valid has had its own errors named."""
    names = provider_names()
    if provider not in names:
        message = f"not a registered provider; registered: {', '.join(names)}"
        return [_value_error(("provider",), message)]
    if provider in given:
        return []
    spec = provider_spec(provider)
    upper = provider.upper()
    needed = " and ".join(
        f"PAYGATE_{upper}__{field.upper()}"
        for field, info in spec.settings.model_fields.items()
        if info.is_required()
    )
    message = (
        f"provider is {provider!r} but its section is missing: set {needed} "
        f"(or [{provider}] in the TOML file)"
    )
    return [_value_error((), message)]


def _value_error(loc: tuple[str, ...], message: str) -> InitErrorDetails:
    return InitErrorDetails(type="value_error", loc=loc, input=None, ctx={"error": message})


class _ProviderSectionsSource(PydanticBaseSettingsSource):
    """Every registered provider's section from the environment: ``PAYGATE_<NAME>__<FIELD>``
    (names in any case, as pydantic-settings reads the others)."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # sections are not fields: read whole, in __call__

    def __call__(self) -> dict[str, Any]:
        prefix = str(self.config.get("env_prefix", "")).upper()
        environ = {name.upper(): value for name, value in os.environ.items()}
        found: dict[str, Any] = {}
        for provider in provider_names():
            start = f"{prefix}{provider.upper()}__"
            section = {
                name.removeprefix(start).lower(): value
                for name, value in environ.items()
                if name.startswith(start)
            }
            if section:
                found[provider] = section
        return found


def gateway_options(settings: Settings) -> dict[str, Any]:
    """The constructor arguments of a gateway described by ``settings``."""
    section = settings.section(settings.provider)
    assert section is not None  # a provider without its section does not validate
    return {
        "adapter": provider_spec(settings.provider).adapter_from(section),
        "store": settings.store.open(),
        "records": settings.store.open_records(),
        "breaker_state": settings.store.open_breaker_state(settings.provider),
        "timeout": settings.timeout,
        "retry": settings.retry,
        "breaker": settings.breaker,
        "bulkhead": settings.bulkhead,
        "reattempts": settings.reattempts,
        "idempotency": settings.idempotency,
        "limits": settings.limits,
        "http": settings.http,
    }
