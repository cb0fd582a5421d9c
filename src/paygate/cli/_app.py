"""The ``paygate`` command: ``demo``, ``sandbox serve``, ``contract``, ``errors``, ``db``,
``recon``, ``janitor``, ``unknown`` and ``--version``."""

from __future__ import annotations

import inspect
import shlex
import time
from contextlib import ExitStack
from typing import Annotated, Any

import typer
from rich.console import Console

from paygate import Gateway, Timeout, __version__
from paygate.adapters.registry import provider_names
from paygate.cli._contract import PROVIDERS, contract, errors
from paygate.cli._db import db
from paygate.cli._demo import DemoRun, adyen_flows, stripe_flows, trail_table
from paygate.cli._demo_telemetry import MISSING, demo_telemetry
from paygate.cli._janitor import janitor, unknown
from paygate.cli._recon import recon
from paygate.testing import AdyenSimulator, StripeSimulator
from paygate.testing.contract import adapter_named

# Help text is Markdown: a paragraph reflows to the terminal's width instead of breaking where
# the docstring's source line did.
app = typer.Typer(  # its help is its callback's docstring, below
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="markdown",
)
sandbox = typer.Typer(
    help="Provider simulators for your own integration tests.", rich_markup_mode="markdown"
)
app.add_typer(sandbox, name="sandbox")


def _version(shown: bool) -> None:
    if shown:
        typer.echo(f"paygate {__version__}")
        raise typer.Exit


@app.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print paygate's version and exit."
        ),
    ] = False,
) -> None:
    """paygate: one payments interface for Stripe and more, with integrity built in."""


app.add_typer(db, name="db")
app.add_typer(janitor, name="janitor")
app.add_typer(unknown, name="unknown")
app.command()(contract), app.command()(errors)  # paygate contract, paygate errors
app.command()(recon)  # paygate recon

DEMO_KEY = "sk_test_paygate_demo_0000000000"
DEMO_ADYEN_KEY = "AQE_paygate_demo_key"


def _registered(name: str) -> str:
    """``--provider``: any registered provider (built in, by entry point, or by code)."""
    if name not in provider_names():
        raise typer.BadParameter(f"no provider {name!r}; known: {', '.join(provider_names())}")
    return name


@app.command()
def demo() -> None:
    """Run the main flows on Stripe and on Adyen simulators on loopback; print what happened.

    Nothing leaves this machine: the simulators listen on 127.0.0.1 at free ports and the
    stores are in memory. Exits non-zero if any step does not go as expected.
    """
    console = Console(width=max(120, Console().width))
    timeout = Timeout(read=0.5, total=15)
    telemetry = demo_telemetry()
    listen: dict[str, Any] = {} if telemetry is None else {"on_event": telemetry.listener}
    stripe = DemoRun("paygate demo, 1/2: Stripe simulator on loopback")
    with (
        console.status("running the Stripe flows on a simulator…"),
        StripeSimulator() as stripe_sim,
        Gateway.for_stripe(DEMO_KEY, base_url=stripe_sim.url, timeout=timeout, **listen) as gw,
    ):
        stripe_flows(stripe, stripe_sim, gw)
    console.print(stripe.table)
    adyen = DemoRun("paygate demo, 2/2: Adyen simulator on loopback")
    with (
        console.status("running the Adyen flows on a simulator…"),
        AdyenSimulator() as adyen_sim,
        Gateway.for_adyen(
            DEMO_ADYEN_KEY,
            merchant_account=adyen_sim.merchant_account,
            base_url=f"{adyen_sim.url}/v71",
            hmac_key=adyen_sim.hmac_key,
            timeout=timeout,
            **listen,
        ) as adyen_gw,
    ):
        payment_id = adyen_flows(adyen, adyen_sim, adyen_gw)
        console.print(adyen.table)
        console.print(trail_table(adyen_gw, payment_id))
        metrics = None if telemetry is None else telemetry.metrics_table()  # gauges: gw open
    console.print(
        "A lost answer (the provider acted, the reply never arrived) was retried under the same "
        "idempotency key on both providers, and the provider replayed its first answer: one "
        "charge, not two. Adyen's capture and refund were only received at first, and became "
        "done when their signed webhooks arrived."
    )
    if telemetry is None:
        console.print(f"[dim]{MISSING}[/dim]")
    else:
        tree = telemetry.trace_tree()
        if tree is not None:
            console.print("\nThe trace of that lost answer, as OpenTelemetry received it:")
            console.print(tree)
        console.print(metrics)
        telemetry.close()
    if stripe.failed or adyen.failed:
        console.print("[red]the demo did not go as expected[/red]")
        raise typer.Exit(1)


@sandbox.command("serve")
def serve(
    *,
    provider: Annotated[
        str,
        typer.Option(help="which provider to simulate", metavar=PROVIDERS, callback=_registered),
    ] = "stripe",
    port: Annotated[
        int, typer.Option(help="port to listen on; 0 picks a free one", metavar="PORT")
    ] = 0,
    host: Annotated[
        str,
        typer.Option(
            help="address to listen on; 0.0.0.0 for every interface (a container)",
            metavar="ADDRESS",
        ),
    ] = "127.0.0.1",
    webhook_url: Annotated[
        str | None,
        typer.Option(help="POST every signed webhook to this URL as it happens", metavar="URL"),
    ] = None,
    webhook_secret: Annotated[
        str | None,
        typer.Option(
            help="Stripe: sign webhooks with this secret (default: a fresh whsec_...)",
            metavar="SECRET",
        ),
    ] = None,
    hmac_key: Annotated[
        str | None,
        typer.Option(
            help="Adyen: sign webhooks with this hex HMAC key (default: a fresh one)",
            metavar="HEX",
        ),
    ] = None,
) -> None:
    """Serve a provider simulator until interrupted.

    It prints the settings that point a paygate gateway at it (base URL, webhook secret or
    HMAC key); fix the secrets with --webhook-secret or --hmac-key to keep them across
    restarts. Inject faults with POST /_sim/faults and clear them with DELETE /_sim/faults;
    read state with GET /_sim/state; forget everything with POST /_sim/reset; Adyen: decide
    received modifications with POST /_sim/process.
    """
    entry = adapter_named(provider)
    secrets = {"webhook_secret": webhook_secret, "hmac_key": hmac_key}
    takes = inspect.signature(entry.simulator).parameters
    fixed = {name: value for name, value in secrets.items() if value is not None}
    for name in fixed:
        if name not in takes:
            option = "--" + name.replace("_", "-")
            typer.echo(
                f"paygate sandbox serve: the {provider} simulator takes no {option}", err=True
            )
            raise typer.Exit(2)
    with ExitStack() as stack:
        try:
            simulator = entry.simulator(port=port, host=host, webhook_url=webhook_url, **fixed)
        except ValueError as exc:  # a secret it cannot sign with (its message names no value)
            typer.echo(f"paygate sandbox serve: {exc}", err=True)
            raise typer.Exit(2) from None
        try:
            sim = stack.enter_context(simulator)
        except OSError as exc:  # the port is taken, or not ours to bind, or no such host
            typer.echo(
                f"paygate sandbox serve: cannot listen on {host}:{port} "
                f"({exc.strerror or type(exc).__name__}); pick another --port, or 0 for a free "
                "one",
                err=True,
            )
            raise typer.Exit(1) from None
        # Plain lines, never wrapped: they are pasted into a shell as they are.
        typer.echo(f"{provider} simulator listening on {sim.url} (Ctrl-C to stop)")
        for name, value in entry.settings_env(sim).items():
            typer.echo(f"  export {name}={shlex.quote(value)}")
        typer.echo(
            f"  # inject a fault: curl -X POST {sim.url}/_sim/faults -d "
            """'{"fault": {"kind": "server_error", "status": 503}, "times": 1}'"""
        )
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            typer.echo("stopped")


def main() -> None:
    app()
