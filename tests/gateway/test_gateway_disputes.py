"""Disputes end to end: signed Stripe dispute events through ``Gateway.handle_webhook``, in the
order webhooks really come in (any), against a payment made through the Stripe simulator."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from paygate import Money, PaymentSource
from paygate.testing import StripeSimulator
from paygate.testing.stripe._webhooks import stripe_signature

DAY = 86_400


def dispute_event(n: int, payment_id: str, dispute_id: str, created: int, won: bool) -> bytes:
    """``charge.dispute.created`` (open) or ``charge.dispute.closed`` (won) as Stripe sends
    it, ``created`` (Unix seconds) when it happened."""
    dispute = {
        "id": dispute_id, "object": "dispute", "amount": 2000, "currency": "eur",
        "charge": f"ch_{payment_id}", "payment_intent": payment_id, "reason": "fraudulent",
        "status": "won" if won else "needs_response", "metadata": {},
    }  # fmt: skip
    event = {
        "id": f"evt_dispute_{n}", "object": "event", "api_version": "2023-08-16",
        "created": created, "data": {"object": dispute}, "livemode": False,
        "type": "charge.dispute.closed" if won else "charge.dispute.created",
    }  # fmt: skip
    return json.dumps(event).encode()


def test_a_late_dispute_opening_does_not_reopen_a_dispute_won(
    make_gateway: Callable[..., Any], sim: StripeSimulator
) -> None:
    gw = make_gateway()
    paid = gw.purchase(Money("20.00", "EUR"), source=PaymentSource.token("pm_card_visa"),
                       reference="order-disputed")  # fmt: skip
    opened_at = int(time.time()) - 9 * DAY
    opened = dispute_event(1, paid.id, "dp_1", opened_at, won=False)
    won = dispute_event(2, paid.id, "dp_1", opened_at + 7 * DAY, won=True)
    second = dispute_event(3, paid.id, "dp_2", opened_at + 8 * DAY, won=False)

    def deliver(body: bytes) -> str:
        headers = {"Stripe-Signature": stripe_signature(sim.webhook_secret, body, int(time.time()))}
        [outcome] = gw.handle_webhook(headers, body)
        return str(outcome.result)

    assert deliver(won) == "applied"  # delivered first: the dispute is known, and won
    assert not gw.payment_record(paid.id).disputed
    assert deliver(opened) == "unchanged"  # the late opening is older: nothing reopens
    record = gw.payment_record(paid.id)
    assert not record.disputed and record.dispute_id == "dp_1"
    assert deliver(opened) == "duplicate"
    assert deliver(second) == "applied"  # a new dispute, later: it opens
    assert gw.payment_record(paid.id).disputed

    notes = [entry.note for entry in gw.audit_trail(paid.id)]
    assert notes[-3:] == [
        "chargeback reversed (dispute dp_1)",
        f"no change: older dispute event, not applied: chargeback opened (dispute dp_1); it "
        f"happened at {_iso(opened_at)}, before {_iso(opened_at + 7 * DAY)}",
        "chargeback opened (dispute dp_2)",
    ]
    assert gw.records.verify() is None  # the older event is in the chain, like any other


def _iso(unix: int) -> str:
    return datetime.fromtimestamp(unix, UTC).isoformat()
