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
"""


def test_a_user_test_file_runs_on_the_plugin_fixtures_alone(tmp_path: Path) -> None:
    (tmp_path / "test_service.py").write_text(textwrap.dedent(USER_TESTS), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_service.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "7 passed" in done.stdout, done.stdout


def test_the_plugin_is_registered_by_entry_point() -> None:
    from importlib.metadata import entry_points

    [plugin] = [e for e in entry_points(group="pytest11") if e.name == "paygate"]
    assert plugin.value == "paygate.testing.pytest_plugin"
