"""What one chaos flow does: a logical order as a service would run it, and the faults thrown
at it. Plans are drawn from a seeded generator, so a run (and a restarted worker) repeats the
same orders with the same idempotency keys."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final, Literal

from paygate.models import PaymentSource, RedirectMethod
from paygate.money import Money
from paygate.testing.faults import Fault

__all__ = ["PROVIDERS", "RETURN_URL", "Plan", "Step", "fault_menu", "plans", "source_for"]

Provider = Literal["stripe", "adyen"]
PROVIDERS: Final[tuple[Provider, ...]] = ("stripe", "adyen")
Verb = Literal["authorize", "purchase", "complete", "capture", "void", "refund"]
# What pays: a card, a card that asks for 3-D Secure, or iDEAL (the shopper's bank).
Payer = Literal["card", "3ds", "ideal"]
# Where a shopper sent to 3-D Secure or their bank comes back to (the simulators never go there).
RETURN_URL: Final = "https://chaos.example/return"
# How many orders pay with a card that asks for 3-D Secure, and how many by iDEAL (always a
# purchase); the shopper always passes or approves.
THREE_DS_SHARE: Final = 0.1
IDEAL_SHARE: Final = 0.05


@dataclass(frozen=True, slots=True)
class Step:
    """One call of a flow, under its own idempotency key (the same on every retry)."""

    verb: Verb
    key: str
    amount: Money | None = None
    reference: str | None = None


@dataclass(frozen=True, slots=True)
class Plan:
    """One order: pay (authorize, or purchase; with 3-D Secure or iDEAL, completed once the
    shopper passed it or approved it at their bank), then capture, refunds or a void."""

    provider: Provider
    reference: str
    amount: Money
    steps: tuple[Step, ...]
    payer: Payer = "card"

    @property
    def shopper_acts(self) -> bool:
        return self.payer != "card"


def plans(
    provider: Provider, count: int, seed: int, prefix: str, *, shoppers: bool = False
) -> list[Plan]:
    """``count`` orders for ``provider``, the same for the same arguments; with ``shoppers``,
    some pay with a card that asks for 3-D Secure and some by iDEAL."""
    rng = random.Random(f"{seed}:{provider}:{prefix}")
    return [_plan(provider, rng, f"{prefix}-{provider}-{n}", shoppers) for n in range(count)]


def _payer(rng: random.Random, shoppers: bool) -> Payer:
    roll = rng.random() if shoppers else 1.0
    if roll < THREE_DS_SHARE:
        return "3ds"
    return "ideal" if roll < THREE_DS_SHARE + IDEAL_SHARE else "card"


def _plan(provider: Provider, rng: random.Random, reference: str, shoppers: bool) -> Plan:
    cents = rng.randrange(100, 100_000)
    amount = Money.from_minor_units(cents, "EUR")
    steps: list[Step] = []
    payer = _payer(rng, shoppers)
    purchase = rng.random() < 0.3 or payer == "ideal"  # iDEAL has nothing to capture later
    steps.append(Step("purchase" if purchase else "authorize", f"{reference}-pay"))
    if payer != "card":
        steps.append(Step("complete", f"{reference}-{payer}"))
    captured = cents if purchase else 0
    if not purchase:
        roll = rng.random()
        if roll < 0.2:
            steps.append(Step("void", f"{reference}-void"))
        elif roll < 0.9:
            captured = cents if rng.random() < 0.6 else rng.randrange(1, cents + 1)
            part = None if captured == cents else Money.from_minor_units(captured, "EUR")
            steps.append(Step("capture", f"{reference}-cap", part))
    left = captured
    for n in range(rng.choice([0, 0, 1, 1, 2])):
        if left <= 0:
            break
        refund = left if rng.random() < 0.3 else rng.randrange(1, left + 1)
        left -= refund
        steps.append(
            Step(
                "refund",
                f"{reference}-ref{n}",
                Money.from_minor_units(refund, "EUR"),
                f"{reference}-r{n}",
            )
        )
    return Plan(provider, reference, amount, tuple(steps), payer)


def source_for(plan: Plan) -> PaymentSource:
    """A source the simulators approve and paygate can send again: Stripe's test token, Adyen's
    stored card. (A raw card is never kept: a lost answer for it is settled only by a report
    of the payment, a search or a webhook, and when the provider never made the payment no
    report comes: it stays unknown, for a person, which a chaos run cannot tell apart from a
    failure. Its paths have tests of their own.) iDEAL is the same on both."""
    if plan.payer == "ideal":
        return PaymentSource.redirect(RedirectMethod.IDEAL)
    if plan.provider == "stripe":
        return PaymentSource.token(
            "pm_card_threeDSecure2Required" if plan.payer == "3ds" else "pm_card_visa"
        )
    stored = "sim_stored_3ds" if plan.payer == "3ds" else "sim_stored_visa"
    return PaymentSource.token(stored, customer="chaos-shopper")


def fault_menu(deadline: float) -> Sequence[Callable[[random.Random], Fault]]:
    """Every fault kind of the simulators, with arguments that keep a run short: whatever a
    fault holds is held past the call's deadline, so the deadline is what ends it."""
    held = deadline + 0.5
    return (
        lambda r: Fault.latency(r.uniform(0.01, 0.3)),
        lambda r: Fault.server_error(r.choice([500, 502, 503]), after_commit=r.random() < 0.5),
        lambda r: Fault.rate_limited(0.02),
        lambda r: Fault.reset_before_commit(),
        lambda r: Fault.reset_after_commit(),
        lambda r: Fault.timeout_after_commit(hold=held),
        lambda r: Fault.malformed_json(),
        lambda r: Fault.schema_break(),
        lambda r: Fault.slow_body(interval=0.05),
        lambda r: Fault.slow_headers(interval=0.05),
        lambda r: Fault.oversized_body(size=5 << 20),
        lambda r: Fault.endless_body(),
        lambda r: Fault.gzip_bomb(size=64 << 20),
        lambda r: Fault.foreign(r.choice([302, 403, 404, 502]), after_commit=r.random() < 0.3),
        lambda r: Fault.foreign_json(
            r.choice([400, 409]), truncated=r.random() < 0.5, after_commit=r.random() < 0.3
        ),
    )
