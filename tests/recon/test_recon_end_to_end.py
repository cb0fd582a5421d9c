"""Payments through the Gateway against each simulator, the simulator's settlement data
exported with injected discrepancies, reconciled: exactly the injected ones are found, and a
chargeback opens the record's dispute through the store with an audit entry citing the row."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from paygate import Gateway, Money, PaymentSource, RetryPolicy, Timeout
from paygate.errors import OutcomeUnknown
from paygate.recon import Category, ReconPolicy, read_settlement, reconcile
from paygate.testing import AdyenSimulator, Fault, SettlementFaults, StripeSimulator

C = Category
LATER = ReconPolicy(as_of=datetime.now(UTC) + timedelta(days=30))
VISA = PaymentSource.token("pm_card_visa")


@pytest.fixture
def stripe() -> Iterator[tuple[StripeSimulator, Gateway]]:
    with StripeSimulator() as sim, Gateway.for_stripe("sk_test_recon", base_url=sim.url) as gw:
        yield sim, gw


def _stripe_payments(gw: Gateway) -> dict[str, str]:
    """Five payments: plain, partially captured, refunded in part, and two more."""
    ids = {}
    for n in range(5):
        paid = gw.authorize(Money("20.00", "EUR"), source=VISA, reference=f"order-{n}")
        amount = Money("15.00", "EUR") if n == 1 else None
        gw.capture(paid.id, amount=amount)
        ids[f"order-{n}"] = paid.id
    gw.refund(ids["order-2"], amount=Money("5.00", "EUR"))
    return ids


def test_stripe_settlement_without_faults_matches(
    stripe: tuple[StripeSimulator, Gateway], tmp_path: Path
) -> None:
    sim, gw = stripe
    _stripe_payments(gw)
    report = sim.write_settlement(tmp_path / "itemized.csv")
    records = list(gw.records.scan("stripe"))
    result = reconcile("stripe", read_settlement("stripe", report), records, policy=LATER)
    assert result.findings == [] and result.exit_code == 0
    matched = result.tallies[(C.MATCHED, "EUR")]
    assert matched.count == 6  # five charges and one refund
    assert result.tallies[(C.RELEASE_EXPECTED, "EUR")].amount == -500
    assert result.tallies[(C.BOOKKEEPING, "EUR")].count == 1  # the payout


def test_stripe_injected_discrepancies_are_found_exactly(
    stripe: tuple[StripeSimulator, Gateway], tmp_path: Path
) -> None:
    sim, gw = stripe
    ids = _stripe_payments(gw)
    faults = SettlementFaults(
        missing=frozenset({ids["order-0"]}),
        doubled=frozenset({ids["order-3"]}),
        wrong_amount={ids["order-4"]: 7},
        chargebacks=frozenset({ids["order-2"]}),
        unknown_payments=2,
    )
    report = sim.write_settlement(tmp_path / "itemized.csv", faults)
    store = gw.records
    result = reconcile(
        "stripe", read_settlement("stripe", report), store.scan("stripe"), policy=LATER, store=store
    )
    found = sorted((f.category.value, f.payment_reference) for f in result.findings)
    unknown = sorted(f.payment_reference for f in result.of(C.SETTLED_WITHOUT_RECORD))
    assert found == sorted(
        [
            ("not_settled", ids["order-0"]),
            ("settled_twice", ids["order-3"]),
            ("amount_over", ids["order-4"]),
            ("chargeback", ids["order-2"]),
            *(("settled_without_record", pi) for pi in unknown),
        ]
    )
    assert len(unknown) == 2
    assert result.findings[0].category is C.SETTLED_WITHOUT_RECORD  # most serious first
    assert result.exit_code == 1
    over = result.of(C.AMOUNT_OVER)[0]
    assert (over.expected, over.settled) == (2000, 2007)
    # The chargeback opened the dispute, through the state machine, citing the row.
    disputed = store.find("stripe", ids["order-2"])
    assert disputed is not None and disputed.disputed
    entry = store.trail(disputed.record_id)[-1]
    assert entry.cause.kind == "settlement"
    assert entry.cause.line == result.of(C.CHARGEBACK)[0].line
    assert "chargeback opened" in entry.note
    assert result.applied == [disputed.record_id]
    # The same data again: the row is not applied twice.
    again = reconcile(
        "stripe", read_settlement("stripe", report), store.scan("stripe"), policy=LATER, store=store
    )
    assert again.applied == []
    assert len(store.trail(disputed.record_id)) == len(store.trail(disputed.record_id))


def test_a_partial_capture_settled_in_full_without_release(
    stripe: tuple[StripeSimulator, Gateway], tmp_path: Path
) -> None:
    sim, gw = stripe
    _stripe_payments(gw)
    report = sim.write_settlement(tmp_path / "itemized.csv")
    lines = report.read_text().splitlines(keepends=True)
    report.write_text("".join(line for line in lines if "partial_capture_reversal" not in line))
    result = reconcile(
        "stripe", read_settlement("stripe", report), gw.records.scan("stripe"), policy=LATER
    )
    assert [f.category for f in result.findings] == [C.RELEASE_MISSING]
    assert (result.findings[0].expected, result.findings[0].settled) == (1500, 2000)


@pytest.fixture
def adyen() -> Iterator[tuple[AdyenSimulator, Gateway]]:
    with (
        AdyenSimulator(auto_process=True) as sim,
        Gateway.for_adyen(
            "AQE_recon",
            merchant_account=sim.merchant_account,
            base_url=f"{sim.url}/v71",
            hmac_key=sim.hmac_key,
        ) as gw,
    ):
        yield sim, gw


def _adyen_payments(sim: AdyenSimulator, gw: Gateway) -> dict[str, str]:
    card = PaymentSource.card("4111111145551142", 3, 2030, "737", holder_name="A Shopper")
    ids = {}
    for n in range(5):
        paid = gw.authorize(Money("20.00", "EUR"), source=card, reference=f"order-{n}")
        amount = Money("15.00", "EUR") if n == 1 else None
        gw.capture(paid.id, amount=amount)
        ids[f"order-{n}"] = paid.id
    _deliver(sim, gw)  # Adyen's captures are done once their webhooks say so
    gw.refund(ids["order-2"], amount=Money("5.00", "EUR"))
    _deliver(sim, gw)
    return ids


def _deliver(sim: AdyenSimulator, gw: Gateway) -> None:
    for webhook in sim.drain_webhooks():
        gw.handle_webhook(webhook.headers, webhook.body)


@pytest.mark.parametrize("report", ["details", "accounting"])
def test_adyen_injected_discrepancies_are_found_exactly(
    adyen: tuple[AdyenSimulator, Gateway], tmp_path: Path, report: str
) -> None:
    sim, gw = adyen
    ids = _adyen_payments(sim, gw)
    clean = (
        sim.write_settlement_details(tmp_path / "clean.csv")
        if report == "details"
        else sim.write_payment_accounting(tmp_path / "clean.csv")
    )
    store = gw.records
    # The store itself: its records read as JSON documents, projected in DuckDB.
    result = reconcile("adyen", read_settlement("adyen", clean), store, policy=LATER)
    assert result.findings == []
    assert result.tallies[(C.MATCHED, "EUR")].count == 6
    faults = SettlementFaults(
        missing=frozenset({ids["order-0"]}),
        doubled=frozenset({ids["order-3"]}),
        wrong_amount={ids["order-4"]: -3},
        chargebacks=frozenset({ids["order-1"]}),
        unknown_payments=1,
    )
    path = tmp_path / "faulty.csv"
    if report == "details":
        sim.write_settlement_details(path, faults)
    else:
        sim.write_payment_accounting(path, faults)
    result = reconcile(
        "adyen", read_settlement("adyen", path), store.scan("adyen"), policy=LATER, store=store
    )
    found = sorted((f.category.value, f.payment_reference) for f in result.findings)
    unknown = [f.payment_reference for f in result.of(C.SETTLED_WITHOUT_RECORD)]
    assert found == sorted(
        [
            ("not_settled", ids["order-0"]),
            ("settled_twice", ids["order-3"]),
            ("amount_under", ids["order-4"]),
            ("chargeback", ids["order-1"]),
            ("settled_without_record", unknown[0]),
        ]
    )
    record = store.find("adyen", ids["order-1"])
    assert record is not None and record.disputed


def test_a_lost_answer_is_resolved_by_the_settlement(tmp_path: Path) -> None:
    """The authorize charged on Stripe and its answer never came back: the record holds an
    unknown outcome and no payment id; the settlement shows the charge under the record's
    reference, and reconciling resolves the record from it, citing the row."""
    with (
        StripeSimulator() as sim,
        Gateway.for_stripe(
            "sk_test_recon", base_url=sim.url, retry=RetryPolicy(max_attempts=1),
            timeout=Timeout(read=0.3, total=1.0),
        ) as gw,
    ):  # fmt: skip
        sim.inject(Fault.timeout_after_commit(hold=1.0), method="POST", path="/v1/payment_intents")
        with pytest.raises(OutcomeUnknown):
            gw.purchase(Money("30.00", "EUR"), source=VISA, reference="order-lost")
        [record] = gw.unknown_payments()
        assert record.payment_id is None and record.unknown
        report = sim.write_settlement(tmp_path / "itemized.csv")
        result = reconcile(
            "stripe", read_settlement("stripe", report), gw.records.scan("stripe"), store=gw.records
        )
        assert [f.category for f in result.findings] == [C.UNKNOWN_RESOLVED]
        assert result.exit_code == 0 and result.applied == [record.record_id]
        [intent] = sim.payment_intents(reference="order-lost")
        resolved = gw.records.get(record.record_id)
        assert resolved is not None and resolved.unknown == ()
        assert resolved.payment_id == intent["id"]
        assert resolved.amount_captured == Money("30.00", "EUR")
        assert gw.unknown_payments() == []
        cause = gw.records.trail(record.record_id)[-1].cause
        assert cause.kind == "settlement" and cause.line == result.findings[0].line
