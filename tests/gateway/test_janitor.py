"""The janitor: unknown outcomes checked on the schedule, across the whole of it with an
injected clock; a provider failing, then recovering; escalation after the last check (never
marked failed); two instances sharing one PostgreSQL store, each unknown checked once per step."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from tests.conftest import API_KEY

from paygate import (
    AsyncGateway,
    BreakerPolicy,
    Gateway,
    JanitorPolicy,
    Money,
    PaymentSource,
    RetryPolicy,
)
from paygate.errors import OutcomeUnknown
from paygate.records import RecordStore
from paygate.telemetry import Event, OperationStarted, UnknownEscalated
from paygate.testing import Fault, StripeSimulator

VISA = PaymentSource.token("pm_card_visa")
ONCE = RetryPolicy(max_attempts=1)
OFF = BreakerPolicy(enabled=False)
SCHEDULE = JanitorPolicy().schedule  # 5 min, 1 h, then daily for five days


class Clock:
    """Now, moved by hand."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def _unknown(gw: Gateway, sim: StripeSimulator, n: int = 1) -> list[str]:
    """``n`` authorizes whose outcome is unknown (the provider answered 503 to each)."""
    sim.inject(Fault.server_error(503), times=None)
    for i in range(n):
        with pytest.raises(OutcomeUnknown):
            gw.authorize(Money("5.00", "EUR"), source=VISA, reference=f"janitor-{i}")
    return [r.record_id for r in gw.unknown_payments()]


@pytest.fixture
def gw(sim: StripeSimulator) -> Iterator[Gateway]:
    with Gateway.for_stripe(API_KEY, base_url=sim.url, retry=ONCE) as gateway:
        yield gateway


def test_nothing_is_checked_before_its_first_step(gw: Gateway, sim: StripeSimulator) -> None:
    _unknown(gw, sim)
    clock = Clock()
    janitor = gw.janitor(clock=clock)
    assert janitor.run_once().checked == 0
    clock.advance(SCHEDULE[0] - 5)
    assert janitor.run_once().checked == 0
    [scheduled] = gw.records.unknown_schedule("stripe")
    assert scheduled.step == 0


def test_the_whole_schedule_then_escalation_never_failure(
    sim: StripeSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    events: list[Event] = []
    with Gateway.for_stripe(API_KEY, base_url=sim.url, retry=ONCE, on_event=events.append) as gw:
        [record_id] = _unknown(gw, sim)
        clock = Clock()
        janitor = gw.janitor(clock=clock)
        for step, delay in enumerate(SCHEDULE):
            clock.advance(delay - 1)
            assert janitor.run_once().checked == 0, step  # not due yet
            clock.advance(1)
            done = janitor.run_once()
            assert done.checked == 1, step
            assert janitor.run_once().checked == 0, step  # once per step
            [scheduled] = gw.records.unknown_schedule("stripe")
            assert scheduled.step == step + 1
        assert done.escalated == (record_id,)
        assert scheduled.escalated_at == clock.now
        clock.advance(30 * 86400)
        assert janitor.run_once().checked == 0  # escalated: a person looks
        record = gw.records.get(record_id)
        assert record is not None and record.unknown  # still unknown, never failed
        assert record.status.value == "unknown"
    [escalated] = [e for e in events if isinstance(e, UnknownEscalated)]
    assert (escalated.record_id, escalated.attempts) == (record_id, len(SCHEDULE))
    assert "escalated, a person must look" in caplog.text


def test_a_record_settled_after_escalation_is_scheduled_afresh_for_its_next_unknown(
    gw: Gateway, sim: StripeSimulator
) -> None:
    """An escalated record settled since (here by resolve_unknown once the provider is back)
    loses its schedule; the next unknown outcome of the same payment starts a new schedule,
    checked from its first step, never taken for the old escalation."""
    payment = gw.authorize(Money("5.00", "EUR"), source=VISA, reference="janitor-again")
    sim.inject(Fault.server_error(503, after_commit=True), times=None)
    with pytest.raises(OutcomeUnknown):
        gw.capture(payment.id)
    clock = Clock()
    janitor = gw.janitor(JanitorPolicy(schedule=(300.0,)), clock=clock)  # one check
    clock.advance(300)
    assert janitor.run_once().escalated != ()
    sim.clear_faults()
    [settled] = gw.resolve_unknown(due_by=clock.now + timedelta(days=1))  # read back
    assert settled.settled and not gw.unknown_payments(), settled
    assert janitor.run_once().checked == 0
    assert gw.records.unknown_schedule("stripe") == []  # the escalation went with it
    sim.inject(Fault.server_error(503, after_commit=True), times=None)
    with pytest.raises(OutcomeUnknown):
        gw.refund(payment.id, amount=Money("1.00", "EUR"))
    assert janitor.run_once().checked == 0  # scheduled, not due
    [scheduled] = gw.records.unknown_schedule("stripe")
    assert (scheduled.step, scheduled.escalated_at) == (0, None)
    sim.clear_faults()
    clock.advance(300)
    assert janitor.run_once().settled == 1


def test_a_provider_failing_then_recovering(gw: Gateway, sim: StripeSimulator) -> None:
    [record_id] = _unknown(gw, sim)
    clock = Clock()
    janitor = gw.janitor(clock=clock)
    clock.advance(SCHEDULE[0])
    assert janitor.run_once().still_unknown == 1  # still failing
    sim.clear_faults()
    clock.advance(SCHEDULE[1])
    done = janitor.run_once()
    assert (done.checked, done.settled) == (1, 1)
    assert [r.settled for r in done.resolutions] == [True]
    record = gw.records.get(record_id)
    assert record is not None and not record.unknown
    assert record.status.value == "authorized"
    assert gw.records.unknown_schedule("stripe") == []
    assert len(sim.payment_intents(reference="janitor-0")) == 1  # one payment, not two


def test_a_lease_keeps_a_record_from_a_second_instance(gw: Gateway, sim: StripeSimulator) -> None:
    _unknown(gw, sim)
    clock = Clock()
    first, second = gw.janitor(clock=clock, owner="a"), gw.janitor(clock=clock, owner="b")
    first.run_once()  # schedules it
    clock.advance(SCHEDULE[0])
    records: RecordStore = gw.records
    lease = clock.now + timedelta(seconds=60)
    [held] = records.claim_unknown("stripe", "a", clock.now, lease, 10)
    assert second.run_once().checked == 0  # "a" holds it
    assert not records.reschedule_unknown(held, "b")
    clock.advance(61)  # "a" stopped; its lease lapsed
    assert second.run_once().checked == 1


def test_two_instances_share_one_postgres_store(
    sim: StripeSimulator, postgres_conninfo: str
) -> None:
    from paygate.records.postgres import PostgresRecordStore

    stores = [PostgresRecordStore(postgres_conninfo, pool_size=4) for _ in range(2)]
    gateways = [
        Gateway.for_stripe(API_KEY, base_url=sim.url, retry=ONCE, records=store, breaker=OFF)
        for store in stores
    ]
    try:
        records = _unknown(gateways[0], sim, n=12)
        clock = Clock()
        janitors = [
            gw.janitor(JanitorPolicy(batch=3), clock=clock, owner=f"instance-{i}")
            for i, gw in enumerate(gateways)
        ]
        shared = [0, 0]
        for step, delay in enumerate(SCHEDULE[:3]):
            clock.advance(delay)
            checked: list[list[str]] = [[], []]
            start = threading.Barrier(2)

            def work(i: int, out: list[str], start: threading.Barrier = start) -> None:
                start.wait()
                while True:
                    done = janitors[i].run_once()
                    if not done.checked:
                        return
                    out.extend(r.record_id for r in done.resolutions)

            threads = [threading.Thread(target=work, args=(i, checked[i])) for i in range(2)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            assert sorted(checked[0] + checked[1]) == sorted(records), step  # once, none twice
            shared = [shared[0] + len(checked[0]), shared[1] + len(checked[1])]
        assert all(shared), shared  # both instances did some of the work
    finally:
        for gw in gateways:
            gw.close()
        for store in stores:
            store.close()


async def test_the_async_janitor_settles_once_the_provider_recovers(sim: StripeSimulator) -> None:
    async with AsyncGateway.for_stripe(API_KEY, base_url=sim.url, retry=ONCE) as gw:
        sim.inject(Fault.server_error(503), times=None)
        with pytest.raises(OutcomeUnknown):
            await gw.authorize(Money("5.00", "EUR"), source=VISA, reference="janitor-async")
        clock = Clock()
        janitor = gw.janitor(clock=clock)
        clock.advance(SCHEDULE[0])
        assert (await janitor.run_once()).still_unknown == 1
        sim.clear_faults()
        clock.advance(SCHEDULE[1])
        assert (await janitor.run_once()).settled == 1
        assert await gw.unknown_payments() == []
    assert len(sim.payment_intents(reference="janitor-async")) == 1


class _DuringCheck:
    """A listener that runs ``then`` once, when the janitor's first check starts its call: the
    time another instance would act while this one is still checking."""

    def __init__(self) -> None:
        self.then: Callable[[], object] | None = None
        self.events: list[Event] = []

    def __call__(self, event: Event) -> None:
        self.events.append(event)
        if isinstance(event, OperationStarted) and self.then is not None:
            then, self.then = self.then, None
            then()


def test_a_long_check_never_lets_a_record_it_has_not_reached_be_checked_twice(
    sim: StripeSimulator,
) -> None:
    """Each record is leased as its check begins: while one check outlasts the lease, the
    records after it are not this instance's yet, so another may take them, and this one then
    leaves them alone (a lease taken for the whole batch up front would have lapsed, and both
    instances would check them)."""
    during = _DuringCheck()
    with Gateway.for_stripe(API_KEY, base_url=sim.url, retry=ONCE, on_event=during) as gw:
        first_id, second_id = _unknown(gw, sim, n=2)
        clock = Clock()
        policy = JanitorPolicy(lease=60)
        janitor = gw.janitor(policy, clock=clock, owner="a")
        janitor.run_once()  # schedules them
        clock.advance(SCHEDULE[0])
        taken: list[str] = []

        def meanwhile() -> None:  # the first check outlasts its lease; "b" claims what is free
            clock.advance(61)
            now = clock.now
            claimed = gw.records.claim_unknown("stripe", "b", now, now + timedelta(minutes=1), 10)
            taken.extend(s.record_id for s in claimed)

        during.then = meanwhile
        done = janitor.run_once()
    # "b" took both (the one "a" was checking had outlasted its lease too); "a" checked only
    # the one it had begun, and left the next to "b".
    assert sorted(taken) == sorted([first_id, second_id])
    assert done.checked == 1 and len({r.record_id for r in done.resolutions}) == 1


def test_an_instance_whose_lease_lapsed_mid_check_leaves_the_escalation_to_its_successor(
    sim: StripeSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    during = _DuringCheck()
    with Gateway.for_stripe(API_KEY, base_url=sim.url, retry=ONCE, on_event=during) as gw:
        [record_id] = _unknown(gw, sim)
        clock = Clock()
        last_check = JanitorPolicy(schedule=(300.0,), lease=60)  # one check, then escalation
        janitor = gw.janitor(last_check, clock=clock, owner="a")
        janitor.run_once()
        clock.advance(300)

        def meanwhile() -> None:  # "a" stalls past its lease; "b" takes the record over
            clock.advance(61)
            now = clock.now
            [held] = gw.records.claim_unknown("stripe", "b", now, now + timedelta(minutes=1), 1)
            assert held.record_id == record_id

        during.then = meanwhile
        done = janitor.run_once()
        assert (done.checked, done.still_unknown, done.escalated) == (1, 1, ())
        [scheduled] = gw.records.unknown_schedule("stripe")
        assert (scheduled.lease_owner, scheduled.step, scheduled.escalated_at) == ("b", 0, None)
    assert not [e for e in during.events if isinstance(e, UnknownEscalated)]
    assert "escalated, a person must look" not in caplog.text
