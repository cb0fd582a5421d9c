"""The ``paygate`` command: the demo runs the main flows and fails loudly if one goes wrong."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from paygate import _demo
from paygate.cli import app
from paygate.errors import CardDeclinedError

runner = CliRunner()


def test_demo_runs_every_flow_and_charges_once_after_a_lost_answer() -> None:
    result = runner.invoke(app, ["demo"])
    assert result.exit_code == 0, result.output
    for text in ("partially_captured", "insufficient_funds", "partially_refunded"):
        assert text in result.output
    assert "one charge, not two" in result.output


def test_a_step_that_does_not_go_as_expected_fails_the_run() -> None:
    run = _demo.DemoRun("t")
    run.step("fine", lambda: "ok", lambda: "-")
    assert not run.failed
    run.step("should decline", lambda: "authorized", lambda: "-", expect=CardDeclinedError)
    assert run.failed


@pytest.mark.parametrize("args", [["--help"], ["demo", "--help"], ["sandbox", "serve", "--help"]])
def test_every_command_explains_itself(args: list[str]) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 0 and "Usage" in result.output
