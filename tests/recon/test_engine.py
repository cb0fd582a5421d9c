"""The DuckDB engine under the matching: exact integers past a float's precision, text carried
through staging exactly (quotes, commas, new lines, empty strings), and no extension but those
built into the duckdb wheel."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pytest
from tests.recon.test_matching import NOW, entry, expected

from paygate.recon import Category, EntryKind, ReconPolicy, matching, reconcile

C = Category


def test_amounts_past_a_floats_precision_are_summed_exactly() -> None:
    big = 2**53 + 1  # a double holds 2**53 + 1 as 2**53
    rows = [
        entry("stripe", amount=big, modification_reference="ch_1"),
        entry("stripe", amount=big, modification_reference="ch_2", entry_id="e2", line=3),
    ]
    record = expected("stripe", authorized=2 * big, captured=2 * big + 1)
    result = reconcile("stripe", rows, [record], policy=ReconPolicy(as_of=NOW))
    [under] = result.findings
    assert (under.category, under.expected, under.settled) == (C.AMOUNT_UNDER, 2 * big + 1, 2 * big)
    assert result.tallies[(C.AMOUNT_UNDER, "EUR")].amount == 2 * big


@pytest.mark.parametrize(
    "text", ['a "quoted", comma', "two\nlines", "", "-9223372036854775809", "é ∑ 日本"]
)
def test_text_goes_through_staging_exactly(text: str) -> None:
    row = entry("adyen", payment_reference="nobody", merchant_reference=text,
                modification_reference=None, provider_kind=text)  # fmt: skip
    result = reconcile("adyen", [row], [], policy=ReconPolicy(as_of=NOW))
    [found] = result.findings
    assert found.merchant_reference == text and found.modification_reference is None
    assert found.note == f"{text}: no record"


def test_a_chargebacks_action_carries_the_entry_as_read() -> None:
    dispute = entry("stripe", EntryKind.CHARGEBACK, -2000, modification_reference="dp_1",
                    exchange_rate=None, payout="po_1")  # fmt: skip
    matcher = matching.Matcher("stripe", [expected("stripe")], ReconPolicy(as_of=NOW))
    with matcher:
        for row in (entry("stripe"), dispute, dispute._replace(entry_id="e3", line=4)):
            matcher.feed(row)
        matcher.finish()
    assert [a.entry for a in matcher.actions] == [dispute, dispute._replace(entry_id="e3", line=4)]


def test_no_extension_is_loaded_but_those_built_in(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[str, bool, str]] = []
    engine = matching.connect

    @contextmanager
    def watched(spill: Path) -> Iterator[duckdb.DuckDBPyConnection]:
        with engine(spill) as db:
            yield db
            seen.extend(
                db.execute(
                    "SELECT extension_name, loaded, install_path FROM duckdb_extensions() "
                    "WHERE loaded OR installed"
                ).fetchall()
            )
            # An extension that is not built in is refused, never fetched.
            with pytest.raises(duckdb.Error, match="INSTALL sqlite_scanner"):
                db.execute("SELECT * FROM sqlite_scan('x.db', 't')")

    monkeypatch.setattr(matching, "connect", watched)
    result = reconcile("stripe", [entry("stripe")], [expected("stripe")])
    assert result.tallies[(C.MATCHED, "EUR")].count == 1
    assert seen and all(path == "(BUILT-IN)" for _, _, path in seen), seen


def test_not_settled_names_when_the_record_last_changed_in_its_own_offset() -> None:
    paris = timezone(timedelta(hours=2))
    record = expected("stripe", changed_at=datetime(2026, 11, 1, 9, 30, 59, tzinfo=paris))
    [late] = reconcile("stripe", [], [record], policy=ReconPolicy(as_of=NOW)).findings
    assert late.note == "captured, not settled since 2026-11-01 09:30"
