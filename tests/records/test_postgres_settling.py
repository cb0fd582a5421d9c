"""A call's outcome and its idempotency key committed together, where both stores live in one
PostgreSQL database (``PostgresRecordStore.settling``): one commit per answer instead of two,
and no moment where the record holds the answer and the key does not (or the reverse)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import psycopg
import pytest

from paygate import AsyncGateway, Gateway, Money, PaymentSource, PaymentStatus
from paygate.errors import OutcomeUnknown
from paygate.gateway import _steps as gateway_steps
from paygate.idempotency import MemoryStore
from paygate.idempotency.postgres import PostgresStore
from paygate.records.postgres import PostgresRecordStore
from paygate.testing import Fault, StripeSimulator

VISA = PaymentSource.token("pm_card_visa")
TEN = Money("10.00", "EUR")
PI_PATH = "/v1/payment_intents"
RETURN = "https://shop.example/return"


@pytest.fixture
def stores(postgres_conninfo: str) -> Iterator[tuple[PostgresStore, PostgresRecordStore]]:
    keys = PostgresStore(postgres_conninfo, pool_size=4)
    records = PostgresRecordStore(postgres_conninfo, pool_size=4)
    yield keys, records
    keys.close()
    records.close()


T = TypeVar("T")


def _never(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("the key was completed apart from its record")


def _through(
    kind: str,
    api_key: str,
    options: dict[str, Any],
    steps: Callable[[Any, Callable[[Any], Awaitable[Any]]], Awaitable[T]],
) -> T:
    """``steps(gw, done)`` on a new gateway of ``kind``: ``done`` awaits what an
    ``AsyncGateway`` call returns, and passes a blocking gateway's result through."""

    async def done(result: Any) -> Any:
        return await result if kind == "async" else result

    if kind == "sync":
        with Gateway.for_stripe(api_key, **options) as gw:
            return asyncio.run(steps(gw, done))

    async def main() -> T:
        async with AsyncGateway.for_stripe(api_key, **options) as agw:
            return await steps(agw, done)

    return asyncio.run(main())


def _authorize_twice(
    kind: str, options: dict[str, Any], api_key: str, reference: str
) -> tuple[Any, Any]:
    """The same authorize twice through a new gateway of ``kind``: the first, then its repeat."""

    async def twice(gw: Any, done: Callable[[Any], Awaitable[Any]]) -> tuple[Any, Any]:
        first = await done(gw.authorize(TEN, source=VISA, reference=reference))
        return first, await done(gw.authorize(TEN, source=VISA, reference=reference))

    return _through(kind, api_key, options, twice)


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_the_answer_and_its_key_commit_in_the_records_transaction(
    kind: str,
    stores: tuple[PostgresStore, PostgresRecordStore],
    sim: StripeSimulator,
    api_key: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With the idempotency store's own completion out of order, the key is still completed
    (a repeat replays it, nothing more is sent): it went with the record, in its transaction."""
    keys, records = stores
    monkeypatch.setattr(PostgresStore, "complete", _never)
    monkeypatch.setattr(type(keys.for_asyncio()), "complete_async", _never)
    options = {"store": keys, "records": records, "base_url": sim.url}
    first, repeat = _authorize_twice(kind, options, api_key, f"order-joint-{kind}")
    assert first.status is PaymentStatus.AUTHORIZED
    assert repeat == first
    assert sim.request_count("POST", PI_PATH) == 1
    record = records.find("stripe", first.id)
    assert record is not None and record.status is PaymentStatus.AUTHORIZED
    assert records.intents() == []
    assert records.verify() is None


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_a_record_that_cannot_commit_takes_the_keys_outcome_with_it(
    kind: str,
    stores: tuple[PostgresStore, PostgresRecordStore],
    postgres_conninfo: str,
    sim: StripeSimulator,
    api_key: str,
) -> None:
    """The records' transaction fails at its commit: the key's outcome is not kept either.
    The call is an unknown outcome, its intent stays listed, and the key is free, so the
    repeat is sent again under it and the provider's replay settles it."""
    keys, records = stores
    with psycopg.connect(postgres_conninfo, autocommit=True) as conn:
        conn.execute(
            "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'disk full'; END $$"
        )
        conn.execute(
            "CREATE CONSTRAINT TRIGGER refuse AFTER INSERT ON paygate_audit_trail "
            "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse()"
        )
    options = {"store": keys, "records": records, "base_url": sim.url}
    with pytest.raises(OutcomeUnknown):
        _authorize_twice(kind, options, api_key, f"order-refused-{kind}")
    [intent] = records.intents()
    assert intent.operation == "authorize"
    with psycopg.connect(postgres_conninfo, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM paygate_idempotency").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM paygate_records").fetchone() == (0,)
        conn.execute("DROP TRIGGER refuse ON paygate_audit_trail")
    first, _ = _authorize_twice(kind, options, api_key, f"order-refused-{kind}")
    assert first.status is PaymentStatus.AUTHORIZED
    assert sim.request_count("POST", PI_PATH) == 2  # the same request, replayed by Stripe
    assert len({r.headers["idempotency-key"] for r in sim.requests}) == 1
    assert records.intents() == []


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_a_lease_lost_meanwhile_keeps_the_record_and_the_new_holders_key(
    kind: str,
    stores: tuple[PostgresStore, PostgresRecordStore],
    postgres_conninfo: str,
    sim: StripeSimulator,
    api_key: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The key's lease goes to another caller while the provider holds the request: the
    answer is recorded all the same, the other holder's lease is left alone, and the lost
    lease is logged."""
    keys, records = stores
    sim.inject(Fault.latency(1.0))
    options = {"store": keys, "records": records, "base_url": sim.url}

    def retake() -> None:
        """Once the call has leased its key, hand the lease to another holder."""
        with psycopg.connect(postgres_conninfo, autocommit=True) as conn:
            for _ in range(200):
                taken = conn.execute("UPDATE paygate_idempotency SET token = 'other-holder'")
                if taken.rowcount == 1:
                    return
                time.sleep(0.01)
        raise AssertionError("the call never leased its key")

    async def main() -> Any:
        async with AsyncGateway.for_stripe(api_key, **options) as agw:
            call = asyncio.ensure_future(agw.authorize(TEN, source=VISA, reference="order-lost"))
            await asyncio.to_thread(retake)
            return await call

    def blocking() -> Any:
        with Gateway.for_stripe(api_key, **options) as gw:
            return asyncio.run(_alongside(retake, gw.authorize, reference="order-lost"))

    with caplog.at_level(logging.WARNING, logger="paygate"):
        payment = asyncio.run(main()) if kind == "async" else blocking()
    assert payment.status is PaymentStatus.AUTHORIZED
    record = records.find("stripe", payment.id)
    assert record is not None and record.status is PaymentStatus.AUTHORIZED
    with psycopg.connect(postgres_conninfo, autocommit=True) as conn:
        row = conn.execute("SELECT token, outcome FROM paygate_idempotency").fetchone()
    assert row == ("other-holder", None)
    assert any("lease lost" in r.getMessage() for r in caplog.records)


async def _alongside(side: Any, call: Any, *, reference: str) -> Any:
    """``call`` (blocking) in a thread, with ``side`` run in another meanwhile."""
    task = asyncio.ensure_future(asyncio.to_thread(call, TEN, source=VISA, reference=reference))
    await asyncio.to_thread(side)
    return await task


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_an_answer_not_to_replay_frees_its_key_in_the_records_transaction(
    kind: str,
    stores: tuple[PostgresStore, PostgresRecordStore],
    postgres_conninfo: str,
    sim: StripeSimulator,
    api_key: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Completing a 3-D Secure payment before the shopper is back answers requires_action,
    which is not kept under the key: the key is freed in the transaction that records the
    answer (the idempotency store's own release is out of order), so the same call once the
    shopper is back goes through."""
    keys, records = stores
    monkeypatch.setattr(PostgresStore, "release", _never)
    monkeypatch.setattr(type(keys.for_asyncio()), "release_async", _never)
    options = {"store": keys, "records": records, "base_url": sim.url}
    source = PaymentSource.token("pm_card_threeDSecure2Required")
    reference = f"order-early-{kind}"

    async def steps(gw: Any, done: Callable[[Any], Awaitable[Any]]) -> tuple[Any, Any, Any]:
        payment = await done(
            gw.authorize(TEN, source=source, reference=reference, return_url=RETURN)
        )
        early = await done(gw.complete_action(payment.id, idempotency_key=reference))
        with psycopg.connect(postgres_conninfo, autocommit=True) as conn:
            left = conn.execute(
                "SELECT count(*) FROM paygate_idempotency WHERE key = %s", (reference,)
            ).fetchone()
        sim.authenticate(payment.next_action)
        completed = await done(gw.complete_action(payment.id, idempotency_key=reference))
        return early, left, completed

    early, left, completed = _through(kind, api_key, options, steps)
    assert early.status is PaymentStatus.REQUIRES_ACTION
    assert left == (0,)  # freed, not kept for a replay
    assert completed.status is PaymentStatus.AUTHORIZED


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_an_outcome_that_cannot_be_encoded_still_leaves_the_answer_on_the_record(
    kind: str,
    stores: tuple[PostgresStore, PostgresRecordStore],
    postgres_conninfo: str,
    sim: StripeSimulator,
    api_key: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A bug that makes the outcome to replay fail inside the records' transaction does not
    take the provider's answer with it: the record commits, the key is freed, the intent is
    cleared, and the bug is raised to the caller. The log names the key by its digest (a
    caller's key may carry personal data)."""
    keys, records = stores

    def broken(*args: Any) -> str:
        raise RuntimeError("no encoding")

    monkeypatch.setattr(gateway_steps, "stored_result", broken)
    options = {"store": keys, "records": records, "base_url": sim.url}
    with (
        caplog.at_level(logging.ERROR, logger="paygate"),
        pytest.raises(RuntimeError, match="no encoding"),
    ):
        _authorize_twice(kind, options, api_key, f"order-bug-{kind}")
    [logged] = [r.getMessage() for r in caplog.records if "no outcome to store" in r.getMessage()]
    assert "pg1_" not in logged  # the derived key itself is not in the text
    [record] = list(records.scan("stripe"))
    assert record.status is PaymentStatus.AUTHORIZED
    assert records.intents() == []
    with psycopg.connect(postgres_conninfo, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM paygate_idempotency").fetchone() == (0,)


def test_only_a_postgres_idempotency_store_on_the_same_url_settles_with_the_records(
    stores: tuple[PostgresStore, PostgresRecordStore], postgres_conninfo: str
) -> None:
    keys, records = stores
    face: Any = records.records_for_asyncio()  # opens nothing until its first call
    assert records.settling(keys) is not None
    assert face.settling(keys) is not None
    other = PostgresStore(postgres_conninfo + " application_name=elsewhere", pool_size=1)
    try:
        assert records.settling(other) is None
        assert face.settling(other) is None
    finally:
        other.close()
    assert records.settling(MemoryStore()) is None
    assert face.settling(MemoryStore()) is None
