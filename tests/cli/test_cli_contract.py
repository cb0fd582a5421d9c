"""``paygate contract``, ``paygate errors`` (the table, the guide, one code looked up) and
``paygate --version``, run through typer's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from paygate import __version__
from paygate.cli import _contract as _cli_contract
from paygate.cli import app
from paygate.testing._contract_scenarios import SCENARIOS, Scenario
from paygate.testing.contract import Contract

runner = CliRunner()
DOC = Path(__file__).resolve().parents[2] / "docs" / "errors.md"


@pytest.fixture(autouse=True)
def no_contract_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in [n for n in os.environ if n.startswith("PAYGATE_CONTRACT_")]:
        monkeypatch.delenv(name)


@pytest.mark.parametrize("args", [["contract", "--help"], ["errors", "--help"]])
def test_every_command_explains_itself(args: list[str]) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 0 and "Usage" in result.output


def test_contract_on_the_simulators_passes_every_scenario() -> None:
    result = runner.invoke(app, ["contract", "--target", "sim"])
    assert result.exit_code == 0, result.output
    assert "contract: stripe on sim (30/30)" in result.output
    assert "contract: adyen on sim (30/30)" in result.output
    for scenario in SCENARIOS:
        assert scenario.name in result.output
    assert "card_declined/insufficient_funds" in result.output  # a normalized code seen
    assert "idempotency_conflict" in result.output


def test_a_failing_scenario_fails_the_run(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(c: Contract) -> None:
        raise AssertionError("the provider said something else")

    monkeypatch.setattr(_cli_contract, "SCENARIOS", (Scenario("broken", broken, "fails"),))
    result = runner.invoke(app, ["contract", "--provider", "stripe"])
    assert result.exit_code == 1, result.output
    assert "failed" in result.output and "the provider said something else" in result.output


def test_sandbox_without_credentials_names_the_missing_variable() -> None:
    result = runner.invoke(app, ["contract", "--provider", "adyen", "--target", "sandbox"])
    assert result.exit_code == 2
    assert "PAYGATE_CONTRACT_ADYEN_API_KEY" in result.output


def test_sandbox_names_every_providers_missing_variables_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PAYGATE_CONTRACT_ADYEN_API_KEY", "AQE_test")
    result = runner.invoke(app, ["contract", "--target", "sandbox"])
    assert result.exit_code == 2
    lines = result.output.splitlines()
    assert lines == [
        "stripe sandbox credentials missing: set PAYGATE_CONTRACT_STRIPE_API_KEY",
        "adyen sandbox credentials missing: set PAYGATE_CONTRACT_ADYEN_MERCHANT_ACCOUNT, "
        "PAYGATE_CONTRACT_ADYEN_HMAC_KEY",
    ]


def test_a_live_key_is_refused_before_any_call(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYGATE_CONTRACT_STRIPE_API_KEY", "sk_live_51Abcdefghijklmnop")
    result = runner.invoke(app, ["contract", "--provider", "stripe", "--target", "sandbox"])
    assert result.exit_code == 2
    assert "live Stripe key" in result.output and "sk_live_51Abc" not in result.output


def test_unknown_provider_or_scenario_is_bad_input() -> None:
    assert runner.invoke(app, ["contract", "--provider", "paypal"]).exit_code == 2
    assert runner.invoke(app, ["contract", "--scenario", "nope"]).exit_code == 2


def test_record_then_report_schema_drift(tmp_path: Path) -> None:
    args = ["contract", "--provider", "stripe", "--scenario", "authorize_full_capture"]
    args += ["--record", str(tmp_path)]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    saved = tmp_path / "stripe-sim.json"
    text = saved.read_text()
    assert "sk_test_paygate" not in text and "whsec_" not in text
    data = json.loads(text)
    assert data["responses"] and {r["scenario"] for r in data["responses"]} == {
        "authorize_full_capture"
    }
    again = runner.invoke(app, args)
    assert again.exit_code == 0 and "no schema drift" in again.output

    # As if Stripe had sent `amount` as a string and `status` had been there: both drifted.
    for response in data["responses"]:
        if isinstance(response["body"].get("amount"), int):
            response["body"]["amount"] = str(response["body"]["amount"])
            response["body"]["a_field_nobody_reads"] = 1
    saved.write_text(json.dumps(data))
    drifted = runner.invoke(app, args)
    assert drifted.exit_code == 1, drifted.output
    assert "schema drift" in drifted.output and "amount" in drifted.output
    assert "a_field_nobody_reads" not in drifted.output  # only fields the adapter relies on
    assert (tmp_path / "stripe-sim.new.json").is_file()


def test_errors_table_for_one_provider() -> None:
    result = runner.invoke(app, ["errors", "--provider", "stripe"])
    assert result.exit_code == 0, result.output
    assert "Stripe" in result.output and "Adyen" not in result.output
    assert "insufficient_funds" in result.output and "retriable" in result.output
    assert runner.invoke(app, ["errors", "--provider", "paypal"]).exit_code == 2


def test_errors_markdown_is_the_committed_page() -> None:
    result = runner.invoke(app, ["errors", "--format", "markdown"])
    assert result.exit_code == 0
    assert result.stdout == DOC.read_text(encoding="utf-8"), (
        "docs/errors.md is stale: run `paygate errors --format markdown > docs/errors.md`"
    )
    assert runner.invoke(app, ["errors", "--format", "markdown", "--provider", "x"]).exit_code == 2


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        # a normalized code: its meaning, and what to do on each branch it arrives under
        ("rate_limited", ["rate_limited (ErrorCode)", "as retriable: Repeat the same call"]),
        ("PROVIDER_UNAVAILABLE", ["provider_unavailable (ErrorCode)", "as outcome unknown:"]),
        # a decline reason, with each provider's default advice, and the provider codes for it
        (
            "insufficient_funds",
            [
                "insufficient_funds (DeclineReason",
                "default advice on Stripe and Adyen: retry_later",
                "Stripe error.decline_code insufficient_funds: becomes insufficient_funds",
            ],
        ),
        ("card_declined", ["card_declined (ErrorCode)", "Stripe error.code card_declined"]),
        # a provider's own codes, whatever field names them
        ("card_error", ["Stripe error.type card_error: becomes card_declined", "as terminal:"]),
        ("704", ["Adyen errorCode 704: becomes idempotency_in_flight", "as retriable:"]),
    ],
)
def test_errors_looks_one_code_up(term: str, expected: list[str]) -> None:
    result = runner.invoke(app, ["errors", term])
    assert result.exit_code == 0, result.output
    for text in expected:
        assert text in result.output, text
    # each value is explained once, however many tables name it
    lines = result.output.splitlines()
    meanings = [line.strip() for line in lines if "(ErrorCode)" in line or "(Decline" in line]
    assert meanings and len(meanings) == len(set(meanings))


def test_errors_looks_up_a_retry_advice() -> None:
    result = runner.invoke(app, ["errors", "do_not_retry"])
    assert result.exit_code == 0
    assert "do_not_retry (RetryAdvice, on CardDeclinedError.advice): Do not charge" in result.output


def test_an_unknown_code_is_refused_with_the_nearest_names() -> None:
    result = runner.invoke(app, ["errors", "ratelimited"])
    assert result.exit_code == 1
    assert "paygate knows no error code 'ratelimited'" in result.output
    assert "did you mean rate_limited" in result.output
    assert runner.invoke(app, ["errors", "zzzz-nothing"]).exit_code == 1


def test_a_lookup_takes_no_provider_or_format() -> None:
    result = runner.invoke(app, ["errors", "rate_limited", "--provider", "stripe"])
    words = " ".join(result.output.replace("│", " ").split())  # rich wraps the error box
    assert result.exit_code == 2 and "drop --provider and --format" in words


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"paygate {__version__}"


def test_sandbox_stops_at_once_when_no_sandbox_can_be_reached(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A machine without network is told so before any scenario, for every provider at once,
    instead of each scenario waiting out its deadline and retries."""
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed = int(probe.getsockname()[1])
    monkeypatch.setenv("PAYGATE_CONTRACT_STRIPE_API_KEY", "sk_test_contract")
    for name, value in {"API_KEY": "AQE_test", "MERCHANT_ACCOUNT": "M", "HMAC_KEY": "00FF"}.items():
        monkeypatch.setenv(f"PAYGATE_CONTRACT_ADYEN_{name}", value)
    monkeypatch.setattr(_cli_contract, "sandbox_address", lambda adapter: ("127.0.0.1", closed))
    result = runner.invoke(app, ["contract", "--target", "sandbox"])
    assert result.exit_code == 2, result.output
    assert result.output.splitlines() == [
        f"stripe sandbox unreachable: cannot connect to 127.0.0.1:{closed} (Connection refused)",
        f"adyen sandbox unreachable: cannot connect to 127.0.0.1:{closed} (Connection refused)",
        "the sandboxes need network access; --target sim runs offline",
    ]


def test_the_sandbox_probed_is_the_one_the_suite_would_call(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from paygate.testing.contract import adapter_named

    monkeypatch.setenv("PAYGATE_CONTRACT_STRIPE_API_KEY", "sk_test_contract")
    assert _cli_contract.sandbox_address(adapter_named("stripe")) == ("api.stripe.com", 443)
    for name, value in {"API_KEY": "AQE_test", "MERCHANT_ACCOUNT": "M", "HMAC_KEY": "00FF"}.items():
        monkeypatch.setenv(f"PAYGATE_CONTRACT_ADYEN_{name}", value)
    adyen = adapter_named("adyen")
    assert _cli_contract.sandbox_address(adyen) == ("checkout-test.adyen.com", 443)
    monkeypatch.setenv(
        "PAYGATE_CONTRACT_ADYEN_BASE_URL", "https://checkout-test.adyen.com:8443/v71"
    )
    assert _cli_contract.sandbox_address(adyen) == ("checkout-test.adyen.com", 8443)
