"""A configuration error never shows a secret: not in its text, its repr, its structured errors,
nor a log line that records it. Each error is provoked from the environment, a TOML file,
``Settings(...)`` and ``Gateway.from_settings()``, with secrets that are easy to find."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from paygate import AsyncGateway, Gateway, RetryPolicy, Settings
from paygate.config import StoreSettings
from paygate.errors import ConfigurationError

STRIPE_KEY = "sk_live_51SecretStripeKeyDoNotPrint"
WEBHOOK_SECRET = "whsec_SecretWebhookDoNotPrint"
ADYEN_KEY = "AQE_SecretAdyenKeyDoNotPrint"
HMAC_KEY = "5EC2E7C0FFEE5EC2E7C0FFEE5EC2E7C0"
DB_PASSWORD = "hunter2DbPasswordDoNotPrint"
SECRETS = (STRIPE_KEY, WEBHOOK_SECRET, ADYEN_KEY, HMAC_KEY, DB_PASSWORD)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("PAYGATE_"):
            monkeypatch.delenv(name)


def assert_secret_free(
    call: Callable[[], Any], caplog: pytest.LogCaptureFixture, match: str
) -> BaseException:
    """``call`` fails with an error naming ``match``; no secret is in anything about it, nor in
    the log line of a service that logs it with its traceback."""
    try:
        call()
    except (ValidationError, ValueError) as exc:
        logging.getLogger("service").exception("paygate configuration refused")
        error: BaseException = exc
    else:
        pytest.fail("the configuration was accepted")
    shown = [str(error), repr(error), caplog.text, *(r.getMessage() for r in caplog.records)]
    if isinstance(error, ValidationError):
        shown += [error.json(), repr(error.errors())]
    for chained in (error.__cause__, error.__context__):
        if chained is not None:
            shown += [str(chained), repr(chained)]
    for text in shown:
        for secret in SECRETS:
            assert secret not in text, f"{secret} in: {text}"
    assert match in str(error)
    return error


# -- the environment ---------------------------------------------------------------------------
ENVIRONMENTS: dict[str, tuple[dict[str, str], str]] = {
    "misspelled-api-key": (
        {"PAYGATE_PROVIDER": "stripe", "PAYGATE_STRIPE__API_KYE": STRIPE_KEY},
        "PAYGATE_STRIPE__API_KYE (TOML: api_kye in [stripe])",
    ),
    "misspelled-webhook-secret": (
        {
            "PAYGATE_PROVIDER": "stripe",
            "PAYGATE_STRIPE__API_KEY": STRIPE_KEY,
            "PAYGATE_STRIPE__WEBHOOK_SECRT": WEBHOOK_SECRET,
        },
        "PAYGATE_STRIPE__WEBHOOK_SECRT (TOML: webhook_secrt in [stripe])",
    ),
    "adyen-without-merchant-account": (
        {
            "PAYGATE_PROVIDER": "adyen",
            "PAYGATE_ADYEN__API_KEY": ADYEN_KEY,
            "PAYGATE_ADYEN__HMAC_KEY": HMAC_KEY,
        },
        "PAYGATE_ADYEN__MERCHANT_ACCOUNT (TOML: merchant_account in [adyen])",
    ),
    "store-url-without-scheme": (
        {
            "PAYGATE_PROVIDER": "stripe",
            "PAYGATE_STRIPE__API_KEY": STRIPE_KEY,
            "PAYGATE_STORE__URL": f"paygate:{DB_PASSWORD}@db.internal/paygate",
        },
        "unknown store URL scheme (none)",
    ),
    "store-url-scheme-typo": (
        {
            "PAYGATE_PROVIDER": "stripe",
            "PAYGATE_STRIPE__API_KEY": STRIPE_KEY,
            "PAYGATE_STORE__RECORDS_URL": f"postgresql//paygate:{DB_PASSWORD}@db/paygate",
        },
        "unknown store URL scheme (none)",
    ),
    "store-url-unknown-scheme": (
        {
            "PAYGATE_PROVIDER": "stripe",
            "PAYGATE_STRIPE__API_KEY": STRIPE_KEY,
            "PAYGATE_STORE__URL": f"mysql://paygate:{DB_PASSWORD}@db/paygate",
        },
        "unknown store URL scheme ('mysql')",
    ),
    "secret-in-a-policy": (
        {
            "PAYGATE_PROVIDER": "stripe",
            "PAYGATE_STRIPE__API_KEY": STRIPE_KEY,
            "PAYGATE_RETRY__MAX_ATTEMPTS": STRIPE_KEY,  # a pasting accident
        },
        "PAYGATE_RETRY__MAX_ATTEMPTS (TOML: max_attempts in [retry])",
    ),
    "secret-as-provider": ({"PAYGATE_PROVIDER": ADYEN_KEY}, "PAYGATE_PROVIDER (TOML: provider)"),
}


@pytest.mark.parametrize(("environment", "match"), ENVIRONMENTS.values(), ids=ENVIRONMENTS.keys())
@pytest.mark.parametrize(
    "load",
    [Settings.load, Gateway.from_settings, AsyncGateway.from_settings],
    ids=["Settings.load", "Gateway.from_settings", "AsyncGateway.from_settings"],
)
def test_an_environment_error_shows_no_secret(
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    environment: dict[str, str],
    match: str,
    load: Callable[[], Any],
) -> None:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    error = assert_secret_free(load, caplog, match)
    assert isinstance(error, ConfigurationError)  # one paygate error, whatever the mistake


# -- a TOML file -------------------------------------------------------------------------------
TOML_FILES: dict[str, tuple[str, str]] = {
    "misspelled-api-key": (f'provider = "stripe"\n[stripe]\napi_kye = "{STRIPE_KEY}"\n', "api_kye"),
    "adyen-without-merchant-account": (
        f'provider = "adyen"\n[adyen]\napi_key = "{ADYEN_KEY}"\nhmac_key = "{HMAC_KEY}"\n',
        "merchant_account in [adyen]",
    ),
    "store-url-without-scheme": (
        f'provider = "stripe"\n[stripe]\napi_key = "{STRIPE_KEY}"\n'
        f'[store]\nurl = "paygate:{DB_PASSWORD}@db/paygate"\n',
        "unknown store URL scheme",
    ),
}


@pytest.mark.parametrize(("content", "match"), TOML_FILES.values(), ids=TOML_FILES.keys())
def test_a_toml_file_error_shows_no_secret(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, content: str, match: str
) -> None:
    toml = tmp_path / "paygate.toml"
    toml.write_text(content)
    assert_secret_free(lambda: Settings.load(toml), caplog, match)
    assert_secret_free(lambda: Gateway.from_settings(toml_file=toml), caplog, match)


# -- Settings(...) and its parts, built directly ----------------------------------------------
DIRECT: dict[str, tuple[Callable[[], Any], str]] = {
    "adyen-without-merchant-account": (
        lambda: Settings(provider="adyen", adyen={"api_key": ADYEN_KEY, "hmac_key": HMAC_KEY}),
        "adyen.merchant_account",
    ),
    "misspelled-webhook-secret": (
        lambda: Settings(
            provider="stripe", stripe={"api_key": STRIPE_KEY, "webhok_secret": WEBHOOK_SECRET}
        ),
        "webhok_secret",
    ),
    "stripe-section-as-a-string": (
        lambda: Settings(provider="stripe", stripe=STRIPE_KEY),
        "stripe",
    ),
    "store-url": (
        lambda: StoreSettings(url=f"paygate:{DB_PASSWORD}@db/paygate"),
        "unknown store URL scheme",
    ),
    "policy": (lambda: RetryPolicy(max_attempts=STRIPE_KEY), "max_attempts"),
    "from-settings": (
        lambda: Gateway.from_settings(
            Settings(provider="stripe", stripe={"api_key": STRIPE_KEY, "base_url": 7})
        ),
        "stripe.base_url",
    ),
}


@pytest.mark.parametrize(("call", "match"), DIRECT.values(), ids=DIRECT.keys())
def test_a_settings_object_error_shows_no_secret(
    caplog: pytest.LogCaptureFixture, call: Callable[[], Any], match: str
) -> None:
    error = assert_secret_free(call, caplog, match)
    assert isinstance(error, ValidationError)
    assert all(e["input"] is None for e in error.errors())  # held nowhere, not only hidden


# -- what configuration shows when it is valid -------------------------------------------------
def test_store_urls_and_base_urls_are_shown_without_their_credentials(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'paygate.db'}"
    monkeypatch.setenv("PAYGATE_PROVIDER", "stripe")
    monkeypatch.setenv("PAYGATE_STRIPE__API_KEY", STRIPE_KEY)
    monkeypatch.setenv("PAYGATE_STRIPE__BASE_URL", f"https://paygate:{DB_PASSWORD}@proxy.internal")
    monkeypatch.setenv("PAYGATE_STORE__URL", url)
    monkeypatch.setenv("PAYGATE_STORE__BREAKER_URL", f"redis://:{DB_PASSWORD}@cache:6379/0")
    settings = Settings.load()
    shown = repr(settings) + str(settings) + repr(settings.store)
    assert url in shown and "redis://[redacted]@cache:6379/0" in shown
    with Gateway.for_stripe(STRIPE_KEY, base_url=f"https://u:{DB_PASSWORD}@proxy.internal") as gw:
        assert repr(gw.adapter).startswith(
            "paygate.adapters.stripe.StripeAdapter(base_url='https://[redacted]@proxy.internal'"
        )
        shown += repr(gw.adapter)
    for secret in SECRETS:
        assert secret not in shown
