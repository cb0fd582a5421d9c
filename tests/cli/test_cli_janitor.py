"""``paygate janitor run|watch`` and ``paygate unknown list`` on a SQLite store the settings
name: an unknown outcome listed with its age and what was tried, then checked and settled."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from tests.conftest import API_KEY
from typer.testing import CliRunner

from paygate import Gateway, JanitorPolicy, Money, PaymentSource, Settings
from paygate.cli import app
from paygate.errors import OutcomeUnknown
from paygate.telemetry import key_digest
from paygate.testing import Fault, StripeSimulator

runner = CliRunner()


@pytest.fixture
def settings(tmp_path: Path, sim: StripeSimulator, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("PAYGATE_PROVIDER", "stripe")
    monkeypatch.setenv("PAYGATE_STRIPE__API_KEY", API_KEY)
    monkeypatch.setenv("PAYGATE_STRIPE__BASE_URL", sim.url)
    monkeypatch.setenv("PAYGATE_STORE__URL", f"sqlite:///{tmp_path / 'paygate.db'}")
    monkeypatch.setenv("PAYGATE_RETRY__MAX_ATTEMPTS", "1")
    return Settings.load()


def test_unknown_list_then_janitor_run_settles_it(settings: Settings, sim: StripeSimulator) -> None:
    sim.inject(Fault.server_error(503), times=None)
    with Gateway.from_settings(settings) as gw, pytest.raises(OutcomeUnknown):
        gw.authorize(
            Money("7.00", "EUR"), source=PaymentSource.token("pm_card_visa"),
            reference="cli-janitor", idempotency_key="cli-key",
        )  # fmt: skip
    listed = runner.invoke(app, ["unknown", "list"])
    assert listed.exit_code == 0, listed.output
    assert "authorize" in listed.output and key_digest("cli-key") in listed.output
    assert "cli-key" not in listed.output.replace(key_digest("cli-key"), "")

    early = runner.invoke(app, ["janitor", "run"])
    assert early.exit_code == 0, early.output
    assert "checked 0" in early.output  # the first check is due 5 minutes after
    listed = runner.invoke(app, ["unknown", "list"])
    assert "check 1 at" in listed.output

    sim.clear_faults()
    with Gateway.from_settings(settings) as gw:  # as cron would, five minutes later
        later = datetime.now(UTC) + timedelta(seconds=JanitorPolicy().schedule[0])
        done = gw.janitor(clock=lambda: later).run_once()
        assert (done.checked, done.settled) == (1, 1)
    assert "unknown outcomes (0)" in runner.invoke(app, ["unknown", "list"]).output
    watched = runner.invoke(app, ["janitor", "watch", "--interval", "0.1", "--passes", "2"])
    assert watched.exit_code == 0, watched.output
    assert "paygate janitor" in watched.output


@pytest.mark.parametrize("args", [["janitor", "--help"], ["unknown", "list", "--help"]])
def test_the_commands_explain_themselves(args: list[str]) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 0 and "Usage" in result.output
