"""What one chaos flow does: a logical order as a service would run it, and the faults thrown
at it. Plans are drawn from a seeded generator, so a run (and a restarted worker) repeats the
same orders with the same idempotency keys."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final, Literal

from paygate.models import PaymentSource
from paygate.money import Money
from paygate.testing.faults import Fault

__all__ = ["PROVIDERS", "RETURN_URL", "Plan", "Step", "fault_menu", "plans", "source_for"]

Provider = Literal["stripe", "adyen"]
PROVIDERS: Final[tuple[Provider, ...]] = ("stripe", "adyen")
Verb = Literal["authorize", "purchase", "complete", "capture", "void", "refund"]
# Where a shopper sent to 3-D Secure comes back to (the simulators never go there).
RETURN_URL: Final = "https://chaos.example/return"
# How many orders pay with a card that asks for 3-D Secure (the shopper always passes it).
THREE_DS_SHARE: Final = 0.1


@dataclass(frozen=True, slots=True)
class Step:
    """One call of a flow, under its own idempotency key (the same on every retry)."""

    verb: Verb
    key: str
    amount: Money | None = None
    reference: str | None = None


@dataclass(frozen=True, slots=True)
class Plan:
    """One order: pay (authorize, or purchase; with 3-D Secure, completed once the shopper
    passed it), then capture, refunds or a void."""

    provider: Provider
    reference: str
    amount: Money
    steps: tuple[Step, ...]
    three_ds: bool = False


def plans(
    provider: Provider, count: int, seed: int, prefix: str, *, three_ds: bool = False
) -> list[Plan]:
    """``count`` orders for ``provider``, the same for the same arguments; with ``three_ds``,
    some pay with a card that asks for 3-D Secure."""
    rng = random.Random(f"{seed}:{provider}:{prefix}")
    share = THREE_DS_SHARE if three_ds else 0.0
    return [_plan(provider, rng, f"{prefix}-{provider}-{n}", share) for n in range(count)]


def _plan(provider: Provider, rng: random.Random, reference: str, three_ds_share: float) -> Plan:
    cents = rng.randrange(100, 100_000)
    amount = Money.from_minor_units(cents, "EUR")
    steps: list[Step] = []
    purchase = rng.random() < 0.3
    steps.append(Step("purchase" if purchase else "authorize", f"{reference}-pay"))
    three_ds = three_ds_share > 0 and rng.random() < three_ds_share
    if three_ds:
        steps.append(Step("complete", f"{reference}-3ds"))
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
    return Plan(provider, reference, amount, tuple(steps), three_ds)


def source_for(plan: Plan) -> PaymentSource:
    """A source the simulators approve and paygate can send again: Stripe's test token, Adyen's
    stored card. (A raw card is never kept: a lost answer for it is settled only by a report
    of the payment, a search or a webhook, and when the provider never made the payment no
    report comes: it stays unknown, for a person, which a chaos run cannot tell apart from a
    failure. Its paths have tests of their own.)"""
    if plan.provider == "stripe":
        return PaymentSource.token(
            "pm_card_threeDSecure2Required" if plan.three_ds else "pm_card_visa"
        )
    stored = "sim_stored_3ds" if plan.three_ds else "sim_stored_visa"
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
