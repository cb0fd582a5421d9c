"""What every provider simulator hands a test for one webhook it would send."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["WebhookDelivery"]


@dataclass(frozen=True, slots=True, repr=False)
class WebhookDelivery:
    """One webhook delivery as the provider would POST it: deliver ``body`` (the exact bytes,
    signed) with ``headers`` to the handler under test. ``event_type`` is the provider's name
    for the event (``payment_intent.succeeded``, ``CAPTURE``); ``payment_id`` the provider's
    payment id it concerns, when it concerns one."""

    headers: dict[str, str]
    body: bytes
    event_type: str
    payment_id: str | None

    def __repr__(self) -> str:
        return (
            f"paygate.testing.WebhookDelivery({self.event_type}, payment_id={self.payment_id!r}, "
            f"{len(self.body)} bytes)"
        )
