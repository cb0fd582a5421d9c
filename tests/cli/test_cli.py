"""The ``paygate`` command: the demo runs the main flows and fails loudly if one goes wrong."""

from __future__ import annotations

import shlex

import pytest
from typer.testing import CliRunner

from paygate.cli import _demo, app
from paygate.errors import CardDeclinedError

runner = CliRunner()


def test_demo_runs_every_flow_and_charges_once_after_a_lost_answer() -> None:
    result = runner.invoke(app, ["demo"])
    assert result.exit_code == 0, result.output
    for text in ("partially_captured", "insufficient_funds", "partially_refunded"):
        assert text in result.output
    assert "one charge, not two" in result.output
    assert "Adyen simulator on loopback" in result.output and "AUTHORISATION" in result.output
    assert "audit trail of" in result.output and "verify() finds it intact" in result.output
    # The picture: one payment's trace as a tree, and the metrics the demo produced.
    assert "paygate authorize" in result.output and "paygate.retry" in result.output
    assert "resend 1" in result.output and "http.client.request.duration" in result.output
    assert "paygate.bulkhead.in_use" in result.output


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


@pytest.mark.parametrize("provider", ["stripe", "adyen"])
def test_sandbox_serve_prints_the_settings_that_reach_it(provider: str) -> None:
    import re
    import subprocess
    import sys

    import httpx

    server = subprocess.Popen(
        [sys.executable, "-c", "from paygate.cli import main; main()", "sandbox", "serve",
         "--provider", provider],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert server.stdout is not None
        lines = [server.stdout.readline() for _ in range(3)]
        url = re.search(r"listening on (http://127\.0\.0\.1:\d+)", lines[0])
        assert url is not None, lines
        assert lines[1] == f"  export PAYGATE_PROVIDER={provider}\n"
        # Each setting is one shell word after ``export``, on one line however long it is.
        for line in lines[1:]:
            words = shlex.split(line)
            assert words[0] == "export" and len(words) == 2 and "=" in words[1], line
        state = httpx.get(f"{url.group(1)}/_sim/state", timeout=5)
        assert state.status_code == 200
        # The port it holds, asked for again: one line, no traceback.
        port = url.group(1).rsplit(":", 1)[1]
        taken = runner.invoke(app, ["sandbox", "serve", "--provider", provider, "--port", port])
        assert taken.exit_code == 1
        assert f"cannot listen on 127.0.0.1:{port}" in taken.output
        assert "Traceback" not in taken.output and taken.output.count("\n") == 1
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.mark.parametrize(
    ("provider", "option", "setting", "secret"),
    [
        ("stripe", "--webhook-secret", "PAYGATE_STRIPE__WEBHOOK_SECRET", "whsec_kept_across_runs"),
        ("adyen", "--hmac-key", "PAYGATE_ADYEN__HMAC_KEY", "00112233445566778899AABBCCDDEEFF"),
    ],
)
def test_sandbox_serve_takes_a_host_and_fixed_secrets(
    provider: str, option: str, setting: str, secret: str
) -> None:
    """Listening on every interface (for a client in a container), with the secret a service
    is already configured with, so restarting the simulator does not break its webhooks."""
    import re
    import subprocess
    import sys

    import httpx

    server = subprocess.Popen(
        [sys.executable, "-c", "from paygate.cli import main; main()", "sandbox", "serve",
         "--provider", provider, "--host", "0.0.0.0", option, secret],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert server.stdout is not None
        first = server.stdout.readline()
        url = re.search(r"listening on http://0\.0\.0\.0:(\d+)", first)
        assert url is not None, first
        exports: dict[str, str] = {}
        while (line := server.stdout.readline()).startswith("  export "):
            name, _, value = shlex.split(line)[1].partition("=")
            exports[name] = value
        assert exports[setting] == secret
        # Reached through an interface address, not only the one it was told.
        state = httpx.get(f"http://127.0.0.1:{url.group(1)}/_sim/state", timeout=5)
        assert state.status_code == 200
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_sandbox_serve_refuses_a_secret_its_provider_does_not_use_or_cannot_sign_with() -> None:
    other = runner.invoke(app, ["sandbox", "serve", "--provider", "adyen", "--webhook-secret", "x"])
    assert other.exit_code == 2
    assert other.output == "paygate sandbox serve: the adyen simulator takes no --webhook-secret\n"
    bad = runner.invoke(app, ["sandbox", "serve", "--provider", "adyen", "--hmac-key", "not-hex!"])
    assert bad.exit_code == 2 and "hmac_key must be a non-empty hex string" in bad.output
    assert "not-hex!" not in bad.output and "Traceback" not in bad.output
    no_host = runner.invoke(app, ["sandbox", "serve", "--host", "no-such-host.invalid"])
    assert no_host.exit_code == 1 and "cannot listen on no-such-host.invalid:0" in no_host.output
    assert "Traceback" not in no_host.output
