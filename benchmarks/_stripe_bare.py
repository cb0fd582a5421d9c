"""The Stripe authorize the bare httpx contenders send by hand: the form paygate's adapter
builds for the same call, and the headers it carries."""

from __future__ import annotations

from paygate.adapters.stripe import API_VERSION


def authorize_form(reference: str) -> dict[str, str]:
    """A manual-capture PaymentIntent for EUR 12.34 with the test card, confirmed at once."""
    return {
        "amount": "1234",
        "currency": "eur",
        "confirm": "true",
        "capture_method": "manual",
        "payment_method_types[0]": "card",
        "metadata[reference]": reference,
        "expand[0]": "latest_charge",
        "payment_method": "pm_card_visa",
    }


def headers(api_key: str, idempotency_key: str) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {api_key}",
        "Stripe-Version": API_VERSION,
        "Idempotency-Key": idempotency_key,
    }
