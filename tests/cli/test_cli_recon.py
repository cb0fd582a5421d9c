"""``paygate recon`` end to end: payments through a Gateway with a SQLite record store, the
simulator's settlement data, the command's summary, report file and exit status."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from paygate import Gateway, Money, PaymentSource
from paygate.cli import app
from paygate.records import SQLiteRecordStore
from paygate.testing import SettlementFaults, StripeSimulator

KEY = "sk_test_cli_recon_00000"


@pytest.fixture
def settled(tmp_path: Path) -> Iterator[tuple[StripeSimulator, str, list[str]]]:
    url = f"sqlite:///{tmp_path / 'records.db'}"
    with (
        StripeSimulator() as sim,
        Gateway.for_stripe(
            KEY, base_url=sim.url, records=SQLiteRecordStore(tmp_path / "records.db")
        ) as gw,
    ):
        ids = [
            gw.purchase(Money("12.00", "EUR"), source=PaymentSource.token("pm_card_visa"),
                        reference=f"cli-{n}").id
            for n in range(3)
        ]  # fmt: skip
        yield sim, url, ids


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["recon", *args], terminal_width=160)
    return result.exit_code, result.output


def test_a_clean_file_exits_zero(
    settled: tuple[StripeSimulator, str, list[str]], tmp_path: Path
) -> None:
    sim, url, _ = settled
    report = sim.write_settlement(tmp_path / "itemized.csv")
    status, output = run("--provider", "stripe", "--file", str(report), "--records", url)
    assert status == 0, output
    assert "matched" in output and "bookkeeping" in output


def test_discrepancies_exit_one_and_are_written(
    settled: tuple[StripeSimulator, str, list[str]], tmp_path: Path
) -> None:
    sim, url, ids = settled
    faults = SettlementFaults(doubled=frozenset({ids[0]}), unknown_payments=1)
    report = sim.write_settlement(tmp_path / "itemized.csv", faults)
    out = tmp_path / "found.jsonl"
    status, output = run("--provider", "stripe", "--file", str(report), "--records", url,
                         "--report", str(out))  # fmt: skip
    assert status == 1, output
    assert "settled_without_record" in output and "settled_twice" in output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["category"] for r in rows] == ["settled_without_record", "settled_twice"]
    assert rows[1]["payment_reference"] == ids[0] and rows[1]["settled"] == "12.00"
    csv_out = tmp_path / "found.csv"
    run("--provider", "stripe", "--file", str(report), "--records", url, "--report", str(csv_out))
    assert csv_out.read_text().splitlines()[0].startswith("category,priority,")


def test_unreadable_data_exits_two_naming_the_line(
    settled: tuple[StripeSimulator, str, list[str]], tmp_path: Path
) -> None:
    sim, url, _ = settled
    report = sim.write_settlement(tmp_path / "itemized.csv")
    lines = report.read_text().splitlines()
    lines[2] = lines[2].replace(",charge,", ",charge_of_the_light_brigade,")
    report.write_text("\n".join(lines) + "\n")
    status, output = run("--provider", "stripe", "--file", str(report), "--records", url)
    assert status == 2
    assert "itemized.csv, line 3: unknown reporting_category" in output
    assert run("--provider", "stripe", "--records", url)[0] == 2  # no --file, no --since
    assert run("--provider", "paypal", "--file", str(report), "--records", url)[0] == 2
    status, output = run("--provider", "stripe", "--file", str(report), "--records", url,
                         "--tolerance", "EUR=0.001")  # fmt: skip
    assert status == 2 and "EUR=0.001" in output


def test_the_api_path_and_a_progress_bar(
    settled: tuple[StripeSimulator, str, list[str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim, url, ids = settled
    sim.inject_settlement(SettlementFaults(wrong_amount={ids[1]: 100}))
    since = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S")
    until = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S")
    monkeypatch.setenv("PAYGATE_STRIPE__API_KEY", KEY)
    status, output = run("--provider", "stripe", "--since", since, "--until", until,
                         "--records", url, "--base-url", sim.url)  # fmt: skip
    assert status == 1 and "amount_over" in output, output
    assert KEY not in output
    import paygate.cli._recon as command

    monkeypatch.setattr(command, "_LONG_FILE", 0)  # every file is long: the bar is drawn
    report = sim.write_settlement(tmp_path / "itemized.csv")
    status, output = run("--provider", "stripe", "--file", str(report), "--records", url,
                         "--tolerance", "EUR=1.00")  # fmt: skip
    assert status == 0, output
