"""``paygate db upgrade``: versioned, idempotent, safe to run concurrently; and no PostgreSQL store
opens on a database that has not been migrated."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest
from typer.testing import CliRunner

from paygate.cli import app

runner = CliRunner()


def _tables(conninfo: str) -> set[str]:
    import psycopg

    with psycopg.connect(conninfo) as conn:
        rows = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        ).fetchall()
    return {row[0] for row in rows}


def test_upgrade_creates_the_schema_once_and_records_its_version(empty_conninfo: str) -> None:
    import psycopg

    from paygate._migrations import LATEST, MIGRATIONS

    first = runner.invoke(app, ["db", "upgrade", "--url", empty_conninfo])
    assert first.exit_code == 0, first.output
    assert "applied migration 1" in first.output
    assert {
        "paygate_schema_version", "paygate_idempotency", "paygate_records",
        "paygate_audit_trail", "paygate_webhook_events",
    } <= _tables(empty_conninfo)  # fmt: skip
    again = runner.invoke(app, ["db", "upgrade", "--url", empty_conninfo])
    assert again.exit_code == 0 and "already up to date" in again.output
    with psycopg.connect(empty_conninfo) as conn:
        versions = conn.execute("SELECT version, name FROM paygate_schema_version").fetchall()
    assert versions == [(m.version, m.name) for m in MIGRATIONS] and versions[-1][0] == LATEST
    status = runner.invoke(app, ["db", "status", "--url", empty_conninfo])
    assert status.exit_code == 0 and "up to date" in status.output


def test_the_url_may_come_from_the_store_setting(
    empty_conninfo: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAYGATE_STORE__URL", empty_conninfo)
    assert runner.invoke(app, ["db", "status"]).exit_code == 1  # not migrated yet
    result = runner.invoke(app, ["db", "upgrade"])
    assert result.exit_code == 0 and "applied migration 1" in result.output


def test_concurrent_upgrades_apply_each_migration_once(empty_conninfo: str) -> None:
    from paygate._migrations import LATEST, upgrade

    results: list[list[int]] = []
    failures: list[BaseException] = []
    barrier = threading.Barrier(6)

    def run() -> None:
        barrier.wait()
        try:
            results.append(upgrade(empty_conninfo))
        except BaseException as exc:  # pragma: no cover - reported below
            failures.append(exc)

    threads = [threading.Thread(target=run) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    assert sorted(results) == [[]] * 5 + [list(range(1, LATEST + 1))]


def test_stores_refuse_a_database_that_was_not_migrated(empty_conninfo: str) -> None:
    import psycopg

    from paygate.errors import ConfigurationError
    from paygate.idempotency.postgres import PostgresStore
    from paygate.records.postgres import PostgresRecordStore

    for open_store in (PostgresStore, PostgresRecordStore):
        with pytest.raises(ConfigurationError, match="no paygate schema") as refused:
            open_store(empty_conninfo)
        assert "paygate db upgrade" in str(refused.value)
    assert _tables(empty_conninfo) == set()  # nothing was created implicitly

    # An older schema (here: the version table, no migration applied) is refused the same way.
    with psycopg.connect(empty_conninfo, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE paygate_schema_version (version integer PRIMARY KEY, "
            "name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
        )
    with pytest.raises(ConfigurationError, match="paygate db upgrade"):
        PostgresRecordStore(empty_conninfo)
    status = runner.invoke(app, ["db", "status", "--url", empty_conninfo])
    assert status.exit_code == 1 and "run `paygate db upgrade`" in status.output


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("sqlite:///tmp/paygate.db", "SQLite stores create their own tables"),
        ("redis://localhost:6379/0", "nothing to migrate"),
        ("memory://", "nothing to migrate"),
    ],
)
def test_upgrade_refuses_a_url_that_is_not_postgresql(url: str, reason: str) -> None:
    result = runner.invoke(app, ["db", "upgrade", "--url", url])
    assert result.exit_code == 2 and reason in result.output


def test_paygate_and_its_command_import_without_psycopg() -> None:
    code = (
        "import sys\n"
        "sys.modules['psycopg'] = sys.modules['psycopg_pool'] = None\n"
        "import paygate, paygate.cli, paygate.idempotency, paygate.records\n"
        "try:\n"
        "    import paygate.idempotency.postgres\n"
        "except ImportError:\n"
        "    print('postgres store needs the extra')\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "postgres store needs the extra"
