"""The proof that a provider is two packages: Toypay (``tests/toy_provider``: an adapter and a
simulator on the neutral simulator server) is registered with ``register_provider`` and, with
no file outside its package naming it, gets settings, ``for_provider``, ``from_settings``,
the ``paygate`` command, the error guide, the contract suite and the pytest plugin's
fixtures."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from paygate import (
    AsyncGateway,
    Gateway,
    Money,
    PaymentSource,
    PaymentStatus,
    ProviderSpec,
    RetryPolicy,
    Settings,
    register_provider,
    unregister_provider,
)
from paygate.adapters.registry import provider_names
from paygate.cli import _error_guide as guide
from paygate.cli import app
from paygate.errors import CardDeclinedError, ConfigurationError, DeclineReason
from paygate.testing._contract_scenarios import SCENARIOS
from paygate.testing.contract import Target, adapter_named, run_scenario

TESTS = Path(__file__).resolve().parent
KEY = "tp_test_SecretToyKeyDoNotPrint"


@pytest.fixture
def toy(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """Toypay registered for the test (and forgotten after it); no PAYGATE_* variables."""
    for name in [n for n in os.environ if n.startswith("PAYGATE_")]:
        monkeypatch.delenv(name)
    monkeypatch.syspath_prepend(str(TESTS))
    import toy_provider

    register_provider(toy_provider.SPEC)
    yield toy_provider
    unregister_provider("toypay")


@pytest.fixture
def toy_sim(toy: ModuleType) -> Iterator[object]:
    with adapter_named("toypay").simulator() as sim:
        yield sim


def test_settings_and_from_settings_reach_it(
    toy: ModuleType, toy_sim: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in adapter_named("toypay").settings_env(toy_sim).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("PAYGATE_TOYPAY__API_KEY", KEY)
    settings = Settings.load()
    section = settings.section("toypay")
    assert isinstance(section, toy.adapter.ToySettings)
    assert section.api_key == SecretStr(KEY) and KEY not in repr(settings)
    with Gateway.from_settings() as gw:
        assert gw.provider == "toypay"
        paid = gw.purchase(
            Money("12.00", "EUR"), source=PaymentSource.token("tok_ok"), reference="order-1"
        )
        assert paid.status is PaymentStatus.CAPTURED
        assert gw.retrieve(paid.id).amount_captured == Money("12.00", "EUR")


def test_a_misspelled_setting_names_the_section_and_shows_no_secret(
    toy: ModuleType, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("PAYGATE_PROVIDER", "toypay")
    monkeypatch.setenv("PAYGATE_TOYPAY__API_KYE", KEY)
    with pytest.raises(ConfigurationError) as refused:
        Settings.load()
    logging.getLogger("service").error("refused", exc_info=refused.value)
    shown = str(refused.value) + repr(refused.value) + caplog.text
    assert "PAYGATE_TOYPAY__API_KYE (TOML: api_kye in [toypay])" in shown and KEY not in shown


def test_an_unregistered_provider_is_refused_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYGATE_PROVIDER", "toypay")
    with pytest.raises(
        ConfigurationError,
        match=r"PAYGATE_PROVIDER \(TOML: provider\): not a registered provider; registered: stripe",
    ):
        Settings.load()


async def test_for_provider_builds_both_gateways(toy: ModuleType, toy_sim: object) -> None:
    options = adapter_named("toypay").sim_options(toy_sim)
    with Gateway.for_provider("toypay", **options, retry=RetryPolicy(max_attempts=2)) as gw:
        assert isinstance(gw.adapter, toy.adapter.ToyAdapter)
        assert gw._pipeline.retry == RetryPolicy(max_attempts=2)
        with pytest.raises(CardDeclinedError) as declined:
            gw.authorize(
                Money("5.00", "EUR"), source=PaymentSource.token("tok_no_funds"), reference="o-2"
            )
        assert declined.value.reason is DeclineReason.INSUFFICIENT_FUNDS
    async with AsyncGateway.for_provider("toypay", **options) as agw:
        placed = await agw.authorize(
            Money("700", "JPY"), source=PaymentSource.token("tok_ok"), reference="o-3"
        )
        assert (await agw.capture(placed.id)).status is PaymentStatus.CAPTURED


def test_the_contract_suite_runs_what_its_capabilities_allow(
    toy: ModuleType, toy_sim: object
) -> None:
    entry = adapter_named("toypay")
    results = {s.name: run_scenario(entry, Target.SIM, s.name, s.run, toy_sim) for s in SCENARIOS}
    failed = {name: r.detail for name, r in results.items() if r.result == "failed"}
    assert failed == {}
    skipped = {name for name, r in results.items() if r.result == "skipped"}
    assert skipped == {
        "authorize_partial_capture",  # partial_capture=False
        "three_ds_required",  # no 3-D Secure source
        "three_ds_passed",
        "three_ds_purchase",
        "three_ds_in_page",
        "three_ds_failed",
        "three_ds_abandoned",
        "three_ds_frictionless",
        "redirect_completed",  # no redirect method
        "redirect_refused",
        "redirect_abandoned",
        "three_decimal",  # no three-decimal currency
        "webhook_confirmation",  # no webhooks
    }
    assert results["refunds"].result == "passed"
    assert results["fault_timeout_after_commit"].result == "passed"  # charged once


def test_the_command_knows_it(toy: ModuleType) -> None:
    runner = CliRunner()
    run = runner.invoke(app, ["contract", "--provider", "toypay", "--scenario", "purchase"])
    assert run.exit_code == 0, run.output
    assert "contract: toypay on sim (1/1)" in run.output
    errors = runner.invoke(app, ["errors", "--provider", "toypay"])
    assert errors.exit_code == 0 and "Toypay: provider codes" in errors.output
    assert "error.reason=insufficient_funds" in errors.output
    unknown = runner.invoke(app, ["sandbox", "serve", "--provider", "paypal"])
    assert unknown.exit_code == 2 and "toypay" in unknown.output


def test_the_error_guide_has_its_section_while_registered(toy: ModuleType) -> None:
    assert "## Toypay" in guide.render_markdown()
    unregister_provider("toypay")
    try:
        assert "## Toypay" not in guide.render_markdown()
        assert "toypay" not in provider_names()
    finally:
        register_provider(toy.SPEC)


def test_registration_refuses_what_would_be_ambiguous(toy: ModuleType) -> None:
    with pytest.raises(ValueError, match="already registered"):
        register_provider(toy.SPEC.__class__(**{**_fields(toy.SPEC)}))
    register_provider(toy.SPEC)  # the same spec again: nothing changes
    with pytest.raises(ValueError, match="the settings' own"):
        register_provider(ProviderSpec(**{**_fields(toy.SPEC), "name": "retry"}))
    with pytest.raises(ValueError, match="lower-case"):
        ProviderSpec(**{**_fields(toy.SPEC), "name": "Toy-Pay"})
    with pytest.raises(TypeError, match="no keyword argument merchant_account"):
        ProviderSpec(**{**_fields(toy.SPEC), "settings": _adyen_settings()})


def _fields(spec: ProviderSpec) -> dict[str, object]:
    return {name: getattr(spec, name) for name in ProviderSpec.__dataclass_fields__}


def _adyen_settings() -> type:
    from paygate.adapters.adyen import AdyenSettings

    return AdyenSettings


PLUGIN_CONFTEST = """
import sys

sys.path.insert(0, {tests!r})

import toy_provider
from paygate import register_provider

register_provider(toy_provider.SPEC)
"""

PLUGIN_TESTS = """
from paygate import Money, PaymentSource, PaymentStatus


def test_named_fixtures(paygate_toypay_gateway, paygate_toypay_sim):
    paid = paygate_toypay_gateway.purchase(
        Money("3.00", "EUR"), source=PaymentSource.token("tok_ok"), reference="order-9")
    assert paid.status is PaymentStatus.CAPTURED
    assert len(paygate_toypay_sim.payments("order-9")) == 1


def test_every_provider(paygate_provider, paygate_gateway, paygate_sources, paygate_env):
    placed = paygate_gateway.authorize(
        Money("20.00", "EUR"), source=paygate_sources.approved, reference="order-10")
    assert placed.status is PaymentStatus.AUTHORIZED
    assert paygate_env["PAYGATE_PROVIDER"] == paygate_provider
"""


def test_the_pytest_plugin_gives_it_fixtures(tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text(PLUGIN_CONFTEST.format(tests=str(TESTS)))
    (tmp_path / "test_toy.py").write_text(textwrap.dedent(PLUGIN_TESTS))
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-v", "-p", "no:cacheprovider", "test_toy.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "4 passed" in done.stdout, done.stdout
    assert "test_every_provider[toypay] PASSED" in done.stdout, done.stdout
