"""What a developer sees when they print or log paygate's objects: one short line each, with
what identifies the thing, and no secret."""

from __future__ import annotations

import asyncio

import pytest

from paygate import AsyncGateway, Gateway, Money, PaymentSource
from paygate.errors import OutcomeUnknown
from paygate.testing import Fault, StripeSimulator

KEY = "sk_test_51PaygateReprKey00000000000000"
VISA = PaymentSource.token("pm_card_visa")


def test_a_payment_prints_as_its_short_line(sim: StripeSimulator) -> None:
    with Gateway.for_stripe(KEY, base_url=sim.url) as gw:
        paid = gw.purchase(Money("10.00", "EUR"), source=VISA, reference="o-print")
        refund = gw.refund(paid.id, amount=Money("2.50", "EUR"))
    assert str(paid) == repr(paid)
    assert str(paid) == (
        f"paygate.Payment(id={paid.id!r}, provider='stripe', status=captured, amount=EUR 10.00, "
        "captured=EUR 10.00, refunded=EUR 0.00, reference='o-print')"
    )
    assert str(refund) == repr(refund) and "amount=EUR 2.50" in str(refund)


def test_a_gateway_shows_its_provider_and_address_never_its_key(sim: StripeSimulator) -> None:
    url = sim.url.replace("http://", "http://user:db-password@")
    gw = Gateway.for_stripe(KEY, base_url=url)
    agw = AsyncGateway.for_stripe(KEY, base_url=url)
    try:
        for gateway, name in ((gw, "Gateway"), (agw, "AsyncGateway")):
            shown = repr(gateway)
            assert shown.startswith(f"paygate.{name}(paygate.adapters.stripe.StripeAdapter(")
            assert "[redacted]@127.0.0.1" in shown and "\n" not in shown
            assert KEY not in shown and "db-password" not in shown
    finally:
        gw.close()
        asyncio.run(agw.aclose())


def test_a_payment_record_is_one_line_with_what_moved_and_what_is_unknown(
    sim: StripeSimulator,
) -> None:
    with Gateway.for_stripe(KEY, base_url=sim.url) as gw:
        paid = gw.purchase(Money("10.00", "EUR"), source=VISA, reference="o-rec")
        gw.refund(paid.id, amount=Money("2.50", "EUR"))
        sim.inject(Fault.server_error(503), times=5, method="POST")
        with pytest.raises(OutcomeUnknown):  # the record keeps it as an unknown outcome
            gw.refund(paid.id, amount=Money("1.00", "EUR"), reference="o-rec-r2")
        record = gw.payment_record(paid.id)
    assert record is not None
    shown = repr(record)
    assert str(record) == shown and len(shown) < 170 and "\n" not in shown
    assert shown.startswith(f"paygate.PaymentRecord({record.record_id}, stripe {paid.id}, ")
    assert "partially_refunded, EUR 10.00, captured 10.00, refunded 2.50, 1 unknown)" in shown
