"""The pytest plugin, installed by its pytest11 entry point: a user's test file that names only
its fixtures runs, with no conftest and no set-up code, in a fresh pytest process."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

USER_TESTS = """
import pytest

from paygate import Gateway, Money, PaymentSource, PaymentStatus
from paygate.errors import CardDeclinedError, DeclineReason
from paygate.testing import Fault


def test_stripe_fixtures(paygate_stripe_gateway, paygate_stripe_sim):
    paid = paygate_stripe_gateway.purchase(
        Money("10.00", "EUR"), source=PaymentSource.token("pm_card_visa"), reference="order-1")
    assert paid.status is PaymentStatus.CAPTURED
    assert len(paygate_stripe_sim.payment_intents(reference="order-1")) == 1


def test_adyen_fixtures(paygate_adyen_gateway, paygate_adyen_sim):
    assert paygate_adyen_gateway.provider == "adyen"
    assert paygate_adyen_sim.payments() == []  # reset for every test


def test_both_providers(paygate_provider, paygate_gateway, paygate_sources,
                        paygate_deliver_webhooks):
    placed = paygate_gateway.authorize(Money("20.00", "EUR"), source=paygate_sources.approved,
                                       reference="order-2")
    paygate_gateway.capture(placed.id)
    paygate_deliver_webhooks()
    assert paygate_gateway.retrieve(placed.id).status is PaymentStatus.CAPTURED
    with pytest.raises(CardDeclinedError) as declined:
        paygate_gateway.authorize(Money("5.00", "EUR"),
                                  source=paygate_sources.insufficient_funds, reference="order-3")
    assert declined.value.reason is DeclineReason.INSUFFICIENT_FUNDS


def test_a_lost_answer_charges_once(paygate_gateway, paygate_sim, paygate_sources,
                                    paygate_inject):
    paygate_inject(Fault.timeout_after_commit(hold=1.0), method="POST")
    paid = paygate_gateway.purchase(Money("7.00", "EUR"), source=paygate_sources.approved,
                                    reference="order-4")
    assert paid.status is PaymentStatus.CAPTURED
    assert paygate_sim.request_count(method="POST") == 2  # retried once, under the same key


@pytest.mark.parametrize("paygate_provider", ["adyen"])
def test_one_provider_from_settings(paygate_env):
    with Gateway.from_settings() as gw:
        assert gw.provider == "adyen"


@pytest.mark.asyncio
async def test_stripe_async_gateway(paygate_stripe_async_gateway, paygate_stripe_sim):
    paid = await paygate_stripe_async_gateway.purchase(
        Money("11.00", "EUR"), source=PaymentSource.token("pm_card_visa"), reference="order-5")
    assert paid.status is PaymentStatus.CAPTURED
    assert len(paygate_stripe_sim.payment_intents(reference="order-5")) == 1


@pytest.mark.asyncio
async def test_async_gateway_on_both(paygate_async_gateway, paygate_sources):
    placed = await paygate_async_gateway.authorize(
        Money("12.00", "EUR"), source=paygate_sources.approved, reference="order-6")
    assert placed.status is PaymentStatus.AUTHORIZED
"""

# The plugin's gateways take their options from one fixture a conftest.py can override.
USER_CONFTEST = """
import pytest

from paygate import RetryPolicy


@pytest.fixture
def paygate_gateway_options():
    return {"retry": RetryPolicy(max_attempts=1)}
"""

OVERRIDDEN = """
import pytest

from paygate import Money, PaymentSource
from paygate.errors import OutcomeUnknown
from paygate.testing import Fault


def test_one_attempt_as_the_conftest_says(paygate_stripe_gateway, paygate_stripe_sim):
    paygate_stripe_sim.inject(Fault.server_error(503), times=1, method="POST")
    with pytest.raises(OutcomeUnknown):  # the plugin's own options would have retried it
        paygate_stripe_gateway.authorize(
            Money("10.00", "EUR"), source=PaymentSource.token("pm_card_visa"), reference="o-1")
    assert paygate_stripe_sim.request_count(method="POST") == 1
"""


def _pytest(where: Path, *files: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *files],
        cwd=where,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_user_test_file_runs_on_the_plugin_fixtures_alone(tmp_path: Path) -> None:
    (tmp_path / "test_service.py").write_text(textwrap.dedent(USER_TESTS), encoding="utf-8")
    done = _pytest(tmp_path, "test_service.py")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "10 passed" in done.stdout, done.stdout


def test_a_conftest_changes_the_options_of_the_plugins_gateways(tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text(textwrap.dedent(USER_CONFTEST), encoding="utf-8")
    (tmp_path / "test_options.py").write_text(textwrap.dedent(OVERRIDDEN), encoding="utf-8")
    done = _pytest(tmp_path, "test_options.py")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout, done.stdout


def test_the_plugin_is_registered_by_entry_point() -> None:
    from importlib.metadata import entry_points

    [plugin] = [e for e in entry_points(group="pytest11") if e.name == "paygate"]
    assert plugin.value == "paygate.testing.pytest_plugin"
