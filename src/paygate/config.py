"""Settings: the provider and its credentials, the stores and every policy, from ``PAYGATE_*``
environment variables and/or a TOML file (environment wins). Nested fields use ``__``:
``PAYGATE_PROVIDER=stripe``, ``PAYGATE_STRIPE__API_KEY=sk_test_...``,
``PAYGATE_RETRY__MAX_ATTEMPTS=5``. Credentials are ``SecretStr``: masked in every repr.

A setting that does not validate raises pydantic's ``ValidationError``, which names the setting
and neither shows nor holds the value given (``_quiet.QuietModel``, the base of every model
here and of the policies): a misspelled ``PAYGATE_STRIPE__API_KYE`` must not print the key it
holds. Store URLs carry database passwords, so their reprs and messages leave out what
precedes the host.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final, Literal

from pydantic import ConfigDict, Field, SecretStr, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from paygate._quiet import QuietModel
from paygate._redaction import url_without_credentials
from paygate._stores import open_breaker_state, open_idempotency, open_records, scheme
from paygate.adapters.adyen import AdyenAdapter
from paygate.adapters.base import Adapter
from paygate.adapters.stripe import StripeAdapter
from paygate.idempotency import IdempotencyStore
from paygate.records import RecordStore
from paygate.resilience.breaker import StateBackend
from paygate.resilience.policies import (
    BreakerPolicy,
    BulkheadPolicy,
    IdempotencyPolicy,
    LimitsPolicy,
    RetryPolicy,
    Timeout,
)

__all__ = ["AdyenSettings", "Settings", "StoreSettings", "StripeSettings", "gateway_options"]


class _Section(QuietModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    def __repr__(self) -> str:
        # A URL may carry a user name and password (a database, a proxy): never shown.
        shown = (
            (name, url_without_credentials(value) if name.endswith("url") and value else value)
            for name, value in self
        )
        return f"{type(self).__name__}({', '.join(f'{n}={v!r}' for n, v in shown)})"


class StripeSettings(_Section):
    api_key: SecretStr = Field(description="secret key, sk_test_... or sk_live_...")
    base_url: str = Field(default="https://api.stripe.com", description="API base address")
    api_version: str = Field(default="2023-08-16", description="Stripe-Version sent and pinned")
    webhook_secret: SecretStr | None = Field(default=None, description="whsec_... signing secret")


class AdyenSettings(_Section):
    api_key: SecretStr = Field(description="API key of the web-service user (X-API-Key)")
    merchant_account: str = Field(description="merchant account every request is made for")
    base_url: str = Field(
        default="https://checkout-test.adyen.com/v71",
        description="Checkout API base address, version included",
    )
    hmac_key: SecretStr | None = Field(
        default=None, description="hex HMAC key that signs the standard webhooks"
    )


class StoreSettings(_Section):
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
        return open_idempotency(self.idempotency_url or self.url)

    def open_records(self) -> RecordStore:
        return open_records(self.records_url or self.url)

    def open_breaker_state(self, provider: str) -> StateBackend | None:
        return open_breaker_state(self.breaker_url or self.url, provider)


class Settings(QuietModel, BaseSettings):
    """Everything a gateway needs, named in configuration so service code never changes."""

    model_config = SettingsConfigDict(
        env_prefix="PAYGATE_", env_nested_delimiter="__", extra="forbid", frozen=True
    )

    provider: Literal["stripe", "adyen"] = Field(description="which provider the gateway talks to")
    stripe: StripeSettings | None = None
    adyen: AdyenSettings | None = None
    store: StoreSettings = StoreSettings()
    timeout: Timeout = Timeout()
    retry: RetryPolicy = RetryPolicy()
    breaker: BreakerPolicy = BreakerPolicy()
    bulkhead: BulkheadPolicy = BulkheadPolicy()
    idempotency: IdempotencyPolicy = IdempotencyPolicy()
    limits: LimitsPolicy = LimitsPolicy()

    @model_validator(mode="after")
    def _provider_configured(self) -> Settings:
        if getattr(self, self.provider) is None:
            upper = self.provider.upper()
            needed = f"PAYGATE_{upper}__API_KEY"
            if self.provider == "adyen":
                needed += f" and PAYGATE_{upper}__MERCHANT_ACCOUNT"
            raise ValueError(
                f"provider is {self.provider!r} but its section is missing: set "
                f"{needed} (or [{self.provider}] in the TOML file)"
            )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))

    @classmethod
    def load(cls, toml_file: str | Path | None = None) -> Settings:
        """Settings from the environment, over ``toml_file`` when one is given."""
        if toml_file is None:
            return cls()
        path = Path(toml_file)
        if not path.is_file():
            raise FileNotFoundError(f"paygate settings file not found: {path}")
        bound = type(
            cls.__name__, (cls,), {"model_config": {**cls.model_config, "toml_file": path}}
        )
        loaded: Settings = bound()
        return loaded


def _stripe(settings: Settings) -> Adapter:
    assert settings.stripe is not None
    section = settings.stripe
    return StripeAdapter(
        section.api_key,
        base_url=section.base_url,
        api_version=section.api_version,
        webhook_secret=section.webhook_secret,
    )


def _adyen(settings: Settings) -> Adapter:
    assert settings.adyen is not None
    section = settings.adyen
    return AdyenAdapter(
        section.api_key,
        merchant_account=section.merchant_account,
        base_url=section.base_url,
        hmac_key=section.hmac_key,
    )


ADAPTER_FACTORIES: Final[Mapping[str, Callable[[Settings], Adapter]]] = {
    "stripe": _stripe,
    "adyen": _adyen,
}


def gateway_options(settings: Settings) -> dict[str, Any]:
    """The constructor arguments of a gateway described by ``settings``."""
    return {
        "adapter": ADAPTER_FACTORIES[settings.provider](settings),
        "store": settings.store.open(),
        "records": settings.store.open_records(),
        "breaker_state": settings.store.open_breaker_state(settings.provider),
        "timeout": settings.timeout,
        "retry": settings.retry,
        "breaker": settings.breaker,
        "bulkhead": settings.bulkhead,
        "idempotency": settings.idempotency,
        "limits": settings.limits,
    }
