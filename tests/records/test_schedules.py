"""The janitor's schedules in each record store: started once, claimed under a lease by one
owner at a time, moved on only by their holder, forgotten once settled."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from paygate.records import RecordStore
from paygate.records.schedule import Scheduled

NOW = datetime(2026, 11, 25, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def test_a_schedule_is_started_once(store: RecordStore) -> None:
    store.schedule_unknown([Scheduled("pr_1", "p", 0, NOW)])
    store.schedule_unknown(
        [Scheduled("pr_1", "p", 5, NOW + MINUTE), Scheduled("pr_2", "q", 0, NOW)]
    )
    [kept] = store.unknown_schedule("p")
    assert (kept.record_id, kept.step, kept.due_at) == ("pr_1", 0, NOW)
    assert [s.record_id for s in store.unknown_schedule("q")] == ["pr_2"]


def test_claims_lease_what_is_due_to_one_owner(store: RecordStore) -> None:
    store.schedule_unknown(
        [Scheduled("pr_late", "p", 0, NOW + MINUTE), Scheduled("pr_due", "p", 0, NOW)]
    )
    [claimed] = store.claim_unknown("p", "a", NOW, NOW + MINUTE, 10)
    assert (claimed.record_id, claimed.lease_owner) == ("pr_due", "a")
    assert claimed.lease_until == NOW + MINUTE
    assert store.claim_unknown("p", "b", NOW, NOW + MINUTE, 10) == []  # "a" holds it
    assert not store.reschedule_unknown(claimed, "b")
    moved = Scheduled("pr_due", "p", 1, NOW + 60 * MINUTE)
    assert store.reschedule_unknown(moved, "a")
    assert store.claim_unknown("p", "b", NOW + MINUTE, NOW + 2 * MINUTE, 10)[0].record_id == (
        "pr_late"
    )
    later = store.claim_unknown("p", "b", NOW + 61 * MINUTE, NOW + 62 * MINUTE, 10)
    steps = {s.record_id: s.step for s in later}  # pr_late's lease lapsed meanwhile
    assert steps == {"pr_late": 0, "pr_due": 1}


def test_a_lapsed_lease_is_taken_over_and_escalated_ones_are_left(store: RecordStore) -> None:
    store.schedule_unknown([Scheduled("pr_1", "p", 0, NOW), Scheduled("pr_2", "p", 0, NOW)])
    first = store.claim_unknown("p", "a", NOW, NOW + MINUTE, 1)
    assert len(first) == 1
    escalated = Scheduled("pr_2", "p", 7, NOW, escalated_at=NOW)
    [other] = store.claim_unknown("p", "b", NOW, NOW + MINUTE, 10)
    assert store.reschedule_unknown(escalated if other.record_id == "pr_2" else other, "b")
    taken = store.claim_unknown("p", "b", NOW + 2 * MINUTE, NOW + 3 * MINUTE, 10)
    assert [s.record_id for s in taken] == [first[0].record_id]
    store.unschedule_unknown("pr_1")
    store.unschedule_unknown("pr_2")
    assert store.unknown_schedule("p") == []


def test_concurrent_claims_never_share_a_record(store: RecordStore) -> None:
    store.schedule_unknown([Scheduled(f"pr_{i}", "p", 0, NOW) for i in range(40)])
    taken: list[list[str]] = [[] for _ in range(4)]

    def claim(i: int) -> None:
        while batch := store.claim_unknown("p", f"o{i}", NOW, NOW + MINUTE, 3):
            taken[i].extend(s.record_id for s in batch)

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [record_id for one in taken for record_id in one]
    assert sorted(every) == sorted(f"pr_{i}" for i in range(40))
