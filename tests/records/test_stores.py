"""Both record stores: atomic apply, webhook events delivered at most once, an intact chain, and
tampering with the SQLite file caught by verify()."""

from __future__ import annotations

import itertools
import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from paygate import Money, Payment, PaymentStatus
from paygate.models import EventType, Operation, Refund, RefundStatus, WebhookEvent
from paygate.records import (
    Intent,
    Locate,
    MemoryRecordStore,
    PaymentRecord,
    RecordStore,
    SQLiteRecordStore,
    changes,
)
from paygate.records.store import Declines, UnknownSummary
from paygate.records.trail import CallCause, WebhookCause

NOW = datetime(2026, 11, 25, tzinfo=UTC)
CALL = CallCause(operation="purchase", idempotency_key="k")


def eur(amount: str) -> Money:
    return Money(amount, "EUR")


CAPTURED = Payment(
    id="pay_1", provider="p", status=PaymentStatus.CAPTURED, amount=eur("100.00"),
    amount_authorized=eur("100.00"), amount_captured=eur("100.00"), amount_refunded=eur("0"),
    reference="order-1", provider_status="succeeded",
)  # fmt: skip


def refund_event(n: int, amount: str = "1.00") -> WebhookEvent:
    return WebhookEvent(
        provider="p", event_id=f"evt_{n}", type=EventType.REFUNDED, provider_type="refund",
        payment_id="pay_1", amount=eur(amount), modification_id=f"re_{n}",
    )  # fmt: skip


def _purchase(store: RecordStore) -> str:
    applied = store.apply(Locate(), lambda r: changes.observe(r, CAPTURED, CALL, NOW))
    assert applied.record is not None and applied.applied
    return applied.record.record_id


def _deliver(store: RecordStore, event: WebhookEvent) -> object:
    cause = WebhookCause(provider="p", event_id=event.event_id, event_type="refund")
    return store.apply(
        Locate(provider="p", payment_id="pay_1"),
        lambda r: changes.apply_event(r, event, cause, NOW),
        event=("p", event.event_id),
    )


def test_records_are_found_by_their_id_and_the_providers(store: RecordStore) -> None:
    record_id = _purchase(store)
    assert store.get(record_id) == store.find("p", "pay_1")
    assert store.find("p", "nope") is None and store.find("other", "pay_1") is None


def test_each_event_is_applied_at_most_once(store: RecordStore) -> None:
    record_id = _purchase(store)
    first = _deliver(store, refund_event(1))
    again = _deliver(store, refund_event(1))
    assert first.applied and not first.duplicate  # type: ignore[attr-defined]
    assert again.duplicate and not again.applied  # type: ignore[attr-defined]
    record = store.get(record_id)
    assert record is not None and record.amount_refunded == eur("1.00")
    assert len(store.trail(record_id)) == 2  # the duplicate left no entry


def test_every_change_is_chained_and_verifies(store: RecordStore) -> None:
    record_id = _purchase(store)
    for n in range(1, 4):
        _deliver(store, refund_event(n))
    trail = store.trail(record_id)
    assert [e.seq for e in trail] == [1, 2, 3, 4]
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(trail))
    assert trail[-1].to_status is PaymentStatus.PARTIALLY_REFUNDED
    assert trail[-1].amount_refunded == "3.00" and trail[1].cause.kind == "webhook"
    assert store.verify() is None


def test_a_cards_declines_are_counted_in_their_window_and_a_final_one_forever(
    store: RecordStore,
) -> None:
    now = datetime.now(UTC)
    for days_ago in (40, 20, 1, 0):
        store.note_decline("card_a", now - timedelta(days=days_ago, minutes=1), final=False)
    store.note_decline("card_b", now - timedelta(days=90), final=True)
    recent = store.declines("card_a", now - timedelta(days=30))
    assert len(recent.at) == 3 and not recent.final
    assert list(recent.at) == sorted(recent.at) and all(at.tzinfo for at in recent.at)
    assert len(store.declines("card_a", now - timedelta(days=1, minutes=5)).at) == 2
    forever = store.declines("card_b", now - timedelta(days=30))
    assert forever.at == () and forever.final  # outside the window, and final all the same
    assert store.declines("card_c", now - timedelta(days=30)) == Declines((), False)


def test_payments_awaiting_the_shopper_are_listed_per_provider(store: RecordStore) -> None:
    from paygate.records.changes import observe

    now = datetime.now(UTC)
    for n, (provider, name) in enumerate((("adyen", "b"), ("stripe", "s"), ("adyen", "a"))):
        waiting = Payment(
            id="", provider=provider, status=PaymentStatus.REQUIRES_ACTION, amount=eur("3.00"),
            amount_authorized=eur("0"), amount_captured=eur("0"), amount_refunded=eur("0"),
            reference=f"wait-{name}", provider_status="RedirectShopper",
        )  # fmt: skip
        cause = CallCause(operation="authorize", idempotency_key=f"k-{name}")
        at = now + timedelta(seconds=n)
        store.apply(Locate(), lambda r, w=waiting, c=cause, t=at: observe(r, w, c, t))
    _purchase(store)  # not awaiting anything
    assert [r.reference for r in store.awaiting_action("adyen")] == ["wait-b", "wait-a"]
    assert [r.reference for r in store.awaiting_action("stripe")] == ["wait-s"]


def test_concurrent_changes_to_one_record_are_serialized(store: RecordStore) -> None:
    record_id = _purchase(store)
    threads = [threading.Thread(target=_deliver, args=(store, refund_event(n))) for n in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    record = store.get(record_id)
    assert record is not None and record.amount_refunded == eur("40.00")
    assert len(store.trail(record_id)) == 41 and store.verify() is None


# -- tampering with the SQLite file itself -------------------------------------------------------
@pytest.fixture
def db(tmp_path: Path) -> Iterator[tuple[SQLiteRecordStore, sqlite3.Connection, str]]:
    store = SQLiteRecordStore(tmp_path / "r.db")
    record_id = _purchase(store)
    for n in range(1, 5):
        _deliver(store, refund_event(n))
    raw = sqlite3.connect(tmp_path / "r.db", isolation_level=None)
    yield store, raw, record_id
    raw.close()
    store.close()


def test_an_edited_entry_is_named(db: tuple[SQLiteRecordStore, sqlite3.Connection, str]) -> None:
    store, raw, record_id = db
    raw.execute(
        'UPDATE paygate_audit_trail SET body = replace(body, \'"amount_refunded":"2.00"\', '
        '\'"amount_refunded":"0.00"\') WHERE seq = 3'
    )
    problem = store.verify()
    assert problem is not None and (problem.record_id, problem.seq) == (record_id, 3)
    assert problem.problem == "was edited"


def test_a_removed_entry_is_named(db: tuple[SQLiteRecordStore, sqlite3.Connection, str]) -> None:
    store, raw, _ = db
    raw.execute("DELETE FROM paygate_audit_trail WHERE seq = 2")
    problem = store.verify()
    assert problem is not None and problem.seq == 2 and "missing" in problem.problem


def test_reordered_entries_are_named(db: tuple[SQLiteRecordStore, sqlite3.Connection, str]) -> None:
    store, raw, _ = db
    rows = raw.execute("SELECT seq, body FROM paygate_audit_trail ORDER BY seq").fetchall()
    raw.execute("DELETE FROM paygate_audit_trail")
    order = [rows[0], rows[2], rows[1], *rows[3:]]  # entries 2 and 3 swapped, renumbered
    for position, (old_seq, body) in enumerate(order, start=1):
        raw.execute(
            "INSERT INTO paygate_audit_trail "
            "VALUES ((SELECT record_id FROM paygate_records), ?, ?)",
            (position, body.replace(f'"seq":{old_seq}', f'"seq":{position}')),
        )
    problem = store.verify()
    assert problem is not None and problem.seq == 2


def test_a_chain_cut_short_is_caught_by_the_records_anchor(
    db: tuple[SQLiteRecordStore, sqlite3.Connection, str],
) -> None:
    store, raw, _ = db
    raw.execute("DELETE FROM paygate_audit_trail WHERE seq = 5")
    problem = store.verify()
    assert problem is not None and problem.seq == 5 and "anchors 5" in problem.problem


# -- PostgreSQL: many instances on one database ---------------------------------------------------
def test_postgres_instances_racing_to_create_one_payments_record_make_one(
    postgres_conninfo: str,
) -> None:
    from paygate.records.postgres import PostgresRecordStore

    stores = [PostgresRecordStore(postgres_conninfo, pool_size=4) for _ in range(4)]
    barrier = threading.Barrier(16)
    errors: list[BaseException] = []

    def race(store: RecordStore) -> None:
        barrier.wait()
        try:
            store.apply(
                Locate(provider="p", payment_id="pay_1"),
                lambda r: changes.observe(r, CAPTURED, CALL, NOW),
            )
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=race, args=(stores[n % 4],)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert errors == []
        record = stores[0].find("p", "pay_1")
        assert record is not None and stores[0].verify() is None
        assert len(stores[0].trail(record.record_id)) == 16  # one record, every observation
    finally:
        for store in stores:
            store.close()


def test_postgres_each_event_is_applied_once_across_instances(postgres_conninfo: str) -> None:
    from paygate.records.postgres import PostgresRecordStore

    stores = [PostgresRecordStore(postgres_conninfo, pool_size=4) for _ in range(3)]
    try:
        record_id = _purchase(stores[0])
        threads = [
            threading.Thread(target=_deliver, args=(stores[n % 3], refund_event(n % 10)))
            for n in range(30)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        record = stores[1].get(record_id)
        assert record is not None and record.amount_refunded == eur("10.00")
        assert len(stores[2].trail(record_id)) == 11 and stores[2].verify() is None
    finally:
        for store in stores:
            store.close()


def test_postgres_trail_is_append_only_and_tampering_is_caught(postgres_conninfo: str) -> None:
    import psycopg

    from paygate.records.postgres import PostgresRecordStore

    store = PostgresRecordStore(postgres_conninfo, pool_size=2)
    try:
        record_id = _purchase(store)
        for n in range(1, 4):
            _deliver(store, refund_event(n))
        with psycopg.connect(postgres_conninfo, autocommit=True) as raw:
            for statement in (
                "UPDATE paygate_audit_trail SET seq = seq",
                "DELETE FROM paygate_audit_trail WHERE seq = 2",
                "TRUNCATE paygate_audit_trail",
            ):
                with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
                    raw.execute(statement)
            # Someone with the rights to switch the trigger off edits an entry: verify() names it.
            raw.execute("ALTER TABLE paygate_audit_trail DISABLE TRIGGER USER")
            raw.execute(
                "UPDATE paygate_audit_trail "
                "SET body = jsonb_set(body, '{amount_refunded}', '\"0.00\"') WHERE seq = 3"
            )
        problem = store.verify()
        assert problem is not None and (problem.record_id, problem.seq) == (record_id, 3)
        assert problem.problem == "was edited"
    finally:
        store.close()


def test_the_memory_store_is_bounded_and_keeps_unknown_outcomes() -> None:
    from paygate.models import Operation
    from paygate.records import UnknownOperation

    store = MemoryRecordStore(max_records=3)
    unknown = UnknownOperation(
        operation=Operation.AUTHORIZE, idempotency_key="k-lost", amount=eur("1.00"),
        reference="lost", replayable=True, since=NOW, next_check_at=NOW,
    )  # fmt: skip
    lost = store.apply(
        Locate(),
        lambda r: changes.outcome_unknown(
            r, unknown, amount=eur("1.00"), provider="p", cause=CALL, now=NOW
        ),
    ).record
    assert lost is not None
    ids = []
    for n in range(6):
        payment = CAPTURED.model_copy(update={"id": f"pay_{n}"})
        applied = store.apply(Locate(), lambda r, p=payment: changes.observe(r, p, CALL, NOW))
        assert applied.record is not None
        ids.append(applied.record.record_id)
    assert store.get(lost.record_id) is not None  # an unknown outcome is never forgotten
    assert [store.get(i) is not None for i in ids] == [False] * 4 + [True] * 2
    assert store.find("p", "pay_0") is None and store.trail(ids[0]) == []
    assert store.verify() is None
    for n in range(20):
        _deliver(store, refund_event(100 + n))
    assert len(store._events) <= 12  # 4 x max_records event ids remembered


def _intent(key: str, lease_until: datetime, payment_id: str | None = None) -> Intent:
    return Intent(
        provider="p", operation=Operation.CAPTURE if payment_id else Operation.AUTHORIZE,
        idempotency_key=key, amount=eur("5.00"), reference="order-1", replayable=True,
        request={"reference": "order-1"}, body_digest="d" * 64, record_id=None,
        payment_id=payment_id, since=NOW, lease_until=lease_until,
    )  # fmt: skip


def test_an_intent_stays_until_its_outcome_clears_it_in_the_same_apply(
    store: RecordStore,
) -> None:
    record_id = _purchase(store)
    live, lapsed = _intent("live", NOW + timedelta(minutes=2)), _intent("gone", NOW, "pay_1")
    assert store.write_intent(live) is None
    assert store.write_intent(lapsed) is None
    # The same key again (a repeat of a call that recorded nothing): one intent, and the one
    # it replaced is returned, for the repeat to answer for.
    again = lapsed.model_copy(update={"since": NOW + timedelta(seconds=1)})
    assert store.write_intent(again) == lapsed
    assert store.write_intent(lapsed) == again
    assert sorted(i.idempotency_key for i in store.intents()) == ["gone", "live"]
    assert store.intents(lapsed_by=NOW) == [lapsed]
    # The outcome's change and the intent's clearing are one transaction.
    applied = store.apply(
        Locate(provider="p", payment_id="pay_1"),
        lambda r: changes.refunded(r, REFUND, CALL, NOW) if r else None,
        intent=("p", "gone"),
    )
    assert applied.applied and [i.idempotency_key for i in store.intents()] == ["live"]
    # A change that writes nothing still clears the intent it answers...
    store.apply(Locate(), lambda r: None, intent=("p", "live"))
    assert store.intents() == []
    # ...and one that raises clears nothing.
    store.write_intent(live)
    with pytest.raises(RuntimeError):
        store.apply(Locate(record_id=record_id), _raise, intent=("p", "live"))
    assert store.intents() == [live]


def test_a_lapsed_intent_becomes_an_unknown_outcome_once(store: RecordStore) -> None:
    _purchase(store)
    lapsed = _intent("gone", NOW, "pay_1")
    store.write_intent(lapsed)
    unknown = lapsed.as_unknown(NOW, "the process stopped")

    def adopt(r: PaymentRecord | None) -> changes.Change | None:
        if r is None:
            return None
        return changes.outcome_unknown(
            r, unknown, amount=r.amount, provider="p", cause=CALL, now=NOW
        )

    locate = Locate(provider="p", payment_id="pay_1")
    first = store.apply(locate, adopt, intent=("p", "gone"), needs_intent=True)
    second = store.apply(locate, adopt, intent=("p", "gone"), needs_intent=True)
    assert first.applied and not second.applied  # the second found the intent gone
    record = store.find("p", "pay_1")
    assert record is not None and [u.idempotency_key for u in record.unknown] == ["gone"]
    assert record.unknown[0].attempts == 0 and record.unknown[0].reason == "the process stopped"
    assert store.with_unknown() == [record] and store.intents() == []
    # An intent whose record is missing is kept, never dropped unrecorded.
    orphan = _intent("orphan", NOW, "pay_404")
    store.write_intent(orphan)
    kept = store.apply(
        Locate(provider="p", payment_id="pay_404"), adopt, intent=("p", "orphan"),
        needs_intent=True,
    )  # fmt: skip
    assert not kept.applied and store.intents() == [orphan]


REFUND = Refund(
    id="re_9", provider="p", payment_id="pay_1", status=RefundStatus.SUCCEEDED,
    amount=eur("5.00"), provider_status="succeeded",
)  # fmt: skip


def _raise(record: PaymentRecord | None) -> changes.Change | None:
    raise RuntimeError("a bug in a change")


def test_a_payment_is_on_one_record_whichever_record_an_answer_names(store: RecordStore) -> None:
    """A webhook recorded the payment first; the call's answer, named by its key's record, goes
    to that same record, never to a second one (the unique payment index would refuse it)."""
    first = _purchase(store)
    applied = store.apply(
        Locate(record_id="pr_named_by_the_key", provider="p", payment_id="pay_1"),
        lambda r: changes.observe(r, CAPTURED, CALL, NOW, "pr_named_by_the_key"),
    )
    assert applied.record is not None and applied.record.record_id == first
    assert store.get("pr_named_by_the_key") is None


def test_scan_lists_a_providers_records_once_across_pages(
    store: RecordStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    import paygate.records.postgres as postgres_store
    import paygate.records.sqlite as sqlite_store

    for module in (sqlite_store, postgres_store):
        monkeypatch.setattr(module, "SCAN_PAGE", 2)
    made = []
    for n in range(5):
        paid = CAPTURED.model_copy(update={"id": f"pay_scan_{n}"})
        applied = store.apply(Locate(), lambda r, paid=paid: changes.observe(r, paid, CALL, NOW))
        assert applied.record is not None
        made.append(applied.record.record_id)
    scanned = list(store.scan("p"))
    assert sorted(r.record_id for r in scanned) == sorted(made)
    assert list(store.scan("other")) == []
    # The same records as their JSON documents, unbuilt, in the same order.
    documents = [PaymentRecord.model_validate_json(body) for body in store.scan_json("p")]
    assert documents == scanned
    assert list(store.scan_json("other")) == []


def _unknown_on(
    store: RecordStore, provider: str, key: str, since: datetime, record: str | None = None
) -> None:
    """A new payment's unknown outcome, on a record of its own (or on ``record``)."""
    record_id = record or f"pr_{provider}_{key}"
    intent = _intent(key, since).model_copy(update={"provider": provider, "since": since})
    unknown = intent.as_unknown(since + timedelta(minutes=5), "no answer")

    def change(r: PaymentRecord | None) -> changes.Change | None:
        return changes.outcome_unknown(
            r, unknown, amount=eur("5.00"), provider=provider, cause=CALL, now=since,
            record_id=record_id,
        )  # fmt: skip

    assert store.apply(Locate(record_id=record_id), change).applied


def test_unknown_summary_counts_the_open_outcomes_and_finds_the_oldest(
    store: RecordStore,
) -> None:
    assert store.unknown_summary("p") == UnknownSummary(0, None)
    oldest = NOW - timedelta(hours=2, microseconds=250_001)  # microseconds kept exactly
    _unknown_on(store, "p", "a", NOW - timedelta(minutes=1))
    _unknown_on(store, "p", "b", oldest)
    # A quarter second after b's, on a's record: a record may hold several.
    _unknown_on(store, "p", "c", NOW - timedelta(hours=2), record="pr_p_a")
    _unknown_on(store, "q", "d", NOW - timedelta(days=3))  # another provider's
    assert store.unknown_summary("p") == UnknownSummary(3, oldest)
    assert store.unknown_summary("q") == UnknownSummary(1, NOW - timedelta(days=3))
    assert store.unknown_summary("none") == UnknownSummary(0, None)
    # What the gauges read agrees with the records themselves.
    held = [u for r in store.with_unknown() if r.provider == "p" for u in r.unknown]
    assert len(held) == 3 and min(u.since for u in held) == oldest
    assert len(store.with_unknown()) == 3  # p's three outcomes are on two records


def test_sqlite_bulk_load_writes_each_history_as_apply_would_and_refuses_a_stored_id(
    tmp_path: Path,
) -> None:
    store = SQLiteRecordStore(tmp_path / "r.db")
    made = changes.observe(None, CAPTURED, CALL, NOW)
    refund = Refund(
        id="re_1", provider="p", payment_id="pay_1", status=RefundStatus.SUCCEEDED,
        amount=eur("5.00"), provider_status="succeeded",
    )  # fmt: skip
    refunded = changes.refunded(made.record, refund, CALL, NOW)
    other = changes.observe(None, CAPTURED.model_copy(update={"id": "pay_2"}), CALL, NOW)
    assert store.bulk_load(iter([[made, refunded], [other]])) == 2
    loaded = store.get(made.record.record_id)
    assert loaded == refunded.record and loaded.amount_refunded == eur("5.00")
    assert [e.seq for e in store.trail(made.record.record_id)] == [1, 2]
    assert store.verify() is None
    # Changes to the loaded record chain on after its trail, as after apply.
    later = store.apply(Locate(record_id=made.record.record_id), lambda r: changes.observe(
        r, CAPTURED, CALL, NOW))  # type: ignore[arg-type]  # fmt: skip
    assert later.entry is not None and later.entry.seq == 3 and store.verify() is None
    third = changes.observe(None, CAPTURED.model_copy(update={"id": "pay_3"}), CALL, NOW)
    with pytest.raises(ValueError, match="new records only"):
        store.bulk_load([[third], [other]])  # the second is stored already: nothing is written
    assert store.get(third.record.record_id) is None
    with pytest.raises(ValueError, match="two records"):
        store.bulk_load([[third, other]])
