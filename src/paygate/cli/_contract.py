"""``paygate contract`` and ``paygate errors``; registered in ``paygate.cli``. Private."""

from __future__ import annotations

import dataclasses
import inspect
import os
import socket
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Final

import httpx
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from paygate.adapters.registry import provider_names, provider_spec, provider_specs
from paygate.cli import _error_guide as guide
from paygate.cli import _error_lookup as lookup
from paygate.errors import ErrorCode
from paygate.testing import _contract_record as record
from paygate.testing._contract_scenarios import SCENARIOS, Scenario
from paygate.testing._server import Simulator
from paygate.testing.contract import (
    ContractAdapter,
    LiveCredentialsError,
    ScenarioResult,
    ScenarioSkipped,
    Target,
    adapter_named,
    adapters,
    missing_sandbox_env,
    open_contract,
    run_scenario,
)

__all__ = ["contract", "errors"]

# --provider's metavar: the built-in providers and those of entry points (others still work).
PROVIDERS: Final = f"[{'|'.join(provider_names())}]"
_STYLE: Final = {"passed": "green", "failed": "red", "skipped": "yellow"}
_PROBE_TIMEOUT: Final = 5.0  # seconds the sandbox's address has to accept a connection


class Format(StrEnum):
    table = "table"
    markdown = "markdown"


# -- paygate contract -----------------------------------------------------------------------------
def contract(
    provider: Annotated[
        list[str] | None,
        typer.Option(help="adapter to check, repeatable; default: every one", metavar=PROVIDERS),
    ] = None,
    target: Annotated[
        Target,
        typer.Option(
            help="sim: the simulators on 127.0.0.1 (no credentials); sandbox: the providers' "
            "test environments, credentials from PAYGATE_CONTRACT_* environment variables"
        ),
    ] = Target.SIM,
    record_dir: Annotated[
        Path | None,
        typer.Option(
            "--record",
            help="keep every provider response (redacted) in `DIR/<provider>-<target>.json`; "
            "when that file exists, first report schema drift against it",
            metavar="DIR",
        ),
    ] = None,
    scenario: Annotated[
        list[str] | None,
        typer.Option(help="run only this scenario, repeatable (names as in the table)"),
    ] = None,
) -> None:
    """Run the contract suite: the same scenarios for each adapter, on simulators or sandboxes.

    Prints one table per provider: each scenario's result, its time and the normalized error
    codes it saw. Sandbox credentials: PAYGATE_CONTRACT_STRIPE_API_KEY (sk_test_...);
    PAYGATE_CONTRACT_ADYEN_API_KEY, PAYGATE_CONTRACT_ADYEN_MERCHANT_ACCOUNT and
    PAYGATE_CONTRACT_ADYEN_HMAC_KEY. Live keys and endpoints are refused before any call.

    With --record DIR, a later run reports schema drift: fields of the adapter's wire models
    that a provider endpoint stopped sending or sends with another type. A run with drift
    keeps the old recording and writes the new one next to it (`<provider>-<target>.new.json`).

    Exits 1 when a scenario fails or drift is found; 2 on bad input, missing credentials or a
    sandbox that cannot be reached.
    """
    console = Console(width=max(110, Console().width))
    adapters = _adapters(provider)
    chosen = _scenarios(scenario)
    failed = False
    _preflight(adapters, target, console)
    for adapter in adapters:
        results = _run(adapter, target, chosen, console)
        console.print(_results_table(adapter, target, results))
        failed |= any(r.result == "failed" for r in results)
        if record_dir is not None:
            failed |= _record(adapter, target, results, record_dir, console)
    if failed:
        console.print("[red]the contract is not met[/red]")
        raise typer.Exit(1)


def _adapters(names: list[str] | None) -> list[ContractAdapter[Any]]:
    try:
        return [adapter_named(n) for n in names] if names else list(adapters())
    except KeyError as unknown:
        raise typer.BadParameter(str(unknown.args[0]), param_hint="--provider") from None


def _scenarios(names: list[str] | None) -> list[Scenario]:
    if not names:
        return list(SCENARIOS)
    known = {s.name: s for s in SCENARIOS}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise typer.BadParameter(
            f"no scenario {', '.join(unknown)}; known: {', '.join(known)}", param_hint="--scenario"
        )
    return [known[n] for n in names]


def _preflight(adapters: list[ContractAdapter[Any]], target: Target, console: Console) -> None:
    """On sandboxes: every provider's missing credentials named at once (exit 2), then each
    provider's refusal of what was given (a live key)."""
    if target is not Target.SANDBOX:
        return
    missing = {a.name: names for a in adapters if (names := missing_sandbox_env(a, os.environ))}
    for name, names in missing.items():  # one line each, never wrapped: names to copy
        typer.echo(f"{name} sandbox credentials missing: set {', '.join(names)}", err=True)
    if missing:
        raise typer.Exit(2)
    for adapter in adapters:
        try:
            with open_contract(adapter, target):
                pass
        except (LiveCredentialsError, ScenarioSkipped) as refused:
            console.print(f"[red]refused: {refused}[/red]")
            raise typer.Exit(2) from None
    unreachable = [line for a in adapters if (line := _unreachable(a)) is not None]
    for line in unreachable:  # every provider's at once, as for the credentials
        typer.echo(line, err=True)
    if unreachable:
        typer.echo("the sandboxes need network access; --target sim runs offline", err=True)
        raise typer.Exit(2)


def sandbox_address(adapter: ContractAdapter[Any]) -> tuple[str, int] | None:
    """Where ``adapter``'s sandbox is served (host, port): its sandbox options' ``base_url``,
    else its settings' default; None for a provider without one."""
    options = adapter.sandbox_options(os.environ)
    field = provider_spec(adapter.name).settings.model_fields.get("base_url")
    url = options.get("base_url") or (field.default if field is not None else None)
    if not isinstance(url, str):
        return None
    parsed = httpx.URL(url)
    return parsed.host, parsed.port or (443 if parsed.scheme == "https" else 80)


def _unreachable(adapter: ContractAdapter[Any]) -> str | None:
    """Why ``adapter``'s sandbox cannot be reached from here (one line), or None: one TCP
    connection, so that a machine without network stops at once, not after each scenario's
    deadline and retries."""
    address = sandbox_address(adapter)
    if address is None:
        return None
    try:
        socket.create_connection(address, timeout=_PROBE_TIMEOUT).close()
    except OSError as exc:  # no name resolution, no route, refused, or silent
        host, port = address
        why = exc.strerror or type(exc).__name__
        return f"{adapter.name} sandbox unreachable: cannot connect to {host}:{port} ({why})"
    return None


def _run(
    adapter: ContractAdapter[Any], target: Target, scenarios: list[Scenario], console: Console
) -> list[ScenarioResult]:
    simulator: Simulator | None = adapter.simulator().start() if target is Target.SIM else None
    results: list[ScenarioResult] = []
    try:
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            console=console,
            transient=True,
        ) as progress:
            task = progress.add_task(f"{adapter.name} on {target.value}", total=len(scenarios))
            for s in scenarios:
                progress.update(task, description=f"{adapter.name} on {target.value}: {s.name}")
                results.append(run_scenario(adapter, target, s.name, s.run, simulator))
                progress.advance(task)
    finally:
        if simulator is not None:
            simulator.stop()
    return results


def _results_table(
    adapter: ContractAdapter[Any], target: Target, results: list[ScenarioResult]
) -> Table:
    passed = sum(r.result == "passed" for r in results)
    table = Table(title=f"contract: {adapter.name} on {target.value} ({passed}/{len(results)})")
    for column in ("scenario", "result", "ms", "codes seen", "detail"):
        table.add_column(column, justify="right" if column == "ms" else "left")
    for r in results:
        table.add_row(
            r.name,
            f"[{_STYLE[r.result]}]{r.result}[/]",
            f"{r.seconds * 1000:.0f}",
            ", ".join(dict.fromkeys(r.codes)) or "-",
            r.detail[:200],
        )
    return table


def _record(
    adapter: ContractAdapter[Any],
    target: Target,
    results: list[ScenarioResult],
    directory: Path,
    console: Console,
) -> bool:
    """Save this run's responses; True when schema drift was found against the last one."""
    exchanges = [
        dataclasses.replace(exchange, scenario=r.name) for r in results for exchange in r.exchanges
    ]
    path = directory / f"{adapter.name}-{target.value}.json"
    if not path.is_file():
        record.save(path, adapter.name, target.value, exchanges)
        console.print(f"recorded {len(exchanges)} responses in {path}")
        return False
    found = record.drift(record.load(path), exchanges, record.relied_on(adapter.wire_module))
    if not found:
        record.save(path, adapter.name, target.value, exchanges)
        console.print(f"no schema drift against {path}; recorded {len(exchanges)} responses")
        return False
    table = Table(title=f"schema drift: {adapter.name} on {target.value}, against {path}")
    for column in ("endpoint", "field", "was", "now"):
        table.add_column(column)
    for d in found:
        table.add_row(d.endpoint, d.field, d.was, f"[red]{d.now}[/]")
    console.print(table)
    new = path.with_suffix(".new.json")
    record.save(new, adapter.name, target.value, exchanges)
    console.print(f"kept {path}; this run's responses are in {new}")
    return True


# -- paygate errors -------------------------------------------------------------------------------
def errors(
    code: Annotated[
        str | None,
        typer.Argument(
            help="look one code up: a normalized code, a decline reason or advice, or a "
            "provider's own error type, code, refusal reason or HTTP status"
        ),
    ] = None,
    provider: Annotated[
        str | None, typer.Option(help="only this provider's codes", metavar=PROVIDERS)
    ] = None,
    output_format: Annotated[
        Format,
        typer.Option(
            "--format",
            help="table: provider codes and what to do, in the terminal; markdown: the whole "
            "error guide, exactly as committed in docs/errors.md",
        ),
    ] = Format.table,
) -> None:
    """Show how each provider's error codes are normalized, and what the caller should do.

    For every provider code: the normalized code (and decline reason), whether it is
    retriable, terminal or an unknown outcome, and the action. `paygate errors CODE` looks one
    code up. Regenerate the docs page with `paygate errors --format markdown > docs/errors.md`.
    """
    if code is not None:
        if provider is not None or output_format is not Format.table:
            raise typer.BadParameter(
                "a lookup covers every provider and prints text; drop --provider and --format",
                param_hint="CODE",
            )
        _look_up(code)
        return
    if output_format is Format.markdown:
        if provider is not None:
            raise typer.BadParameter(
                "the markdown guide covers every provider; drop --provider", param_hint="--provider"
            )
        typer.echo(guide.render_markdown(), nl=False)
        return
    known = provider_names()
    if provider is not None and provider.lower() not in known:
        raise typer.BadParameter(
            f"no provider {provider!r}; known: {', '.join(known)}", param_hint="--provider"
        )
    tables = [
        spec.error_tables
        for spec in provider_specs()
        if provider is None or spec.name == provider.lower()
    ]
    console = Console(width=max(140, Console().width))
    for tables_of in tables:
        console.print(_error_table(tables_of))


def _look_up(code: str) -> None:
    lines = lookup.look_up(code)
    if lines:
        typer.echo("\n".join(lines))
        return
    near = lookup.close_matches(code)
    hint = f"; did you mean {', '.join(near)}?" if near else ""
    typer.echo(f"paygate knows no error code {code.strip()!r}{hint}", err=True)
    raise typer.Exit(1)


def _error_table(p: guide.ProviderErrorTables) -> Table:
    table = Table(title=f"{p.name}: provider codes and what to do")
    for column in ("provider code", "normalized", "branch", "what to do"):
        table.add_column(column, overflow="fold")

    def add(source: str, code: ErrorCode, reason: str | None = None) -> None:
        branches = guide.branches_of(code)
        normalized = code.value if reason is None else f"{code.value}/{reason}"
        table.add_row(source, normalized, " or ".join(sorted(branches)), _action(branches))

    for name, code in sorted(p.error_types.items()):
        add(f"{p.type_field}={name}", code)
    for name, code in sorted(p.error_codes.items()):
        reason = p.code_reasons.get(name)
        add(f"{p.code_field}={name}", code, reason.value if reason else None)
    for name, decline in sorted(p.decline_codes.items()):
        advice = p.reason_advice[decline]
        table.add_row(
            f"{p.decline_field}={name}",
            f"card_declined/{decline.value}",
            "terminal",
            f"advice {advice.value}: {guide.ADVICE_MEANINGS[advice]}",
        )
    for status, code in sorted(p.status_codes.items()):
        add(f"HTTP {status}", code)
    return table


def _action(branches: frozenset[guide.Branch]) -> str:
    return "; or ".join(_ACTIONS[b] for b in sorted(branches))


_ACTIONS: Final = {
    guide.Branch.RETRIABLE: "nothing happened: try again later with the same idempotency key",
    guide.Branch.TERMINAL: "refused: fix the request, or ask for another payment method",
    guide.Branch.OUTCOME_UNKNOWN: (
        "money may have moved: repeat with the same key, retrieve, or wait for the webhook"
    ),
}


def _unwrap(doc: str | None) -> str:
    """A docstring as --help shows it best: one line per paragraph."""
    paragraphs = inspect.cleandoc(doc or "").split("\n\n")
    return "\n\n".join(" ".join(paragraph.split()) for paragraph in paragraphs)


contract.__doc__ = _unwrap(contract.__doc__)
errors.__doc__ = _unwrap(errors.__doc__)
