"""A gateway's options are typed and checked where it is built: mypy refuses a dict where a
policy belongs and a misspelled option, and at run time the same mistakes are a ``TypeError``
at construction that names the option (never the value given), not an ``AttributeError`` at
the first retry. A number of seconds is the obvious timeout: the total deadline."""

from __future__ import annotations

import asyncio
import textwrap
from pathlib import Path
from typing import Any

import pytest
from mypy import api as mypy_api

from paygate import AsyncGateway, Gateway, RetryPolicy, Timeout

KEY = "sk_test_51PaygateOptionsKey0000000000"
SECRET = "sk_live_not_to_be_echoed"


@pytest.mark.parametrize("kind", [Gateway, AsyncGateway])
def test_a_number_of_seconds_is_the_total_deadline(kind: Any) -> None:
    for gw, total in (
        (kind.for_stripe(KEY, timeout=5.0), 5.0),
        (kind.for_adyen(KEY, merchant_account="M", timeout=2), 2),
    ):
        assert gw._pipeline.timeout == Timeout(total=total)
        if kind is AsyncGateway:
            asyncio.run(gw.aclose())
        else:
            gw.close()


@pytest.mark.parametrize("kind", [Gateway, AsyncGateway])
@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"retry": {"max_attempts": 2, "note": SECRET}}, "retry takes a paygate.RetryPolicy"),
        ({"timeout": SECRET}, "timeout takes a paygate.Timeout or a number of seconds"),
        ({"timeout": True}, "timeout takes a paygate.Timeout"),
        ({"breaker": RetryPolicy()}, "breaker takes a paygate.BreakerPolicy"),
        ({"http": "aiohttp"}, "http takes a paygate.HttpPolicy"),
        ({"timeuot": 5.0}, "a gateway takes no option 'timeuot'; did you mean 'timeout'?"),
        ({"retries": RetryPolicy()}, "did you mean 'retry'?"),
    ],
)
def test_a_wrong_option_is_refused_at_construction(
    kind: Any, options: dict[str, Any], message: str
) -> None:
    for build in (
        lambda: kind.for_stripe(KEY, **options),
        lambda: kind.for_provider("stripe", api_key=KEY, **options),
    ):
        with pytest.raises(TypeError) as refused:
            build()
        assert message in str(refused.value)
        assert SECRET not in str(refused.value)


def test_mypy_catches_a_wrong_option(tmp_path: Path) -> None:
    source = tmp_path / "service.py"
    source.write_text(
        textwrap.dedent(
            """
            from paygate import AsyncGateway, Gateway, RetryPolicy

            Gateway.for_stripe("sk_test_x", retry={"max_attempts": 2})
            AsyncGateway.for_adyen("k", merchant_account="M", timeuot=5.0)
            Gateway.for_stripe("sk_test_x", timeout=5.0, retry=RetryPolicy(max_attempts=2))
            """
        ),
        encoding="utf-8",
    )
    out, _, status = mypy_api.run(
        ["--strict", "--no-incremental", "--cache-dir=/dev/null", str(source)]
    )
    assert status == 1, out
    assert 'Argument "retry" to "for_stripe"' in out and 'expected "RetryPolicy"' in out
    assert 'Unexpected keyword argument "timeuot"' in out
    assert "service.py:6" not in out  # the right options pass
