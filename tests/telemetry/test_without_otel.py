"""paygate without the ``otel`` extra: it imports, calls and emits events as ever, never
imports OpenTelemetry, and ``OpenTelemetry()`` names the extra to install."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

SCRIPT = textwrap.dedent(
    """
    import sys
    sys.modules["opentelemetry"] = None  # as if it were not installed

    import httpx
    import paygate
    from paygate import Gateway, Money, PaymentSource
    from paygate.errors import ConfigurationError
    from paygate.telemetry import OperationEnded

    def answer(request):
        return httpx.Response(404, json={"error": {"type": "invalid_request_error",
                                                  "code": "resource_missing"}})

    seen = []
    gw = Gateway.for_stripe("sk_test_x", transport=httpx.MockTransport(answer),
                            on_event=seen.append)
    try:
        gw.retrieve("pi_missing")
    except paygate.errors.TerminalError:
        pass
    assert any(isinstance(e, OperationEnded) for e in seen), seen
    try:
        paygate.telemetry.OpenTelemetry
    except ConfigurationError as exc:
        assert "pip install 'paygate[otel]'" in str(exc), exc
    else:
        raise AssertionError("OpenTelemetry without the extra")
    assert not any(m.startswith("opentelemetry.") for m in sys.modules), "imported"
    print("ok")
    """
)


DEMO = textwrap.dedent(
    """
    import sys
    sys.modules["opentelemetry"] = None  # as if it were not installed
    sys.argv = ["paygate", "demo"]
    from paygate.cli import main
    main()
    """
)


def _run(script: str) -> subprocess.CompletedProcess[str]:
    root = Path(__file__).resolve().parents[2]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(root / "src"), str(root)]))
    return subprocess.run(
        [sys.executable, "-c", script],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_paygate_works_without_opentelemetry() -> None:
    done = _run(SCRIPT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_the_demo_runs_without_opentelemetry_and_says_what_it_leaves_out() -> None:
    done = _run(DEMO)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "install opentelemetry-sdk" in done.stdout
