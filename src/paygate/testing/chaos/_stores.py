"""The stores a chaos or kill run shares between its gateways (and its worker processes)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from paygate.idempotency import IdempotencyStore, SQLiteStore
from paygate.records import MemoryRecordStore, RecordStore, SQLiteRecordStore

__all__ = ["open_stores"]


def open_stores(stores: str, workdir: Path, provider: str) -> tuple[IdempotencyStore, RecordStore]:
    """``stores``: "sqlite" (a file in ``workdir`` per provider), a migrated ``postgresql://``
    URL (both stores there), or a ``redis://`` URL (the idempotency store there, the records in
    memory: one process only)."""
    if stores == "sqlite":
        path = workdir / f"chaos-{provider}.sqlite3"
        return SQLiteStore(path), SQLiteRecordStore(path)
    if stores.startswith("redis://"):
        from paygate.idempotency.redis import RedisStore  # noqa: PLC0415 - optional extra

        # Keys of this run's own: another run's, under the same plan keys, would conflict.
        run = hashlib.sha256(str(workdir.resolve()).encode()).hexdigest()[:16]
        return RedisStore(stores, prefix=f"paygate:chaos:{run}:{provider}:"), MemoryRecordStore()
    from paygate.idempotency.postgres import PostgresStore  # noqa: PLC0415 - optional extra
    from paygate.records.postgres import PostgresRecordStore  # noqa: PLC0415

    return PostgresStore(stores), PostgresRecordStore(stores)
