"""Versioned PostgreSQL migrations for the shared stores (private; run by ``paygate db upgrade``).

The schema is never created implicitly: a PostgreSQL store checks the version recorded in
``paygate_schema_version`` when it opens and refuses a database that is behind
(``ConfigurationError``), naming the command that fixes it. ``upgrade`` is idempotent: it takes a
session advisory lock (so concurrent upgrades from several hosts queue up), then applies each
missing migration in its own transaction together with its row in the version table.

Migrations are append-only: never edit one that has shipped, add the next version instead.
Tables live in the connection's ``search_path`` (``options=-csearch_path=...`` in the conninfo
picks a schema).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from paygate.errors import ConfigurationError

if TYPE_CHECKING:
    import psycopg

__all__ = [
    "LATEST",
    "MIGRATIONS",
    "Migration",
    "current_version",
    "redacted",
    "require_schema",
    "upgrade",
]

VERSION_TABLE: Final = "paygate_schema_version"
# pg_advisory_lock key: any constant bigint shared by every paygate upgrade ("paygate!").
_LOCK_KEY: Final = 0x7061796761746521


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


MIGRATIONS: Final[tuple[Migration, ...]] = (
    Migration(
        1,
        "idempotency keys, payment records, audit trail, webhook events",
        """
        CREATE TABLE paygate_idempotency (
            key         text PRIMARY KEY,
            fingerprint text NOT NULL,
            token       text,
            lease_until double precision NOT NULL,  -- epoch seconds, database clock
            outcome     text,
            expires_at  double precision NOT NULL   -- epoch seconds, database clock
        );
        CREATE INDEX paygate_idempotency_expiry
            ON paygate_idempotency (expires_at) WHERE outcome IS NOT NULL;

        CREATE TABLE paygate_records (
            record_id    text PRIMARY KEY,
            provider     text NOT NULL,
            payment_id   text,
            status       text NOT NULL,
            next_check   timestamptz,
            body         jsonb NOT NULL,
            trail_length integer NOT NULL,  -- the audit chain's anchor: its length...
            trail_head   text NOT NULL      -- ...and the hash of its last entry
        );
        CREATE UNIQUE INDEX paygate_records_payment
            ON paygate_records (provider, payment_id) WHERE payment_id IS NOT NULL;
        CREATE INDEX paygate_records_unknown
            ON paygate_records (next_check) WHERE next_check IS NOT NULL;

        CREATE TABLE paygate_audit_trail (
            record_id text NOT NULL,
            seq       integer NOT NULL,
            body      jsonb NOT NULL,
            PRIMARY KEY (record_id, seq)
        );
        CREATE FUNCTION paygate_audit_trail_append_only() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'paygate_audit_trail is append-only (% refused)', TG_OP;
            END;
            $$;
        CREATE TRIGGER paygate_audit_trail_append_only
            BEFORE UPDATE OR DELETE ON paygate_audit_trail
            FOR EACH ROW EXECUTE FUNCTION paygate_audit_trail_append_only();
        CREATE TRIGGER paygate_audit_trail_no_truncate
            BEFORE TRUNCATE ON paygate_audit_trail
            FOR EACH STATEMENT EXECUTE FUNCTION paygate_audit_trail_append_only();

        CREATE TABLE paygate_webhook_events (
            provider    text NOT NULL,
            event_id    text NOT NULL,
            received_at timestamptz NOT NULL,
            PRIMARY KEY (provider, event_id)
        );
        """,
    ),
    Migration(
        2,
        "intents: mutating calls written down before their request is sent",
        """
        CREATE TABLE paygate_intents (
            provider    text NOT NULL,
            key         text NOT NULL,
            lease_until timestamptz NOT NULL,
            body        jsonb NOT NULL,
            PRIMARY KEY (provider, key)
        );
        CREATE INDEX paygate_intents_lease ON paygate_intents (lease_until);
        """,
    ),
    Migration(
        3,
        "card declines (what caps a merchant-initiated payment's reattempts), and the "
        "payments awaiting the shopper",
        """
        CREATE TABLE paygate_card_declines (
            card  text NOT NULL,
            at    timestamptz NOT NULL,
            final boolean NOT NULL
        );
        CREATE INDEX paygate_card_declines_card ON paygate_card_declines (card, at);
        CREATE INDEX paygate_records_awaiting
            ON paygate_records (provider) WHERE status = 'requires_action';
        """,
    ),
    Migration(
        4,
        "the janitor's schedule of each record holding unknown outcomes, with its lease",
        """
        CREATE TABLE paygate_janitor (
            record_id    text PRIMARY KEY,
            provider     text NOT NULL,
            step         integer NOT NULL,
            due_at       timestamptz NOT NULL,
            escalated_at timestamptz,
            lease_owner  text,
            lease_until  timestamptz
        );
        CREATE INDEX paygate_janitor_due
            ON paygate_janitor (provider, due_at) WHERE escalated_at IS NULL;
        """,
    ),
)
LATEST: Final = MIGRATIONS[-1].version


def current_version(conn: psycopg.Connection[Any]) -> int:
    """The highest migration applied (0: none, or no version table)."""
    row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (VERSION_TABLE,)).fetchone()
    if row is None or not row[0]:
        return 0
    row = conn.execute(f"SELECT coalesce(max(version), 0) FROM {VERSION_TABLE}").fetchone()
    return int(row[0]) if row is not None else 0


def require_schema(conn: psycopg.Connection[Any]) -> None:
    """Raise ``ConfigurationError`` unless every migration this paygate knows has been applied:
    the database needs ``paygate db upgrade`` before a store can open on it."""
    version = current_version(conn)
    if version < LATEST:
        found = "no paygate schema" if version == 0 else f"paygate schema version {version}"
        raise ConfigurationError(
            f"the PostgreSQL database has {found}; this paygate needs version {LATEST}. "
            "Run `paygate db upgrade --url postgresql://...` against it first."
        )


def upgrade(conninfo: str) -> list[int]:
    """Apply the missing migrations; the versions applied now (empty: already up to date)."""
    import psycopg  # noqa: PLC0415 - an optional extra, needed only here

    applied: list[int] = []
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
        try:
            with conn.transaction():
                conn.execute(
                    f"CREATE TABLE IF NOT EXISTS {VERSION_TABLE} ("
                    "version integer PRIMARY KEY, name text NOT NULL, "
                    "applied_at timestamptz NOT NULL DEFAULT now())"
                )
            done = current_version(conn)
            for migration in MIGRATIONS:
                if migration.version <= done:
                    continue
                with conn.transaction():
                    conn.execute(migration.sql)
                    conn.execute(
                        f"INSERT INTO {VERSION_TABLE} (version, name) VALUES (%s, %s)",
                        (migration.version, migration.name),
                    )
                applied.append(migration.version)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
    return applied


def redacted(conninfo: str) -> str:
    """The conninfo without its password or options, for reprs and messages."""
    from psycopg.conninfo import conninfo_to_dict  # noqa: PLC0415 - optional extra

    try:
        params = conninfo_to_dict(conninfo)
    except Exception:
        return "postgresql://..."
    host = params.get("host", "")
    dbname = params.get("dbname", "")
    return f"postgresql://{params.get('user', '')}@{host}/{dbname}"
