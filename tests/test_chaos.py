"""The proof that no payment is lost: chaos against both simulators (every fault kind, threads
and asyncio tasks, application retries, cancellations, webhooks late and twice) and worker
processes SIGKILLed at random points and restarted, on SQLite and PostgreSQL. Both end with
no double charge or refund, nothing the provider did that paygate neither records nor lists
as unknown, and every unknown settled once the faults stop.

``make test`` runs a small, seeded version; ``make chaos`` (PAYGATE_CHAOS=large) the large one,
printing its figures.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from paygate.testing.chaos import ChaosConfig, ChaosReport, KillConfig, run_chaos, run_kills

LARGE = os.environ.get("PAYGATE_CHAOS") == "large"
CHAOS = (
    ChaosConfig(flows=1000, threads=8, tasks=50, fault_rate=0.2, cancel_rate=0.05, seed=7)
    if LARGE
    else ChaosConfig(flows=40, threads=4, tasks=12, fault_rate=0.3, cancel_rate=0.1, seed=3)
)
KILLS = {"flows": 150, "kills": 60} if LARGE else {"flows": 8, "kills": 4}


@pytest.fixture(autouse=True)
def _quiet() -> Iterator[None]:
    """The run logs every unknown outcome and refusal it provokes, by the thousand."""
    logger = logging.getLogger("paygate")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    yield
    logger.setLevel(level)


def _table(title: str, reports: list[ChaosReport]) -> str:
    rows = [
        f"{title}",
        "provider | orders | payments | refunds | double charges | double refunds | lost "
        "(payments, captures, voids, refunds) | wrong amounts | listed unknown before settling "
        "| open after | completed by the shopper (3-D Secure, iDEAL) | settle rounds | seconds",
    ]
    for r in reports:
        lost = (r.after.lost_payments, r.after.lost_captures, r.after.lost_voids)
        lost += (r.after.lost_refunds,)
        rows.append(
            f"{r.provider} | {r.orders} | {r.after.payments} | {r.after.refunds} | "
            f"{r.after.double_charges} | {r.after.double_refunds} | {lost} | "
            f"{r.after.wrong_amounts} | {r.before.unknown_open + r.before.intents_open} | "
            f"{r.after.unknown_open + r.after.intents_open} | {r.counts.get('ok complete', 0)} | "
            f"{r.settle_rounds} | "
            f"{r.seconds:.1f}"
        )
    return "\n".join(rows)


def _assert_sound(reports: list[ChaosReport]) -> None:
    for report in reports:
        assert report.before.problems() == {}, (report.provider, report.before.examples)
        assert report.after.problems() == {}, (report.provider, report.after.examples)
        assert report.after.unknown_open == 0 and report.after.intents_open == 0, (
            report.provider,
            report.after.examples,  # what is still open, and why its last check did not settle
            report.counts,
        )
        assert report.sound
        assert report.after.payments > 0


@pytest.mark.parametrize("stores", ["sqlite", "postgres", "redis"])
def test_chaos_loses_no_payment(
    stores: str, tmp_path: Path, request: pytest.FixtureRequest, capsys: pytest.CaptureFixture[str]
) -> None:
    """On SQLite (the blocking stores, in worker threads under asyncio), and on PostgreSQL and
    Redis, whose idempotency stores (and, on PostgreSQL, the record store's calls on a payment's
    path) the asyncio gateway calls with their asyncio drivers."""
    url = {
        "sqlite": lambda: "sqlite",
        "postgres": lambda: request.getfixturevalue("postgres_conninfo"),
        "redis": lambda: request.getfixturevalue("redis_url"),
    }[stores]()
    reports = run_chaos(dataclasses.replace(CHAOS, workdir=tmp_path, stores=url))
    with capsys.disabled():
        print("\n" + _table(f"chaos ({stores} stores)", reports))
    _assert_sound(reports)
    for report in reports:  # payments that asked the shopper (3-D Secure, iDEAL) went on
        assert report.counts.get("ok complete", 0) > 0, report.counts
    for report in reports:
        counts = report.counts
        # The run really met what it is about: faults of many kinds, unknown outcomes, calls
        # cancelled from outside, webhooks.
        assert len([k for k in counts if k.startswith("fault ")]) >= 10, counts
        assert sum(v for k, v in counts.items() if k.startswith("OutcomeUnknown")) > 0
        assert counts.get("cancelled by the caller", 0) > 0
        assert counts.get("webhook delivered", 0) > 0


@pytest.mark.parametrize("stores", ["sqlite", "postgres"])
def test_killed_workers_lose_no_payment(
    stores: str, tmp_path: Path, request: pytest.FixtureRequest, capsys: pytest.CaptureFixture[str]
) -> None:
    url = "sqlite" if stores == "sqlite" else request.getfixturevalue("postgres_conninfo")
    reports = run_kills(KillConfig(workdir=tmp_path, stores=url, **KILLS))
    with capsys.disabled():
        print("\n" + _table(f"kills ({stores} stores)", reports))
    _assert_sound(reports)
    assert all(report.counts["kills"] == KILLS["kills"] for report in reports)
