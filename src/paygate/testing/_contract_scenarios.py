"""The contract scenarios: each talks only to ``Gateway`` (through a ``Contract``), and is
the same for every adapter. ``SCENARIOS`` lists them in the order they run."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from paygate import ActionKind, BrowserInfo, Money, Payment, PaymentSource, PaymentStatus
from paygate.errors import (
    CardDeclinedError,
    DeclineReason,
    ErrorCode,
    IdempotencyConflict,
    OutcomeUnknown,
    TerminalError,
)
from paygate.models import Operation
from paygate.testing.contract import Contract, ScenarioSkipped
from paygate.testing.faults import Fault

__all__ = ["SCENARIOS", "Scenario"]

S = PaymentStatus
Run = Callable[[Contract], None]
EUR = "EUR"


def _eur(amount: str) -> Money:
    return Money(amount, EUR)


def _check(c: Contract, payment: Payment, status: PaymentStatus) -> Payment:
    """Retrieve after a step: the payment must read back with ``status`` and the same id."""
    assert payment.status is status or payment.pending is not None, payment
    settled = c.settled(payment)
    again = c.gateway.retrieve(payment.id)
    assert again.id == payment.id == settled.id
    assert again.status is status, f"retrieve says {again.status}, expected {status}"
    return again


def _authorize(c: Contract, name: str, amount: Money) -> Payment:
    payment = c.gateway.authorize(amount, source=c.sources.approved, reference=c.ref(name))
    assert payment.amount_authorized == amount and payment.reference == c.ref(name)
    return _check(c, payment, S.AUTHORIZED)


# -- the happy paths ------------------------------------------------------------------------------
def authorize_full_capture(c: Contract) -> None:
    placed = _authorize(c, "full-capture", _eur("25.00"))
    captured = _check(c, c.gateway.capture(placed.id), S.CAPTURED)
    assert captured.amount_captured == _eur("25.00")


def authorize_partial_capture(c: Contract) -> None:
    c.require(c.capabilities.partial_capture, "partial capture")
    placed = _authorize(c, "partial-capture", _eur("25.00"))
    captured = c.gateway.capture(placed.id, amount=_eur("10.00"))
    after = _check(c, captured, S.PARTIALLY_CAPTURED)
    assert after.amount_captured == _eur("10.00")


def purchase(c: Contract) -> None:
    c.require(Operation.PURCHASE in c.capabilities.operations, "purchase")
    paid = c.gateway.purchase(_eur("12.34"), source=c.sources.approved, reference=c.ref("buy"))
    after = _check(c, paid, S.CAPTURED)
    assert after.amount_captured == _eur("12.34")


def authorize_void(c: Contract) -> None:
    c.require(Operation.VOID in c.capabilities.operations, "void")
    placed = _authorize(c, "void", _eur("15.00"))
    _check(c, c.gateway.void(placed.id), S.VOIDED)


def refunds(c: Contract) -> None:
    offered = c.capabilities.partial_refund and c.capabilities.multiple_refunds
    c.require(offered, "partial and multiple refunds")
    placed = _authorize(c, "refunds", _eur("50.00"))
    _check(c, c.gateway.capture(placed.id), S.CAPTURED)
    first = c.gateway.refund(placed.id, amount=_eur("20.00"), reference=c.ref("refund-1"))
    assert first.amount == _eur("20.00") and first.payment_id == placed.id
    c.confirm()
    after = _check(c, c.gateway.retrieve(placed.id), S.PARTIALLY_REFUNDED)
    assert after.amount_refunded == _eur("20.00")
    second = c.gateway.refund(placed.id, amount=_eur("25.00"), reference=c.ref("refund-2"))
    assert second.amount == _eur("25.00") and second.id != first.id
    c.confirm()
    after = _check(c, c.gateway.retrieve(placed.id), S.PARTIALLY_REFUNDED)
    assert after.amount_refunded == _eur("45.00")
    refused = c.raises(
        TerminalError,
        lambda: c.gateway.refund(placed.id, amount=_eur("10.00"), reference=c.ref("refund-3")),
    )
    assert refused.code is ErrorCode.AMOUNT_EXCEEDS_REFUNDABLE, refused
    after = _check(c, c.gateway.retrieve(placed.id), S.PARTIALLY_REFUNDED)
    assert after.amount_refunded == _eur("45.00")


# -- declines and 3-D Secure ----------------------------------------------------------------------
def _decline(source: Callable[[Contract], PaymentSource], reason: DeclineReason) -> Run:
    def run(c: Contract) -> None:
        declined = c.raises(
            CardDeclinedError,
            lambda: c.gateway.authorize(
                _eur("10.00"), source=source(c), reference=c.ref(f"decline-{reason.value}")
            ),
        )
        assert declined.code is ErrorCode.CARD_DECLINED, declined
        assert declined.reason is reason, f"reason {declined.reason}, expected {reason}"
        assert not declined.retriable

    return run


RETURN_URL: Final = "https://shop.example/checkout/return"


def _awaiting_shopper(c: Contract, name: str, *, purchase: bool = False) -> Payment:
    """A payment with a card that needs 3-D Secure: ``requires_action``, with a redirect to
    send the shopper on, readable by the id it came back with."""
    source = c.sources.three_ds
    if source is None:
        raise ScenarioSkipped(f"{c.adapter.name} does not offer 3-D Secure")
    pay = c.gateway.purchase if purchase else c.gateway.authorize
    payment = pay(_eur("30.00"), source=source, reference=c.ref(name), return_url=RETURN_URL)
    assert payment.status is S.REQUIRES_ACTION, payment
    assert payment.next_action is not None and payment.next_action.redirect_url, payment
    assert c.gateway.retrieve(payment.id).status is S.REQUIRES_ACTION
    return payment


def _shopper(c: Contract, payment: Payment, *, passed: bool) -> dict[str, str]:
    """The shopper on the page ``next_action`` names (the simulator plays them: on a sandbox
    a person would)."""
    sim = c.simulator
    if sim is None:
        raise ScenarioSkipped("needs a shopper to authenticate: runs on the sim target only")
    assert payment.next_action is not None
    return sim.authenticate(payment.next_action, passed=passed)


def three_ds_required(c: Contract) -> None:
    _awaiting_shopper(c, "3ds")


def three_ds_passed(c: Contract) -> None:
    payment = _awaiting_shopper(c, "3ds-passed")
    details = _shopper(c, payment, passed=True)
    done = c.gateway.complete_action(payment.id, details=details)
    assert done.status is S.AUTHORIZED and done.amount_authorized == _eur("30.00"), done
    assert done.reference == c.ref("3ds-passed")
    again = c.gateway.complete_action(payment.id, details=details)
    assert (again.id, again.status) == (done.id, done.status)  # a repeat replays it
    captured = _check(c, c.gateway.capture(done.id), S.CAPTURED)
    assert captured.amount_captured == _eur("30.00")
    assert c.charges(c.ref("3ds-passed")) == 1


def three_ds_purchase_passed(c: Contract) -> None:
    payment = _awaiting_shopper(c, "3ds-purchase", purchase=True)
    done = c.gateway.complete_action(payment.id, details=_shopper(c, payment, passed=True))
    _check(c, done, S.CAPTURED)


BROWSER: Final = BrowserInfo(
    user_agent="Mozilla/5.0 (contract)", accept_header="text/html", language="en-GB",
    color_depth=24, screen_height=900, screen_width=1440, time_zone_offset=0,
)  # fmt: skip


def three_ds_in_page(c: Contract) -> None:
    """With the shopper's browser: 3-D Secure in the page where the provider runs it so
    (Adyen: a device fingerprint, then a challenge, each handed back through complete_action),
    a redirect or Stripe.js where it does not. Every step is requires_action until the last."""
    source = c.sources.three_ds
    if source is None:
        raise ScenarioSkipped(f"{c.adapter.name} does not offer 3-D Secure")
    payment = c.gateway.authorize(
        _eur("30.00"), source=source, reference=c.ref("3ds-page"), return_url=RETURN_URL,
        browser=BROWSER,
    )  # fmt: skip
    steps = 0
    while payment.status is S.REQUIRES_ACTION:
        steps += 1
        assert steps <= 3, payment
        payment = c.gateway.complete_action(payment.id, details=_shopper(c, payment, passed=True))
    assert payment.status is S.AUTHORIZED and payment.reference == c.ref("3ds-page"), payment
    assert c.charges(c.ref("3ds-page")) == 1


def three_ds_frictionless(c: Contract) -> None:
    """A card whose issuer authenticates it without the shopper: authorized with no challenge
    (Stripe at once; Adyen in the page after the device fingerprint, which the front end
    hands back with no one asked anything)."""
    source = c.sources.three_ds_frictionless
    if source is None:
        raise ScenarioSkipped(f"{c.adapter.name} has no frictionless 3-D Secure test card")
    payment = c.gateway.authorize(
        _eur("30.00"), source=source, reference=c.ref("3ds-frictionless"),
        return_url=RETURN_URL, browser=BROWSER,
    )  # fmt: skip
    if payment.status is S.REQUIRES_ACTION:
        action = payment.next_action
        assert action is not None and action.subtype != "challenge", action
        payment = c.gateway.complete_action(payment.id, details=_shopper(c, payment, passed=True))
    assert payment.status is S.AUTHORIZED, payment  # one step at most: no challenge
    assert payment.amount_authorized == _eur("30.00"), payment
    _check(c, payment, S.AUTHORIZED)
    assert c.charges(c.ref("3ds-frictionless")) == 1


def three_ds_failed(c: Contract) -> None:
    payment = _awaiting_shopper(c, "3ds-failed")
    details = _shopper(c, payment, passed=False)
    declined = c.raises(
        CardDeclinedError, lambda: c.gateway.complete_action(payment.id, details=details)
    )
    assert declined.reason is DeclineReason.AUTHENTICATION_REQUIRED, declined
    record = c.gateway.payment_record(payment.id)
    assert record is not None and record.status is S.FAILED, record


def three_ds_abandoned(c: Contract) -> None:
    """The shopper never comes back: the payment stays requires_action, cannot be captured,
    and is voided (Stripe) or left to expire (Adyen, which has not named it)."""
    payment = _awaiting_shopper(c, "3ds-abandoned")
    refused = c.raises(TerminalError, lambda: c.gateway.capture(payment.id))
    assert refused.code is ErrorCode.INVALID_STATE, refused
    if payment.id.startswith("pr_"):
        return  # the provider has not named it: nothing to void, it expires
    voided = c.gateway.void(payment.id)
    assert voided.status in {S.VOIDED, S.PENDING}, voided


def _sent_to_bank(c: Contract, name: str) -> Payment:
    """A redirect-method purchase (iDEAL): ``requires_action``, sending the shopper to their
    bank by the address in ``next_action``."""
    source = c.sources.redirect
    if source is None:
        raise ScenarioSkipped(f"{c.adapter.name} has no redirect payment method")
    payment = c.gateway.purchase(
        _eur("25.00"), source=source, reference=c.ref(name), return_url=RETURN_URL
    )
    assert payment.status is S.REQUIRES_ACTION, payment
    action = payment.next_action
    assert action is not None and action.kind is ActionKind.REDIRECT, action
    assert action.redirect_url and action.method == "GET", action
    return payment


def redirect_completed(c: Contract) -> None:
    """The shopper approves at their bank and comes back: the purchase is captured, once."""
    payment = _sent_to_bank(c, "redirect")
    details = _shopper(c, payment, passed=True)
    done = c.gateway.complete_action(payment.id, details=details)
    assert done.status is S.CAPTURED and done.amount_captured == _eur("25.00"), done
    again = c.gateway.complete_action(done.id, details=details)
    assert (again.id, again.status) == (done.id, done.status)  # a repeat replays it
    _check(c, done, S.CAPTURED)
    assert c.charges(c.ref("redirect")) == 1


def redirect_refused(c: Contract) -> None:
    """The shopper does not approve at their bank: a decline, the record failed, nothing
    charged."""
    payment = _sent_to_bank(c, "redirect-refused")
    details = _shopper(c, payment, passed=False)
    declined = c.raises(
        CardDeclinedError, lambda: c.gateway.complete_action(payment.id, details=details)
    )
    assert declined.reason is DeclineReason.GENERIC, declined
    record = c.gateway.payment_record(payment.id)
    assert record is not None and record.status is S.FAILED, record
    assert not record.amount_captured.is_positive, record


def redirect_abandoned(c: Contract) -> None:
    """The shopper never comes back from their bank: the purchase stays requires_action,
    is listed as awaiting them, and is voided (Stripe) or left to expire (Adyen, which has
    not named it)."""
    payment = _sent_to_bank(c, "redirect-abandoned")
    waiting = c.gateway.payments_awaiting_action()
    assert payment.id in {record.payment_id or record.record_id for record in waiting}, waiting
    if payment.id.startswith("pr_"):
        return  # the provider has not named it: nothing to void, it expires
    voided = c.gateway.void(payment.id)
    assert voided.status in {S.VOIDED, S.PENDING}, voided


# -- currencies -----------------------------------------------------------------------------------
def zero_decimal(c: Contract) -> None:
    c.require("JPY" in c.capabilities.currencies, "JPY")
    placed = _authorize(c, "jpy", Money("500", "JPY"))
    captured = _check(c, c.gateway.capture(placed.id), S.CAPTURED)
    assert captured.amount_captured == Money("500", "JPY")


def three_decimal(c: Contract) -> None:
    amount = c.adapter.three_decimal
    if amount is None:
        raise ScenarioSkipped(f"{c.adapter.name} takes no three-decimal currency")
    placed = _authorize(c, "three-decimal", amount)
    captured = _check(c, c.gateway.capture(placed.id), S.CAPTURED)
    assert captured.amount_captured == amount


# -- idempotency ----------------------------------------------------------------------------------
def idempotent_replay(c: Contract) -> None:
    key = c.ref("replay-key")
    first = c.gateway.authorize(
        _eur("8.00"), source=c.sources.approved, reference=c.ref("replay"), idempotency_key=key
    )
    again = c.gateway.authorize(
        _eur("8.00"), source=c.sources.approved, reference=c.ref("replay"), idempotency_key=key
    )
    assert again.id == first.id and again.status is first.status
    assert c.gateway.retrieve(first.id).status is S.AUTHORIZED
    if c.simulator is not None:
        assert c.charges(c.ref("replay")) == 1


def key_reuse_refused(c: Contract) -> None:
    key = c.ref("reuse-key")
    c.gateway.authorize(
        _eur("8.00"), source=c.sources.approved, reference=c.ref("reuse"), idempotency_key=key
    )
    c.raises(
        IdempotencyConflict,
        lambda: c.gateway.authorize(
            _eur("9.00"), source=c.sources.approved, reference=c.ref("reuse"), idempotency_key=key
        ),
    )
    if c.simulator is not None:
        assert c.charges(c.ref("reuse")) == 1


# -- webhooks -------------------------------------------------------------------------------------
def webhook_confirmation(c: Contract) -> None:
    placed = c.gateway.authorize(
        _eur("40.00"), source=c.sources.approved, reference=c.ref("webhooks")
    )
    c.gateway.capture(placed.id)
    outcomes = c.webhooks()  # Adyen: the capture is confirmed here
    assert c.gateway.retrieve(placed.id).status is S.CAPTURED
    c.gateway.refund(placed.id, amount=_eur("15.00"), reference=c.ref("webhooks-refund"))
    outcomes += c.webhooks()
    assert outcomes, "the provider sent no webhook"
    assert {o.result for o in outcomes} <= {"applied", "unchanged", "duplicate"}, outcomes
    after = c.gateway.retrieve(placed.id)
    assert after.status is S.PARTIALLY_REFUNDED and after.pending is None, after
    assert after.amount_refunded == _eur("15.00")
    assert c.gateway.records.verify() is None


# -- faults (sim only): no double charge ----------------------------------------------------------
def _fault(fault: Fault) -> Run:
    def run(c: Contract) -> None:
        sim = c.sim_only()
        c.require(Operation.PURCHASE in c.capabilities.operations, "purchase")
        reference = c.ref(f"fault-{fault.kind.value}")
        sim.inject(fault, times=1, method="POST")

        def buy() -> Payment:
            return c.gateway.purchase(_eur("20.00"), source=c.sources.approved, reference=reference)

        try:
            paid = buy()
        except OutcomeUnknown as unknown:  # the gateway's retries ran out: repeat, same key
            c.saw(unknown)
            paid = buy()
        assert paid.status is S.CAPTURED, paid
        assert sim.request_count(method="POST") >= 2, "the fault was not met"
        assert c.charges(reference) == 1, f"{c.charges(reference)} payments for one purchase"
        assert c.gateway.retrieve(paid.id).amount_captured == _eur("20.00")

    return run


@dataclass(frozen=True, slots=True)
class Scenario:
    """One scenario: its name, what it proves, and whether it needs the simulator."""

    name: str
    run: Run
    about: str
    sim_only: bool = False


FAULTS: Final = (
    Fault.server_error(503),
    Fault.rate_limited(retry_after=0.05),
    Fault.reset_before_commit(),
    Fault.timeout_after_commit(hold=1.0),
    Fault.malformed_json(),
    Fault.schema_break(),
)

_D = DeclineReason
SCENARIOS: Final[tuple[Scenario, ...]] = (
    Scenario("authorize_full_capture", authorize_full_capture, "authorize, capture all"),
    Scenario("authorize_partial_capture", authorize_partial_capture, "capture part"),
    Scenario("purchase", purchase, "authorize and capture in one call"),
    Scenario("authorize_void", authorize_void, "authorize, then void"),
    Scenario("refunds", refunds, "partial refund, second refund, over-refund refused"),
    Scenario(
        "decline_generic", _decline(lambda c: c.sources.generic_decline, _D.GENERIC), "decline"
    ),
    Scenario(
        "decline_insufficient_funds",
        _decline(lambda c: c.sources.insufficient_funds, _D.INSUFFICIENT_FUNDS),
        "decline",
    ),
    Scenario(
        "decline_expired_card",
        _decline(lambda c: c.sources.expired_card, _D.EXPIRED_CARD),
        "decline",
    ),
    Scenario(
        "decline_incorrect_cvc",
        _decline(lambda c: c.sources.incorrect_cvc, _D.INCORRECT_CVC),
        "decline",
    ),
    Scenario("three_ds_required", three_ds_required, "3-D Secure surfaces as requires_action"),
    Scenario("three_ds_passed", three_ds_passed, "3-D Secure passed, then completed"),
    Scenario("three_ds_purchase", three_ds_purchase_passed, "a purchase completed after 3DS"),
    Scenario("three_ds_in_page", three_ds_in_page, "3-D Secure in the page, step by step"),
    Scenario("three_ds_frictionless", three_ds_frictionless, "3-D Secure with no challenge"),
    Scenario("three_ds_failed", three_ds_failed, "a failed challenge is a decline"),
    Scenario("three_ds_abandoned", three_ds_abandoned, "an abandoned challenge"),
    Scenario("redirect_completed", redirect_completed, "iDEAL: the bank approves, captured"),
    Scenario("redirect_refused", redirect_refused, "iDEAL: the shopper does not approve"),
    Scenario("redirect_abandoned", redirect_abandoned, "iDEAL: the shopper never comes back"),
    Scenario("zero_decimal_jpy", zero_decimal, "JPY, no minor unit"),
    Scenario("three_decimal", three_decimal, "a three-decimal currency"),
    Scenario("idempotent_replay", idempotent_replay, "the same key returns the same payment"),
    Scenario("key_reuse_refused", key_reuse_refused, "the same key for another amount"),
    Scenario("webhook_confirmation", webhook_confirmation, "webhooks confirm async steps"),
    *(
        Scenario(f"fault_{f.kind.value}", _fault(f), f"{f!r}: no double charge", sim_only=True)
        for f in FAULTS
    ),
)
