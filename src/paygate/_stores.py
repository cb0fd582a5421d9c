"""Stores chosen by URL: one URL per store family, with a shared default.

``memory://`` (one process), ``sqlite:///relative.db`` or ``sqlite:////absolute.db`` (the
processes of one host), ``postgresql://user@host/db`` (many hosts; run ``paygate db upgrade``
first), ``redis://host:6379/0`` (many hosts; idempotency keys and breaker state only). A family
a store cannot hold is refused when the gateway is built, never at the first payment.
PostgreSQL and Redis drivers are optional extras, imported only when their URL is used.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Final

from paygate._extras import require_extra
from paygate.idempotency import IdempotencyStore, MemoryStore, SQLiteStore
from paygate.records import MemoryRecordStore, RecordStore, SQLiteRecordStore
from paygate.resilience.breaker import StateBackend

__all__ = ["open_breaker_state", "open_idempotency", "open_records", "scheme"]

_POSTGRES: Final = frozenset({"postgresql", "postgres"})
_REDIS: Final = frozenset({"redis", "rediss"})
KNOWN: Final = frozenset({"memory", "sqlite"}) | _POSTGRES | _REDIS


_SCHEME: Final = re.compile(r"[A-Za-z][A-Za-z0-9+.-]{0,30}")


def scheme(url: str) -> str:
    """The store family a URL names. The message of a refusal names the scheme only when
    there is one: what precedes ``://`` in ``user:password@host/db`` is its password."""
    name, separator, _ = url.partition("://")
    if separator and name.lower() in KNOWN:
        return name.lower()
    given = f"{name!r}" if separator and _SCHEME.fullmatch(name) else "none"
    raise ValueError(
        f"unknown store URL scheme ({given}): use memory://, sqlite:///path, "
        "postgresql://... or redis://..."
    )


def _sqlite_path(url: str) -> Path:
    path = url[len("sqlite:///") :] if url.lower().startswith("sqlite:///") else ""
    if not path:
        raise ValueError("a SQLite store URL names its file: sqlite:///paygate.db")
    return Path(path)


def open_idempotency(url: str) -> IdempotencyStore:
    kind = scheme(url)
    if kind == "sqlite":
        return SQLiteStore(_sqlite_path(url))
    if kind in _POSTGRES:
        require_extra("postgres", "a postgres store")
        from paygate.idempotency.postgres import PostgresStore  # noqa: PLC0415

        return PostgresStore(url)
    if kind in _REDIS:
        require_extra("redis", "a redis store")
        from paygate.idempotency.redis import RedisStore  # noqa: PLC0415

        return RedisStore(url)
    return MemoryStore()


def open_records(url: str) -> RecordStore:
    kind = scheme(url)
    if kind in _REDIS:
        raise ValueError(
            "Redis cannot hold payment records (they need transactions and a durable, "
            "append-only audit trail): set PAYGATE_STORE__RECORDS_URL to a postgresql:// or "
            "sqlite:/// URL"
        )
    if kind == "sqlite":
        return SQLiteRecordStore(_sqlite_path(url))
    if kind in _POSTGRES:
        require_extra("postgres", "a postgres store")
        from paygate.records.postgres import PostgresRecordStore  # noqa: PLC0415

        return PostgresRecordStore(url)
    return MemoryRecordStore()


def open_breaker_state(url: str, provider: str) -> StateBackend | None:
    """Shared breaker state for a Redis URL; None (a local breaker) for any other store."""
    if scheme(url) not in _REDIS:
        return None
    require_extra("redis", "a redis store")
    from paygate.resilience.shared_breaker import breaker_storage  # noqa: PLC0415

    return breaker_storage(url, provider)
