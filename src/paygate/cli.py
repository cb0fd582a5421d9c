"""The ``paygate`` command: ``demo`` and ``sandbox serve``."""

from __future__ import annotations

import time
from enum import StrEnum
from typing import Annotated

import typer
from rich.console import Console

from paygate import Gateway, Timeout
from paygate._demo import DemoRun, stripe_flows
from paygate.testing import StripeSimulator

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
    idempotency store is in memory. Exits non-zero if any step does not go as expected.
    """
    console = Console(width=max(110, Console().width))
    run = DemoRun("paygate demo: Stripe simulator on loopback")
    timeout = Timeout(read=0.5, total=15)
    with (
        StripeSimulator() as sim,
        Gateway.for_stripe(DEMO_KEY, base_url=sim.url, timeout=timeout) as gw,
    ):
        stripe_flows(run, sim, gw)
    console.print(run.table)
    console.print(
        "Step 5: the provider charged, the answer never arrived, and the retry carried the same "
        "idempotency key, so the provider replayed its first answer: one charge, not two."
    )
    if run.failed:
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
    with POST /_sim/faults and clear them with DELETE /_sim/faults; read state with
    GET /_sim/state; forget everything with POST /_sim/reset.
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
