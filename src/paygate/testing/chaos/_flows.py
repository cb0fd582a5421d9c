"""Running plans through a gateway as a service would: each call retried by the application under
its own key when the outcome is unknown or the error retriable, faults thrown at the simulator
before calls, and (asyncio) some calls cancelled from outside."""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any, Final

from paygate.errors import (
    ErrorCode,
    InvalidRequestError,
    OutcomeUnknown,
    PaymentError,
    RetriableError,
)
from paygate.models import NextAction, Payment
from paygate.testing._server import Simulator
from paygate.testing.chaos._plans import RETURN_URL, Plan, Step, fault_menu, source_for

__all__ = ["Injector", "Tally", "run_flow", "run_flow_async"]

Shopper = Callable[[NextAction], dict[str, str]]  # passes 3-D Secure: the details to complete
_TRIES: Final = 6  # how often the application repeats a call before it gives up for now
_PAUSE: Final = 0.02  # seconds between an application's repeats
_WAIT_FOR_WEBHOOK: Final = frozenset({ErrorCode.INVALID_STATE, ErrorCode.AMOUNT_EXCEEDS_REFUNDABLE})


class Tally:
    """Counts of what happened, safe across threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counts: Counter[str] = Counter()

    def add(self, what: str, n: int = 1) -> None:
        with self._lock:
            self.counts[what] += n


class Injector:
    """Throws a random fault at the simulator before a call, at the call's own path."""

    def __init__(
        self, sim: Simulator | None, rate: float, deadline: float, seed: int, tally: Tally
    ) -> None:
        self._sim = sim
        self._rate = rate
        self._menu = fault_menu(deadline)
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._tally = tally
        self.enabled = True

    def maybe(self, path: str) -> None:
        if self._sim is None:
            return
        with self._lock:
            if not self.enabled or self._rng.random() >= self._rate:
                return
            fault = self._rng.choice(self._menu)(self._rng)
        self._tally.add(f"fault {fault.kind.value}")
        self._sim.inject(fault, times=1, method="POST", path=path)


def _path(plan: Plan, step: Step, payment_id: str | None, prefix: str) -> str:
    if step.verb == "complete":  # Stripe's is a read (GET), which faults thrown at POST spare
        return (
            f"/v1/payment_intents/{payment_id}"
            if plan.provider == "stripe"
            else (f"{prefix}/payments/details")
        )
    if plan.provider == "stripe":
        if step.verb in {"authorize", "purchase"}:
            return "/v1/payment_intents"
        if step.verb == "refund":
            return "/v1/refunds"
        return f"/v1/payment_intents/{payment_id}/{'cancel' if step.verb == 'void' else 'capture'}"
    if step.verb in {"authorize", "purchase"}:
        return f"{prefix}/payments"
    tail = {"capture": "captures", "void": "cancels", "refund": "refunds"}[step.verb]
    return f"{prefix}/payments/{payment_id}/{tail}"


def _call(
    gw: Any, plan: Plan, step: Step, payment: Payment | None, shopper: Shopper | None
) -> Callable[[], Any] | None:
    """The gateway call of ``step``: a blocking call, or a coroutine factory; None when there
    is nothing to call (a payment that asks the shopper nothing, or no shopper to ask)."""
    payment_id = None if payment is None else payment.id
    if step.verb in {"authorize", "purchase"}:
        return lambda: getattr(gw, step.verb)(
            plan.amount,
            source=source_for(plan),
            reference=plan.reference,
            idempotency_key=step.key,
            description=f"chaos order {plan.reference}",
            metadata={"flow": plan.reference[-40:]},
            return_url=RETURN_URL if plan.shopper_acts else None,
        )
    if step.verb == "complete":
        if payment is None or payment.next_action is None or shopper is None:
            return None
        details = shopper(payment.next_action)  # once: the page is done with after that
        return lambda: gw.complete_action(payment.id, details=details, idempotency_key=step.key)
    if step.verb == "capture":
        return lambda: gw.capture(payment_id, amount=step.amount, idempotency_key=step.key)
    if step.verb == "void":
        return lambda: gw.void(payment_id, idempotency_key=step.key)
    return lambda: gw.refund(
        payment_id,
        amount=step.amount,
        reason="requested_by_customer",
        reference=step.reference,
        idempotency_key=step.key,
    )


def _pause_after(error: PaymentError, tally: Tally) -> float | None:
    """How long the application waits before it repeats the call after ``error`` (the same
    call, same key), or None when it gives up on the order. It repeats an unknown outcome or a
    retriable error at once, and waits a little when the record says a capture or refund must
    wait for a webhook."""
    tally.add(f"{type(error).__name__} {error.code.value}")
    if isinstance(error, OutcomeUnknown | RetriableError):
        return _PAUSE
    if isinstance(error, InvalidRequestError) and error.code in _WAIT_FOR_WEBHOOK:
        return 0.1
    return None


def run_flow(
    gw: Any,
    plan: Plan,
    injector: Injector,
    tally: Tally,
    *,
    prefix: str = "",
    shopper: Shopper | None = None,
) -> None:
    """Run ``plan`` through a blocking gateway; ``shopper`` passes 3-D Secure."""
    payment: Payment | None = None
    for step in plan.steps:
        call = _call(gw, plan, step, payment, shopper)
        if call is None:
            continue
        for _ in range(_TRIES):
            injector.maybe(_path(plan, step, None if payment is None else payment.id, prefix))
            try:
                result = call()
            except PaymentError as error:
                pause = _pause_after(error, tally)
                if pause is None:
                    return
                time.sleep(pause)
                continue
            payment = _remember(result, payment, tally, step)
            break
        else:
            tally.add("steps given up")
            return
        if payment is None:
            return


async def run_flow_async(
    gw: Any,
    plan: Plan,
    injector: Injector,
    tally: Tally,
    *,
    rng: random.Random,
    cancel_rate: float,
    prefix: str = "",
    shopper: Shopper | None = None,
) -> None:
    """Run ``plan`` through an asyncio gateway; some calls are cancelled from outside
    (``asyncio.wait_for`` with a short timeout), as an impatient caller would."""
    payment: Payment | None = None
    for step in plan.steps:
        call: Callable[[], Awaitable[Any]] | None = _call(gw, plan, step, payment, shopper)
        if call is None:
            continue
        for _ in range(_TRIES):
            injector.maybe(_path(plan, step, None if payment is None else payment.id, prefix))
            try:
                if rng.random() < cancel_rate:
                    result = await asyncio.wait_for(call(), rng.uniform(0.002, 0.3))
                else:
                    result = await call()
            except TimeoutError:
                tally.add("cancelled by the caller")
                await asyncio.sleep(_PAUSE)
                continue
            except PaymentError as error:
                pause = _pause_after(error, tally)
                if pause is None:
                    return
                await asyncio.sleep(pause)
                continue
            payment = _remember(result, payment, tally, step)
            break
        else:
            tally.add("steps given up")
            return
        if payment is None:
            return


def _remember(result: object, payment: Payment | None, tally: Tally, step: Step) -> Payment | None:
    """The payment the rest of the flow works on, once a step succeeded: the one it paid
    with, under the id its completed action gave it."""
    tally.add(f"ok {step.verb}")
    if step.verb in {"authorize", "purchase", "complete"} and isinstance(result, Payment):
        return result
    return payment
