"""The readers, on rows written here in each provider's documented format: exact minor
units, signs, fees and FX; and every refusal (unknown columns, unknown record types, malformed
rows, amounts finer than the currency allows) names its line."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paygate.recon import (
    EntryKind,
    ReportError,
    minor_units,
    read_balance_transactions,
    read_payment_accounting,
    read_settlement,
    read_settlement_details,
    read_stripe_report,
)
from paygate.recon.adyen import ACCOUNTING_TYPES, SETTLEMENT_TYPES
from paygate.recon.entries import currency
from paygate.recon.stripe import CATEGORIES

STRIPE = [
    "balance_transaction_id", "created_utc", "available_on_utc", "currency", "gross", "fee",
    "net", "reporting_category", "source_id", "customer_facing_amount",
    "customer_facing_currency", "automatic_payout_id", "payment_intent_id",
    "payment_metadata[reference]",
]  # fmt: skip
SDR = [
    "Company Account", "Merchant Account", "Psp Reference", "Merchant Reference",
    "Payment Method", "Creation Date", "TimeZone", "Type", "Modification Reference",
    "Gross Currency", "Gross Debit (GC)", "Gross Credit (GC)", "Exchange Rate", "Net Currency",
    "Net Debit (NC)", "Net Credit (NC)", "Commission (NC)", "Markup (NC)", "Scheme Fees (NC)",
    "Interchange (NC)", "Payment Method Variant", "Modification Merchant Reference",
    "Batch Number",
]  # fmt: skip
PAR = [
    "Psp Reference", "Merchant Reference", "Booking Date", "TimeZone", "Record Type",
    "Modification Psp Reference", "Payment Currency", "Captured (PC)", "Settlement Currency",
    "Payable (SC)", "Commission (SC)", "Markup (SC)", "Scheme Fees (SC)", "Interchange (SC)",
]  # fmt: skip


def write(path: Path, header: Sequence[str], *rows: Sequence[str]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def stripe_row(**cells: str) -> list[str]:
    row = dict.fromkeys(STRIPE, "")
    row.update(
        balance_transaction_id="txn_1", created_utc="2026-11-25 12:00:00", currency="eur",
        gross="20.00", fee="0.53", net="19.47", reporting_category="charge", source_id="ch_1",
        payment_intent_id="pi_1", automatic_payout_id="po_1",
    )  # fmt: skip
    row["payment_metadata[reference]"] = "order-1"
    row.update(cells)
    return list(row.values())


def sdr_row(**cells: str) -> list[str]:
    row = dict.fromkeys(SDR, "")
    row.update(
        {
            "Psp Reference": "PSP1", "Merchant Reference": "order-1",
            "Creation Date": "2026-11-25 13:00:00", "TimeZone": "CET", "Type": "Settled",
            "Modification Reference": "CAP1", "Gross Currency": "EUR",
            "Gross Credit (GC)": "20.00", "Net Currency": "EUR", "Net Credit (NC)": "19.70",
            "Commission (NC)": "0.30", "Batch Number": "7",
        }
    )  # fmt: skip
    row.update({k.replace("_", " "): v for k, v in cells.items()})
    return list(row.values())


def test_minor_units_are_exact_and_refuse_what_the_currency_cannot_hold() -> None:
    assert minor_units("12.34", currency("EUR")) == 1234
    assert minor_units("-0.5", currency("EUR")) == -50
    assert minor_units("1500", currency("JPY")) == 1500
    assert minor_units("1.234", currency("KWD")) == 1234
    with pytest.raises(ValueError, match="more decimals than JPY allows"):
        minor_units("12.5", currency("JPY"))
    with pytest.raises(ValueError, match="more decimals than EUR allows"):
        minor_units("0.001", currency("EUR"))
    for text in ("", "abc", "NaN", "Infinity", "1.2.3", "--1", "1 000"):
        with pytest.raises(ValueError, match="not a"):
            minor_units(text, currency("EUR"))
    # Other forms Decimal reads are read exactly too.
    assert minor_units("+1.5E2", currency("EUR")) == 15000
    assert minor_units("12.340", currency("EUR")) == 1234
    assert minor_units(".5", currency("EUR")) == 50


@settings(max_examples=300)
@given(
    st.sampled_from(["EUR", "JPY", "KWD"]),
    st.from_regex(r"-?[0-9]{1,20}(\.[0-9]{0,5})?", fullmatch=True),
)
def test_minor_units_of_a_plain_decimal_are_its_exact_value(code: str, text: str) -> None:
    """Plain decimals are read with integers (the fast way): always what the decimal is."""
    exact = Decimal(text).scaleb(currency(code).exponent)
    if exact != exact.to_integral_value():
        with pytest.raises(ValueError, match="more decimals"):
            minor_units(text, currency(code))
    elif not -(2**63) <= exact < 2**63:  # what matching holds: a 64-bit integer
        with pytest.raises(ValueError, match="out of range"):
            minor_units(text, currency(code))
    else:
        assert minor_units(text, currency(code)) == int(exact)


def test_a_stripe_report_row_becomes_an_exact_entry(tmp_path: Path) -> None:
    path = write(tmp_path / "r.csv", STRIPE, stripe_row(), stripe_row(
        balance_transaction_id="txn_2", gross="-5.00", fee="0.00", net="-5.00",
        reporting_category="refund", source_id="re_1",
    ))  # fmt: skip
    charge, refund = read_stripe_report(path)
    assert (charge.kind, charge.gross, charge.fee, charge.net) == (EntryKind.CHARGE, 2000, 53, 1947)
    assert charge.payment_reference == "pi_1" and charge.merchant_reference == "order-1"
    assert charge.modification_reference == "ch_1" and charge.payout == "po_1"
    assert charge.created == datetime(2026, 11, 25, 12, tzinfo=UTC)
    assert (charge.source, charge.line) == ("r.csv", 2)
    assert (refund.kind, refund.amount, refund.line) == (EntryKind.REFUND, -500, 3)


def test_a_converted_stripe_charge_keeps_both_currencies(tmp_path: Path) -> None:
    path = write(tmp_path / "r.csv", STRIPE, stripe_row(
        currency="eur", gross="18.40", fee="0.50", net="17.90", customer_facing_amount="20.00",
        customer_facing_currency="usd",
    ))  # fmt: skip
    (entry,) = read_stripe_report(path)
    assert (entry.currency, entry.gross, entry.amount_currency, entry.amount) == (
        "EUR",
        1840,
        "USD",
        2000,
    )


@pytest.mark.parametrize(
    ("cells", "message"),
    [
        ({"reporting_category": "charge_sideways"}, "line 2: unknown reporting_category"),
        ({"gross": "20.005"}, "line 2: gross: 20.005 has more decimals than EUR allows"),
        ({"currency": "jpy", "gross": "2000.5"}, "line 2: gross: 2000.5 has more decimals"),
        ({"currency": "xyz"}, "line 2: currency: unknown currency"),
        ({"fee": "abc"}, "line 2: fee: not a decimal amount"),
        ({"net": ""}, "line 2: net is empty"),
        ({"created_utc": "yesterday"}, "line 2: created_utc: not a date and time"),
    ],
)
def test_a_malformed_stripe_row_is_refused_with_its_line(
    tmp_path: Path, cells: dict[str, str], message: str
) -> None:
    path = write(tmp_path / "r.csv", STRIPE, stripe_row(**cells))
    with pytest.raises(ReportError, match=message) as caught:
        list(read_stripe_report(path))
    assert caught.value.line == 2


def test_an_unknown_or_incomplete_header_is_refused_on_line_one(tmp_path: Path) -> None:
    path = write(tmp_path / "r.csv", [*STRIPE, "mystery"], [*stripe_row(), "?"])
    with pytest.raises(ReportError, match=r"line 1: .*unknown columns: 'mystery'"):
        list(read_stripe_report(path))
    path = write(tmp_path / "r.csv", [c for c in STRIPE if c != "net"], stripe_row()[:-1])
    with pytest.raises(ReportError, match=r"line 1: .*missing columns: 'net'"):
        list(read_stripe_report(path))
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(ReportError, match="line 1: empty file"):
        list(read_stripe_report(tmp_path / "empty.csv"))


def test_metadata_columns_are_read_and_a_short_row_is_refused(tmp_path: Path) -> None:
    header = [*STRIPE, "payment_metadata[cart]", "refund_metadata[why]"]
    path = write(tmp_path / "r.csv", header, [*stripe_row(), "c1", ""], stripe_row())
    entries = read_stripe_report(path)
    assert next(entries).entry_id == "txn_1"
    with pytest.raises(ReportError, match="line 3: 14 cells where the header has 16 columns"):
        next(entries)


def test_every_stripe_category_has_a_kind() -> None:
    assert CATEGORIES["partial_capture_reversal"] is EntryKind.RELEASE
    assert CATEGORIES["dispute"] is EntryKind.CHARGEBACK
    assert set(CATEGORIES.values()) <= set(EntryKind)


def test_balance_transactions_api_objects_are_read_in_stripe_minor_units() -> None:
    page = [
        {
            "id": "txn_a", "object": "balance_transaction", "amount": 2000, "fee": 53,
            "net": 1947, "currency": "eur", "reporting_category": "charge",
            "created": 1764072000, "available_on": 1764676800, "exchange_rate": None,
            "source": {"id": "ch_1", "object": "charge", "payment_intent": "pi_1",
                       "currency": "eur", "amount": 2000, "metadata": {"reference": "order-1"}},
        },
        {
            "id": "txn_b", "amount": 50000, "fee": 0, "net": 50000, "currency": "isk",
            "reporting_category": "charge", "created": 1764072000, "source": "ch_2",
        },
    ]  # fmt: skip
    charge, isk = read_balance_transactions(page, first_line=101)
    assert (charge.gross, charge.payment_reference, charge.merchant_reference) == (
        2000,
        "pi_1",
        "order-1",
    )
    assert charge.line == 101 and charge.available is not None
    # ISK: Stripe writes hundredths; ISO 4217 has no minor unit.
    assert (isk.gross, isk.modification_reference, isk.line) == (500, "ch_2", 102)
    with pytest.raises(ReportError, match=r"line 7: amount: 500\.50 has more decimals than ISK"):
        list(read_balance_transactions([{**page[1], "amount": 50050}], first_line=7))
    with pytest.raises(ReportError, match="unknown reporting_category 'mystery'"):
        list(read_balance_transactions([{**page[1], "reporting_category": "mystery"}]))
    with pytest.raises(ReportError, match="fee is not an integer"):
        list(read_balance_transactions([{**page[1], "fee": 1.5}]))


def test_an_adyen_settlement_details_report_is_read_with_signs_and_fees(tmp_path: Path) -> None:
    path = write(
        tmp_path / "settlement_detail_report_batch_7.csv",
        SDR,
        sdr_row(),
        sdr_row(**{"Type": "Refunded", "Modification Reference": "REF1", "Gross Credit (GC)": "",
                   "Gross Debit (GC)": "5.00", "Net Credit (NC)": "", "Net Debit (NC)": "5.00",
                   "Commission (NC)": ""}),
        sdr_row(**{"Type": "MerchantPayout", "Psp Reference": "", "Merchant Reference": "",
                   "Modification Reference": "", "Gross Currency": "", "Gross Credit (GC)": "",
                   "Net Credit (NC)": "", "Net Debit (NC)": "14.70", "Commission (NC)": ""}),
        sdr_row(**{"Gross Currency": "USD", "Gross Credit (GC)": "21.70",
                   "Exchange Rate": "0.92166", "Modification Reference": "CAP2"}),
    )  # fmt: skip
    settled, refunded, payout, converted = read_settlement_details(path)
    assert (settled.kind, settled.gross, settled.fee, settled.net) == (
        EntryKind.CHARGE,
        2000,
        30,
        1970,
    )
    assert settled.created == datetime(2026, 11, 25, 12, tzinfo=UTC)  # CET
    assert settled.payout == "7" and settled.modification_reference == "CAP1"
    assert (refunded.kind, refunded.gross, refunded.net, refunded.amount) == (
        EntryKind.REFUND,
        -500,
        -500,
        -500,
    )
    assert (payout.kind, payout.net, payout.net_checks) == (EntryKind.PAYOUT, -1470, True)
    assert (converted.amount_currency, converted.amount, converted.currency) == ("USD", 2170, "EUR")
    assert converted.exchange_rate == Decimal("0.92166") and converted.gross == 2000


@pytest.mark.parametrize(
    ("cells", "message"),
    [
        ({"Type": "SettledSideways"}, "line 2: unknown Type 'SettledSideways'"),
        ({"TimeZone": "Mars/Olympus"}, "line 2: TimeZone: unknown time zone"),
        ({"Gross Currency": "JPY", "Gross Credit (GC)": "20.5"}, "more decimals than JPY"),
        ({"Exchange Rate": "-1"}, "Exchange Rate: not a positive rate"),
    ],
)
def test_a_malformed_adyen_row_is_refused_with_its_line(
    tmp_path: Path, cells: dict[str, str], message: str
) -> None:
    path = write(tmp_path / "sdr.csv", SDR, sdr_row(), sdr_row(**cells))
    with pytest.raises(ReportError, match=message.replace("line 2", "line 3")) as caught:
        list(read_settlement_details(path))
    assert caught.value.line == 3


def test_an_adyen_payment_accounting_report_signs_by_record_type(tmp_path: Path) -> None:
    base = dict.fromkeys(PAR, "")
    base.update({"Psp Reference": "PSP1", "Merchant Reference": "order-1", "TimeZone": "UTC",
                 "Booking Date": "2026-11-25 12:00:00", "Payment Currency": "EUR"})  # fmt: skip
    rows = [
        {**base, "Record Type": "Authorised"},
        {**base, "Record Type": "Settled", "Captured (PC)": "20.00", "Settlement Currency": "EUR",
         "Payable (SC)": "19.70", "Commission (SC)": "0.30", "Modification Psp Reference": "CAP1"},
        {**base, "Record Type": "Refunded", "Captured (PC)": "5.00", "Settlement Currency": "EUR",
         "Payable (SC)": "5.00", "Modification Psp Reference": "REF1"},
    ]  # fmt: skip
    path = write(tmp_path / "par.csv", PAR, *(list(r.values()) for r in rows))
    status, settled, refunded = read_settlement("adyen", path)
    assert status.kind is EntryKind.STATUS and status.net == 0
    assert (settled.gross, settled.fee, settled.net, settled.amount) == (2000, 30, 1970, 2000)
    assert (refunded.kind, refunded.amount, refunded.modification_reference) == (
        EntryKind.REFUND,
        -500,
        "REF1",
    )
    bad = write(tmp_path / "bad.csv", PAR, list({**base, "Record Type": "Teleported"}.values()))
    with pytest.raises(ReportError, match="line 2: unknown Record Type 'Teleported'"):
        list(read_payment_accounting(bad))


def test_adyen_tables_know_the_documented_types() -> None:
    for name in ("Settled", "Refunded", "Chargeback", "ChargebackReversed", "SecondChargeback",
                 "RefundedReversed", "Fee", "MiscCosts", "MerchantPayout", "DepositCorrection",
                 "InvoiceDeduction", "SettledBulk", "RefundedBulk"):  # fmt: skip
        assert name in SETTLEMENT_TYPES
    for name in ("Received", "Authorised", "SentForSettle", "Settled", "SentForRefund",
                 "Refunded", "Chargeback"):  # fmt: skip
        assert name in ACCOUNTING_TYPES


def test_a_file_that_is_no_adyen_report_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "x.csv", ["a", "b"], ["1", "2"])
    with pytest.raises(ReportError, match="line 1: neither an Adyen"):
        read_settlement("adyen", path)
    with pytest.raises(ValueError, match="no settlement reader for 'paypal'"):
        read_settlement("paypal", path)


def test_progress_is_told_the_characters_read(tmp_path: Path) -> None:
    rows = [stripe_row(balance_transaction_id=f"txn_{n}") for n in range(40_000)]
    path = write(tmp_path / "r.csv", STRIPE, *rows)
    seen: list[int] = []
    assert sum(1 for _ in read_stripe_report(path, progress=seen.append)) == 40_000
    assert len(seen) >= 3 and seen == sorted(seen)
    assert seen[-1] == path.stat().st_size  # ASCII: one character a byte


def test_the_public_names_are_sorted_and_exist() -> None:
    from paygate import recon, testing

    assert recon.__all__ == sorted(recon.__all__)
    assert all(hasattr(recon, name) for name in recon.__all__)
    assert "SettlementFaults" in testing.__all__
