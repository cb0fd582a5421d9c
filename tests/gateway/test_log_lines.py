"""Every line paygate logs names its provider first, so a service that talks to several (or
runs several gateways) can tell whose call a line is about, and no line carries a secret."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from tests.conftest import ADYEN_KEY, API_KEY

from paygate import Gateway, Money, PaymentSource, RetryPolicy
from paygate.errors import OutcomeUnknown, StoreUnavailable
from paygate.idempotency import MemoryStore
from paygate.testing import AdyenSimulator, Fault, StripeSimulator


class _GoneStore(MemoryStore):
    """An idempotency store that goes away for as long as ``gone`` is set."""

    gone = False

    def begin(self, key: str, fingerprint: str, *, lease_seconds: float) -> Any:
        if self.gone:
            raise ConnectionError("store unreachable")
        return super().begin(key, fingerprint, lease_seconds=lease_seconds)

    def complete(self, key: str, token: str, outcome: str) -> bool:
        if self.gone:
            raise ConnectionError("store unreachable")
        return super().complete(key, token, outcome)


def _stripe(sim: StripeSimulator, store: _GoneStore) -> tuple[Gateway, PaymentSource]:
    gw = Gateway.for_stripe(
        API_KEY, base_url=sim.url, webhook_secret=sim.webhook_secret, store=store,
        retry=RetryPolicy(max_attempts=2, initial_backoff=0.01, max_backoff=0.02),
    )  # fmt: skip
    return gw, PaymentSource.token("pm_card_visa")


def _adyen(sim: AdyenSimulator, store: _GoneStore) -> tuple[Gateway, PaymentSource]:
    gw = Gateway.for_adyen(
        ADYEN_KEY, merchant_account=sim.merchant_account, base_url=f"{sim.url}/v71",
        hmac_key=sim.hmac_key, store=store,
        retry=RetryPolicy(max_attempts=2, initial_backoff=0.01, max_backoff=0.02),
    )  # fmt: skip
    card = PaymentSource.card("4111111145551142", 3, 2030, "737", holder_name="J. Smith")
    return gw, card


@pytest.mark.parametrize("provider", ["stripe", "adyen"])
def test_every_log_line_names_its_provider_and_no_secret(
    provider: str,
    sim: StripeSimulator,
    adyen_sim: AdyenSimulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="paygate")
    store = _GoneStore()
    simulator: StripeSimulator | AdyenSimulator = sim if provider == "stripe" else adyen_sim
    gw, source = _stripe(sim, store) if provider == "stripe" else _adyen(adyen_sim, store)
    with gw:
        amount = Money("9.00", "EUR")
        gw.authorize(amount, source=source, reference="log-1", idempotency_key="log-key-1")
        gw.authorize(amount, source=source, reference="log-1", idempotency_key="log-key-1")
        store.gone = True
        with pytest.raises(StoreUnavailable):
            gw.authorize(amount, source=source, reference="log-2")
        store.gone = False
        simulator.inject(Fault.server_error(503), times=None)
        with pytest.raises(OutcomeUnknown):
            gw.authorize(amount, source=source, reference="log-3")
        gw.resolve_unknown(due_by=datetime.now(UTC) + timedelta(days=1))  # still failing
        simulator.clear_faults()

    lines = [r for r in caplog.records if r.name == "paygate"]
    said = {r.getMessage().split(":")[0] for r in lines}
    # A call, a replay, a store refusal, an unknown outcome and the check that repeated it.
    assert len(lines) >= 5, said
    assert any("replaying the stored outcome" in r.getMessage() for r in lines)
    assert any("store unavailable" in r.getMessage() for r in lines)
    for record in lines:
        text = record.getMessage()
        assert text.startswith(f"{provider} "), text
        # Its facts as extra= fields too, for a JSON formatter; the key only as its digest.
        assert getattr(record, "paygate_provider", None) == provider, text
        fields = {k: v for k, v in vars(record).items() if k.startswith("paygate_")}
        assert "log-key-1" not in text and "log-key-1" not in str(fields), text
        for secret in (API_KEY, ADYEN_KEY, "4111111145551142"):
            assert secret not in text, text
            assert secret not in str(fields), fields
