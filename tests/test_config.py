"""Settings from the environment and TOML; every setting documented with its default."""

from __future__ import annotations

import asyncio
import re
import sys
from pathlib import Path

import pytest
from pydantic import BaseModel, ValidationError

from paygate import (
    AsyncGateway,
    Gateway,
    HttpPolicy,
    MemoryStore,
    RetryPolicy,
    Settings,
    SQLiteStore,
    Timeout,
)
from paygate.adapters.stripe import StripeAdapter
from paygate.errors import ConfigurationError

DOCS = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("PAYGATE_"):
            monkeypatch.delenv(name)


def test_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYGATE_PROVIDER", "stripe")
    monkeypatch.setenv("PAYGATE_STRIPE__API_KEY", "sk_test_env")
    monkeypatch.setenv("PAYGATE_STRIPE__BASE_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("PAYGATE_RETRY__MAX_ATTEMPTS", "5")
    monkeypatch.setenv("PAYGATE_BREAKER__FAILURE_THRESHOLD", "9")
    with Gateway.from_settings() as gw:
        assert isinstance(gw.adapter, StripeAdapter)
        assert gw.adapter.base_url == "http://127.0.0.1:9"
        assert gw._pipeline.retry == RetryPolicy(max_attempts=5)
        assert gw.breaker.policy.failure_threshold == 9
        assert isinstance(gw.store, MemoryStore)
        assert "sk_test_env" not in repr(Settings.load())


def test_from_toml_with_environment_winning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    toml = tmp_path / "paygate.toml"
    toml.write_text(
        'provider = "stripe"\n[stripe]\napi_key = "sk_test_toml"\n'
        f'[store]\nurl = "sqlite:///{tmp_path / "s.sqlite3"}"\n'
        "[retry]\nmax_attempts = 4\n[timeout]\ntotal = 20\n"
    )
    monkeypatch.setenv("PAYGATE_RETRY__MAX_ATTEMPTS", "6")
    settings = Settings.load(toml)
    assert settings.retry.max_attempts == 6 and settings.timeout.total == 20
    assert (
        settings.stripe is not None and settings.stripe.api_key.get_secret_value() == "sk_test_toml"
    )
    with Gateway.from_settings(settings) as gw:
        assert isinstance(gw.store, SQLiteStore)


def test_missing_provider_section_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYGATE_PROVIDER", "stripe")
    with pytest.raises(ConfigurationError, match="PAYGATE_STRIPE__API_KEY"):
        Settings.load()


def test_unknown_provider_and_bad_policies_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYGATE_PROVIDER", "paypal")
    with pytest.raises(ConfigurationError):
        Settings.load()
    with pytest.raises(ValidationError):
        RetryPolicy(max_attempts=0)


def test_missing_toml_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="is not there"):
        Settings.load(tmp_path / "absent.toml")


def test_lease_must_outlast_the_deadline() -> None:
    from paygate import IdempotencyPolicy, Timeout

    with pytest.raises(ConfigurationError, match="lease"):
        Gateway.for_stripe(
            "sk_test_x", timeout=Timeout(total=60), idempotency=IdempotencyPolicy(lease=30)
        )


def _settings_rows(model: type[BaseModel], prefix: str) -> list[tuple[str, str]]:
    rows = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            rows += _settings_rows(annotation, f"{prefix}{name.upper()}__")
        else:
            rows.append(
                (f"{prefix}{name.upper()}", "" if field.is_required() else str(field.default))
            )
    return rows


def test_every_setting_is_documented_with_its_default() -> None:
    from paygate.adapters.registry import provider_specs

    text = DOCS.read_text()
    rows = _settings_rows(Settings, "PAYGATE_")
    for spec in provider_specs():  # every provider's section, field by field
        rows += _settings_rows(spec.settings, f"PAYGATE_{spec.name.upper()}__")
    assert len(rows) > 20
    for env, default in rows:
        match = re.search(rf"^\| `{env}` \| ([^|]+) \|", text, re.MULTILINE)
        assert match, f"{env} is not in docs/configuration.md"
        if default:
            assert match.group(1).strip() == f"`{default}`", env


def test_adyen_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from paygate.adapters.adyen import AdyenAdapter

    monkeypatch.setenv("PAYGATE_PROVIDER", "adyen")
    monkeypatch.setenv("PAYGATE_ADYEN__API_KEY", "AQE_env_key")
    monkeypatch.setenv("PAYGATE_ADYEN__MERCHANT_ACCOUNT", "ShopECOM")
    monkeypatch.setenv("PAYGATE_ADYEN__HMAC_KEY", "44782DEF547AAA06C910C43932B1EB0C")
    with Gateway.from_settings() as gw:
        assert isinstance(gw.adapter, AdyenAdapter) and gw.provider == "adyen"
        shown = repr(Settings.load()) + repr(gw.adapter)
        assert "AQE_env_key" not in shown and "44782DEF547AAA06" not in shown


def test_an_hmac_key_with_whitespace_stops_a_gateway_built_from_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PAYGATE_PROVIDER", "adyen")
    monkeypatch.setenv("PAYGATE_ADYEN__API_KEY", "AQE_env_key")
    monkeypatch.setenv("PAYGATE_ADYEN__MERCHANT_ACCOUNT", "M")
    monkeypatch.setenv("PAYGATE_ADYEN__HMAC_KEY", "44782DEF547AAA06 C910C43932B1EB0C")
    with pytest.raises(ConfigurationError, match="whitespace") as refused:
        Gateway.from_settings()
    assert "44782DEF" not in str(refused.value)


def test_the_adapter_options_users_need_are_settings_and_constructor_arguments(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from paygate.adapters.adyen import AdyenAdapter
    from paygate.adapters.stripe import StripeAdapter

    monkeypatch.setenv("PAYGATE_PROVIDER", "stripe")
    monkeypatch.setenv("PAYGATE_STRIPE__API_KEY", "sk_test_env")
    monkeypatch.setenv("PAYGATE_STRIPE__WEBHOOK_TOLERANCE", "60")
    monkeypatch.setenv("PAYGATE_ADYEN__API_KEY", "AQE_env_key")
    monkeypatch.setenv("PAYGATE_ADYEN__MERCHANT_ACCOUNT", "ShopECOM")
    monkeypatch.setenv("PAYGATE_ADYEN__RETURN_URL", "https://shop.example/back")
    with Gateway.from_settings() as gw:
        assert isinstance(gw.adapter, StripeAdapter) and gw.adapter.webhook_tolerance == 60.0
    monkeypatch.setenv("PAYGATE_PROVIDER", "adyen")
    with Gateway.from_settings() as gw:
        assert isinstance(gw.adapter, AdyenAdapter)
        assert gw.adapter.return_url == "https://shop.example/back"
    with Gateway.for_stripe("sk_test_x", webhook_tolerance=5) as gw:
        assert isinstance(gw.adapter, StripeAdapter) and gw.adapter.webhook_tolerance == 5.0
        assert not gw.adapter.capabilities.raw_card_data  # raw card numbers: off by default
    with Gateway.for_stripe("sk_test_x", raw_card_data=True) as gw:
        assert gw.adapter.capabilities.raw_card_data
    monkeypatch.setenv("PAYGATE_PROVIDER", "stripe")
    monkeypatch.setenv("PAYGATE_STRIPE__RAW_CARD_DATA", "true")
    with Gateway.from_settings() as gw:
        assert isinstance(gw.adapter, StripeAdapter) and gw.adapter.capabilities.raw_card_data
    monkeypatch.delenv("PAYGATE_STRIPE__RAW_CARD_DATA")
    with Gateway.for_adyen("AQE_x", merchant_account="M", return_url="https://s.example/r") as gw:
        assert (
            isinstance(gw.adapter, AdyenAdapter) and gw.adapter.return_url == "https://s.example/r"
        )

    for wrong in ("-7.5", "infinity", "soonish"):
        monkeypatch.setenv("PAYGATE_PROVIDER", "stripe")
        monkeypatch.setenv("PAYGATE_STRIPE__WEBHOOK_TOLERANCE", wrong)
        with pytest.raises(ConfigurationError, match="PAYGATE_STRIPE__WEBHOOK_TOLERANCE") as bad:
            Settings.load()
        assert wrong not in str(bad.value).replace("PAYGATE_STRIPE", "")


def test_adyen_without_its_merchant_account_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PAYGATE_PROVIDER", "adyen")
    with pytest.raises(ConfigurationError, match="PAYGATE_ADYEN__MERCHANT_ACCOUNT"):
        Settings.load()


def test_stores_are_chosen_by_url_per_family(tmp_path: Path) -> None:
    from paygate.config import StoreSettings
    from paygate.records import MemoryRecordStore, SQLiteRecordStore

    shared = StoreSettings(url=f"sqlite:///{tmp_path / 'one.db'}")
    idem, records = shared.open(), shared.open_records()
    assert isinstance(idem, SQLiteStore) and isinstance(records, SQLiteRecordStore)
    assert idem.path == records.path == tmp_path / "one.db"
    assert shared.open_breaker_state("stripe") is None  # only Redis shares breaker state
    idem.close()
    records.close()
    split = StoreSettings(url="memory://", records_url=f"sqlite:///{tmp_path / 'r.db'}")
    assert isinstance(split.open(), MemoryStore)
    opened = split.open_records()
    assert isinstance(opened, SQLiteRecordStore)
    opened.close()
    assert isinstance(StoreSettings().open_records(), MemoryRecordStore)


def test_a_store_that_cannot_hold_a_family_is_refused_at_start_up() -> None:
    from paygate.config import StoreSettings

    with pytest.raises(ValueError, match="Redis cannot hold payment records"):
        StoreSettings(url="redis://127.0.0.1:6379/0").open_records()
    with pytest.raises(ValidationError, match="unknown store URL scheme"):
        StoreSettings(url="mongodb://x")


def test_the_http_backend_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYGATE_PROVIDER", "stripe")
    monkeypatch.setenv("PAYGATE_STRIPE__API_KEY", "sk_test_env")
    assert Settings.load().http == HttpPolicy(backend="auto")
    monkeypatch.setenv("PAYGATE_HTTP__BACKEND", "httpx")
    gw = AsyncGateway.from_settings()
    assert gw._pipeline.http.backend == "httpx"
    asyncio.run(gw.aclose())
    monkeypatch.setenv("PAYGATE_HTTP__BACKEND", "curl")
    with pytest.raises(
        ConfigurationError, match=r"PAYGATE_HTTP__BACKEND \(TOML: backend in \[http\]\)"
    ) as refused:
        Settings.load()
    assert "curl" not in str(refused.value)  # the value given is never repeated


@pytest.mark.parametrize(
    ("variable", "url", "extra", "driver"),
    [
        ("PAYGATE_STORE__URL", "postgresql://paygate@db.internal/paygate", "postgres", "psycopg"),
        ("PAYGATE_STORE__IDEMPOTENCY_URL", "redis://cache:6379/0", "redis", "redis"),
        ("PAYGATE_STORE__BREAKER_URL", "redis://cache:6379/0", "redis", "redis"),
    ],
)
def test_a_store_whose_extra_is_missing_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, variable: str, url: str, extra: str, driver: str
) -> None:
    monkeypatch.setitem(sys.modules, driver, None)  # as if the extra were not installed
    monkeypatch.setenv("PAYGATE_PROVIDER", "stripe")
    monkeypatch.setenv("PAYGATE_STRIPE__API_KEY", "sk_test_env")
    monkeypatch.setenv(variable, url)
    with pytest.raises(ConfigurationError, match=rf"pip install 'paygate\[{extra}\]'"):
        Gateway.from_settings()


def test_paygate_db_without_the_postgres_extra_says_which_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from typer.testing import CliRunner

    from paygate.cli import app

    monkeypatch.setitem(sys.modules, "psycopg", None)
    result = CliRunner().invoke(app, ["db", "status", "--url", "postgresql://paygate@db/x"])
    assert result.exit_code == 1
    assert "pip install 'paygate[postgres]'" in result.output and "Traceback" not in result.output


def test_a_misspelled_group_is_named_with_the_nearest_real_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PAYGATE_PROVIDER", "stripe")
    monkeypatch.setenv("PAYGATE_STRIPE__API_KEY", "sk_test_env")
    monkeypatch.setenv("PAYGATE_TIMEOUTS__READ", "1")
    with pytest.warns(UserWarning, match="did you mean PAYGATE_TIMEOUT__READ"):
        settings = Settings.load()
    assert settings.timeout.read == Timeout().read  # ignored, as the warning says
