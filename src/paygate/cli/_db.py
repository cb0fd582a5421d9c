"""``paygate db``: create and upgrade the PostgreSQL schema of the shared stores (private)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from paygate import _migrations
from paygate._extras import require_extra
from paygate.errors import ConfigurationError

db = typer.Typer(
    help="The PostgreSQL schema of the shared stores: `paygate db upgrade --url postgresql://...`.",
    no_args_is_help=True,
    rich_markup_mode="markdown",
)

Url = Annotated[
    str,
    typer.Option(
        "--url",
        envvar="PAYGATE_STORE__URL",
        help="postgresql://user@host/db (default: $PAYGATE_STORE__URL)",
        show_default=False,
    ),
]


def _postgres(url: str) -> str:
    if "://" not in url and "=" in url:
        return url  # a libpq key=value conninfo
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme in {"postgresql", "postgres"}:
        return url
    if scheme == "sqlite":
        reason = "SQLite stores create their own tables; there is nothing to migrate"
    elif scheme in {"redis", "rediss", "memory"}:
        reason = f"{scheme}:// stores have no schema; there is nothing to migrate"
    else:
        reason = "give a postgresql://user@host/db URL"
    Console(stderr=True, soft_wrap=True).print(f"[red]not a PostgreSQL URL[/red]: {reason}")
    raise typer.Exit(2)


def _driver() -> None:
    """PostgreSQL's driver, or one line naming the extra to install, and exit status 1."""
    try:
        require_extra("postgres", "paygate db")
    except ConfigurationError as exc:
        typer.echo(exc.message, err=True)
        raise typer.Exit(1) from None


def _connection_failed(exc: Exception, url: str) -> typer.Exit:
    Console(stderr=True, soft_wrap=True).print(
        f"[red]cannot reach {_migrations.redacted(url)}[/red]: {str(exc).strip()}"
    )
    return typer.Exit(1)


@db.command()
def upgrade(url: Url) -> None:
    """Apply every missing migration (idempotent; safe to run from several hosts at once)."""
    _driver()
    import psycopg  # noqa: PLC0415 - the postgres extra is needed only by this command

    console = Console()
    try:
        applied = _migrations.upgrade(_postgres(url))
    except psycopg.OperationalError as exc:
        raise _connection_failed(exc, url) from None
    names = {m.version: m.name for m in _migrations.MIGRATIONS}
    for version in applied:
        console.print(f"applied migration {version}: {names[version]}")
    if not applied:
        console.print(f"already up to date (schema version {_migrations.LATEST})")
    else:
        console.print(f"schema version {_migrations.LATEST}")


@db.command()
def status(url: Url) -> None:
    """Print the schema version of the database; exit 1 if it needs `paygate db upgrade`."""
    _driver()
    import psycopg  # noqa: PLC0415 - the postgres extra is needed only by this command

    try:
        with psycopg.connect(_postgres(url), autocommit=True) as conn:
            version = _migrations.current_version(conn)
    except psycopg.OperationalError as exc:
        raise _connection_failed(exc, url) from None
    if version < _migrations.LATEST:
        Console().print(
            f"schema version {version}, this paygate needs {_migrations.LATEST}: "
            "run `paygate db upgrade`"
        )
        raise typer.Exit(1)
    Console().print(f"schema version {version}: up to date")
