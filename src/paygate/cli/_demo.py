"""The main flows, run against a simulator on loopback and reported step by step (``paygate
demo``). Each step says what it expects; anything else fails the demo."""

from __future__ import annotations

import time
from collections.abc import Callable

from rich.table import Table

from paygate.errors import CardDeclinedError, PaymentError
from paygate.gateway import Gateway
from paygate.models import PaymentSource
from paygate.money import Money
from paygate.testing import AdyenSimulator, Fault, StripeSimulator


class DemoRun:
    """A table of steps: what was called, what came back, what the provider now holds."""

    def __init__(self, title: str) -> None:
        self.table = Table(title=title)
        for column in ("step", "call", "result", "at the provider"):
            self.table.add_column(column)
        self.failed = False

    def step(
        self,
        call: str,
        action: Callable[[], str],
        provider: Callable[[], str],
        *,
        expect: type[PaymentError] | None = None,
    ) -> None:
        started = time.perf_counter()
        raised: type[Exception] | None = None
        try:
            outcome = action()
        except CardDeclinedError as error:
            raised, outcome = type(error), f"declined: {error.reason.value}, {error.advice.value}"
        except PaymentError as error:
            raised, outcome = type(error), f"{type(error).__name__}: {error.code.value}"
        except Exception as error:  # the demo reports, it does not hide
            raised, outcome = type(error), f"unexpected {type(error).__name__}: {error}"
        if raised is not expect:
            self.failed = True
            outcome = f"[red]{outcome} (expected {expect.__name__ if expect else 'success'})[/red]"
        elapsed = (time.perf_counter() - started) * 1000
        number = str(self.table.row_count + 1)
        self.table.add_row(number, call, f"{outcome} ({elapsed:.0f} ms)", provider())

    def check(self, ok: bool) -> None:
        self.failed = self.failed or not ok


def stripe_flows(run: DemoRun, sim: StripeSimulator, gw: Gateway) -> None:
    """Authorize, partial capture, partial refund, a decline, and an answer lost after commit."""
    visa = PaymentSource.token("pm_card_visa")
    held: dict[str, str] = {}

    def authorize() -> str:
        p = gw.authorize(Money("12.34", "EUR"), source=visa, reference="demo-order-1")
        held["id"] = p.id
        return f"{p.status.value} {p.amount}"

    def capture() -> str:
        p = gw.capture(held["id"], amount=Money("10.00", "EUR"))
        return f"{p.status.value}, captured {p.amount_captured}"

    def refund() -> str:
        r = gw.refund(held["id"], amount=Money("2.50", "EUR"), reference="demo-refund-1")
        p = gw.retrieve(held["id"])
        return f"refund {r.status.value} {r.amount}; payment {p.status.value}"

    def intent_state() -> str:
        pi = sim.payment_intent(held["id"]) if "id" in held else None
        return "-" if pi is None else f"{pi['id'][:14]}… {pi['status']}"

    def declined() -> str:
        source = PaymentSource.token("pm_card_visa_chargeDeclinedInsufficientFunds")
        gw.authorize(Money("5.00", "EUR"), source=source, reference="demo-order-2")
        return "authorized"

    def timeout_after_commit() -> str:
        sim.inject(Fault.timeout_after_commit(hold=1.5), times=1, method="POST")
        p = gw.authorize(Money("42.00", "EUR"), source=visa, reference="demo-order-3")
        return f"{p.status.value} after a lost answer, retried under the same key"

    def count(reference: str) -> Callable[[], str]:
        return lambda: f"{len(sim.payment_intents(reference=reference))} PaymentIntent(s)"

    run.step("authorize EUR 12.34", authorize, intent_state)
    run.step("capture EUR 10.00 of it", capture, intent_state)
    run.step("refund EUR 2.50", refund, intent_state)
    run.step(
        "authorize, insufficient funds", declined, count("demo-order-2"), expect=CardDeclinedError
    )
    run.step("authorize; answer lost after commit", timeout_after_commit, count("demo-order-3"))
    run.check(len(sim.payment_intents(reference="demo-order-3")) == 1)


def adyen_flows(run: DemoRun, sim: AdyenSimulator, gw: Gateway) -> str:
    """Authorize, capture and refund, each *received* by Adyen and confirmed by its signed
    webhook; a decline; an answer lost after commit. Returns the payment id whose trail to show."""
    card = PaymentSource.card("4111111145551142", 3, 2030, "737", holder_name="APPROVED")
    held: dict[str, str] = {}

    def confirm() -> str:
        sim.process_modifications()
        outcomes = [o for d in sim.drain_webhooks() for o in gw.handle_webhook(d.headers, d.body)]
        described = ", ".join(f"{o.event.provider_type} {o.result}" for o in outcomes)
        return f"{described}; payment {gw.retrieve(held['id']).status.value}"

    def authorize() -> str:
        p = gw.authorize(Money("60.00", "EUR"), source=card, reference="demo-adyen-1")
        held["id"] = p.id
        return f"{p.status.value} {p.amount}"

    def capture() -> str:
        p = gw.capture(held["id"], amount=Money("45.00", "EUR"))
        return f"{p.status.value} ({p.pending.value if p.pending else '-'} received)"

    def refund() -> str:
        r = gw.refund(held["id"], amount=Money("5.00", "EUR"), reference="demo-adyen-refund-1")
        return f"refund {r.status.value} {r.amount}"

    def state() -> str:
        payment = sim.payment(held["id"]) if "id" in held else None
        if payment is None:
            return "-"
        currency = payment["amount"]["currency"]
        captured = Money.from_minor_units(payment["captured"], currency)
        refunded = Money.from_minor_units(payment["refunded"], currency)
        return f"{held['id']} captured {captured.amount}, refunded {refunded.amount}"

    def declined() -> str:
        source = PaymentSource.card("4111111145551142", 3, 2030, "737", holder_name="DECLINED")
        gw.authorize(Money("5.00", "EUR"), source=source, reference="demo-adyen-2")
        return "authorized"

    def timeout_after_commit() -> str:
        sim.inject(Fault.timeout_after_commit(hold=1.5), times=1, method="POST")
        p = gw.authorize(Money("42.00", "EUR"), source=card, reference="demo-adyen-3")
        return f"{p.status.value} after a lost answer, retried under the same key"

    def count(reference: str) -> Callable[[], str]:
        return lambda: f"{len(sim.payments(reference=reference))} payment(s)"

    run.step("authorize EUR 60.00", authorize, state)
    run.step("capture EUR 45.00 of it", capture, state)
    run.step("deliver Adyen's signed webhooks", confirm, state)
    run.step("refund EUR 5.00", refund, state)
    run.step("deliver Adyen's signed webhooks", confirm, state)
    run.step("authorize, card declined", declined, count("demo-adyen-2"), expect=CardDeclinedError)
    run.step("authorize; answer lost after commit", timeout_after_commit, count("demo-adyen-3"))
    run.check(len(sim.payments(reference="demo-adyen-3")) == 1)
    run.check(gw.retrieve(held["id"]).status.value == "partially_refunded")
    run.check(gw.records.verify() is None)
    return held["id"]


def trail_table(gw: Gateway, payment_id: str) -> Table:
    """One payment's audit trail, as recorded and chained."""
    table = Table(title=f"audit trail of {payment_id} (hash-chained; verify() finds it intact)")
    for column in ("#", "from", "to", "captured", "refunded", "cause", "note", "hash"):
        table.add_column(column)
    for entry in gw.audit_trail(payment_id):
        cause = entry.cause
        if cause.kind == "webhook":
            named = f"webhook {cause.event_type}"
        elif cause.kind == "settlement":
            named = f"settlement {cause.source} line {cause.line}"
        else:
            named = f"{cause.kind} {cause.operation}"
        table.add_row(
            str(entry.seq),
            entry.from_status.value if entry.from_status else "(new)",
            entry.to_status.value,
            entry.amount_captured,
            entry.amount_refunded,
            named,
            entry.note,
            f"{entry.hash[:10]}…",
        )
    return table
