"""The ``paygate`` command: ``demo`` and ``sandbox serve``."""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import StrEnum
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from paygate import Gateway, Money, PaymentSource, Timeout
from paygate.errors import PaymentError
from paygate.testing import Fault, StripeSimulator

app = typer.Typer(
    help="paygate: one payments interface for Stripe and more, with integrity built in.",
    no_args_is_help=True,
    add_completion=False,
)
sandbox = typer.Typer(help="Provider simulators for your own integration tests.")
app.add_typer(sandbox, name="sandbox")

DEMO_KEY = "sk_test_paygate_demo_0000000000"


class Provider(StrEnum):
    stripe = "stripe"


@app.command()
def demo() -> None:
    """Run the main flows against a Stripe simulator on loopback and print what happened.

    Nothing leaves this machine: the simulator listens on 127.0.0.1 at a free port and the
    idempotency store is in memory.
    """
    console = Console()
    table = Table(title="paygate demo: Stripe simulator on loopback", show_lines=False)
    for column in ("step", "call", "result", "at the provider"):
        table.add_column(column)
    failed = False

    with (
        StripeSimulator() as sim,
        Gateway.for_stripe(DEMO_KEY, base_url=sim.url, timeout=Timeout(read=0.5, total=15)) as gw,
    ):

        def step(
            name: str, call: str, action: Callable[[], str], provider: Callable[[], str]
        ) -> None:
            nonlocal failed
            started = time.perf_counter()
            try:
                outcome = action()
            except PaymentError as error:
                outcome = f"{type(error).__name__}: {error.code.value}"
            except Exception as error:  # the demo reports, it does not hide
                failed = True
                outcome = f"[red]unexpected {type(error).__name__}: {error}[/red]"
            elapsed = (time.perf_counter() - started) * 1000
            table.add_row(name, call, f"{outcome} ({elapsed:.0f} ms)", provider())

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
            gw.authorize(
                Money("5.00", "EUR"),
                source=PaymentSource.token("pm_card_visa_chargeDeclinedInsufficientFunds"),
                reference="demo-order-2",
            )
            return "authorized?!"

        def timeout_after_commit() -> str:
            sim.inject(Fault.timeout_after_commit(hold=1.5), times=1, method="POST")
            p = gw.authorize(Money("42.00", "EUR"), source=visa, reference="demo-order-3")
            return f"{p.status.value} after a lost answer, retried under the same key"

        def count(reference: str) -> Callable[[], str]:
            return lambda: f"{len(sim.payment_intents(reference=reference))} PaymentIntent(s)"

        step("1", "authorize EUR 12.34", authorize, intent_state)
        step("2", "capture EUR 10.00 of it", capture, intent_state)
        step("3", "refund EUR 2.50", refund, intent_state)
        step("4", "authorize, insufficient funds", declined, count("demo-order-2"))
        step(
            "5", "authorize; answer lost after commit", timeout_after_commit, count("demo-order-3")
        )
        double = len(sim.payment_intents(reference="demo-order-3")) != 1
        failed = failed or double

    console.print(table)
    console.print(
        "Step 5: the provider charged, the answer never arrived, and the retry carried the same "
        "idempotency key, so the provider replayed its first answer: one charge, not two."
    )
    if failed:
        console.print("[red]the demo did not go as expected[/red]")
        raise typer.Exit(1)


@sandbox.command("serve")
def serve(
    provider: Annotated[
        Provider, typer.Option(help="which provider to simulate")
    ] = Provider.stripe,
    port: Annotated[int, typer.Option(help="port on 127.0.0.1; 0 picks a free one")] = 0,
) -> None:
    """Serve a provider simulator on 127.0.0.1 until interrupted.

    Point your gateway's base URL at the printed address with any sk_test_ key. Inject faults
    with POST /_sim/faults, read state with GET /_sim/state, clear with POST /_sim/reset.
    """
    console = Console()
    with StripeSimulator(port=port) as sim:
        console.print(f"{provider.value} simulator listening on {sim.url} (Ctrl-C to stop)")
        console.print(
            f"  faults: curl -X POST {sim.url}/_sim/faults -d "
            """'{"fault": {"kind": "server_error", "status": 503}, "times": 1}'"""
        )
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            console.print("stopped")


def main() -> None:
    app()
