"""The record stores every record-store test runs against: memory, SQLite, and PostgreSQL
(skipped without PAYGATE_TEST_POSTGRES_URL)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from paygate.records import MemoryRecordStore, RecordStore, SQLiteRecordStore


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RecordStore]:
    opened: RecordStore
    if request.param == "memory":
        opened = MemoryRecordStore()
    elif request.param == "sqlite":
        opened = SQLiteRecordStore(tmp_path / "r.db")
    else:
        from paygate.records.postgres import PostgresRecordStore

        opened = PostgresRecordStore(request.getfixturevalue("postgres_conninfo"), pool_size=8)
    yield opened
    opened.close()
