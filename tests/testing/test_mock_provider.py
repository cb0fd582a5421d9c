"""``MockProvider``, ``FakeClock`` and ``zero_backoff``: what a test written with them can rely
on (the core's guarantees proved through them are in ``tests/gateway/test_core_on_mock.py``)."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from paygate import Money, RetryPolicy, Timeout
from paygate.errors import ErrorCode, OutcomeUnknown, PaymentError, TerminalError
from paygate.resilience.retry import ZERO_BACKOFF
from paygate.testing import FakeClock, Fault, MockProvider, zero_backoff
from paygate.testing._server import IN_PROCESS_URL
from paygate.testing.contract import Sources

AMOUNT = Money("12.34", "EUR")
ONE_TRY = RetryPolicy(max_attempts=1)


def test_the_simulated_provider_answers_what_the_handler_passes_on(
    paygate_mock: MockProvider, paygate_sources: Sources
) -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> None:
        seen.append(request.url.path)

    paygate_mock.handler = handler
    with paygate_mock.gateway() as gw:
        payment = gw.authorize(AMOUNT, source=paygate_sources.approved, reference="m-1")
        gw.capture(payment.id)
        paygate_mock.deliver_webhooks(gw)  # Adyen confirms its capture by webhook
        record = gw.payment_record(payment.id)

    assert record is not None and record.status == "captured"
    assert seen == [r.url.path for r in paygate_mock.requests] and len(seen) == 2
    assert all(str(r.url).startswith(IN_PROCESS_URL) for r in paygate_mock.requests)
    assert paygate_mock.charges("m-1") == 1


def test_a_handlers_answer_is_the_providers(
    paygate_mock: MockProvider, paygate_sources: Sources
) -> None:
    paygate_mock.handler = lambda request: httpx.Response(502, text="<html>bad gateway</html>")
    with paygate_mock.gateway(retry=ONE_TRY) as gw, pytest.raises(PaymentError) as caught:
        gw.authorize(AMOUNT, source=paygate_sources.approved, reference="m-2")

    assert caught.value.http_status == 502
    assert paygate_mock.charges("m-2") == 0  # the simulated provider never saw it


def test_a_handler_raising_a_network_error_is_the_network(
    paygate_mock: MockProvider, paygate_sources: Sources
) -> None:
    def refuse(request: httpx.Request) -> None:
        raise httpx.ConnectError("connection refused", request=request)

    paygate_mock.handler = refuse
    with paygate_mock.gateway(retry=ONE_TRY) as gw, pytest.raises(PaymentError) as caught:
        gw.authorize(AMOUNT, source=paygate_sources.approved, reference="m-3")

    assert caught.value.code is ErrorCode.NETWORK
    assert not isinstance(caught.value, OutcomeUnknown)  # a refused connection sent nothing


def test_an_async_handler_answers_an_asyncio_gateway(
    paygate_mock: MockProvider, paygate_sources: Sources
) -> None:
    async def decline(request: httpx.Request) -> httpx.Response | None:
        await asyncio.sleep(0)
        return None

    paygate_mock.handler = decline

    async def scenario() -> str:
        async with paygate_mock.async_gateway() as gw:
            payment = await gw.authorize(AMOUNT, source=paygate_sources.approved, reference="m-4")
            return payment.status

    assert asyncio.run(scenario()) == "authorized"


def test_an_async_handler_is_refused_by_the_blocking_transport(paygate_mock: MockProvider) -> None:
    async def handler(request: httpx.Request) -> None:
        return None

    paygate_mock.handler = handler
    with pytest.raises(TypeError, match="AsyncGateway only"):
        paygate_mock.handle_request(httpx.Request("GET", f"{IN_PROCESS_URL}/anything"))


def test_a_connection_closed_after_the_provider_acted_is_an_unknown_outcome(
    paygate_mock: MockProvider, paygate_sources: Sources
) -> None:
    paygate_mock.inject(Fault.reset_after_commit())
    with paygate_mock.gateway(retry=ONE_TRY) as gw:
        with pytest.raises(OutcomeUnknown):
            gw.authorize(AMOUNT, source=paygate_sources.approved, reference="m-5")
        [unknown] = gw.unknown_payments()

    assert unknown.reference == "m-5"
    assert paygate_mock.charges("m-5") == 1


MIB = 1024 * 1024


@pytest.mark.parametrize(
    "fault", [Fault.oversized_body(8 * MIB), Fault.endless_body(), Fault.gzip_bomb(8 * MIB)]
)
def test_an_answer_too_large_is_refused_unread(
    paygate_mock: MockProvider, paygate_sources: Sources, fault: Fault
) -> None:
    paygate_mock.inject(fault)
    with paygate_mock.gateway(retry=ONE_TRY) as gw, pytest.raises(OutcomeUnknown) as caught:
        gw.authorize(AMOUNT, source=paygate_sources.approved, reference="m-6")

    assert "byte" in caught.value.message


def test_slow_headers_end_in_the_read_timeout_on_the_clock(
    paygate_mock: MockProvider, paygate_clock: FakeClock, paygate_sources: Sources
) -> None:
    paygate_mock.inject(Fault.slow_headers(5.0))
    timeout = Timeout(read=2.0, total=30.0)
    with (
        paygate_mock.gateway(retry=ONE_TRY, timeout=timeout) as gw,
        pytest.raises(OutcomeUnknown) as caught,
    ):
        gw.authorize(AMOUNT, source=paygate_sources.approved, reference="m-7")

    assert caught.value.code is ErrorCode.TIMEOUT
    assert paygate_clock.elapsed == 2.0


def test_latency_is_time_on_the_clock_not_a_wait(
    paygate_mock: MockProvider, paygate_clock: FakeClock, paygate_sources: Sources
) -> None:
    paygate_mock.inject(Fault.latency(45.0))
    with paygate_mock.gateway() as gw:
        payment = gw.authorize(AMOUNT, source=paygate_sources.approved, reference="m-8")

    assert payment.status == "authorized"
    assert paygate_clock.elapsed == 45.0 and paygate_clock.sleeps == [45.0]


def test_a_simulator_answering_in_process_does_not_also_serve_http(
    paygate_mock: MockProvider,
) -> None:
    with pytest.raises(RuntimeError, match="in process"):
        paygate_mock.simulator.start()


def test_a_mock_without_a_clock_waits_on_the_systems(
    paygate_provider: str, paygate_sources: Sources
) -> None:
    mock = MockProvider(paygate_provider)
    with mock.gateway() as gw:
        assert gw.authorize(AMOUNT, source=paygate_sources.approved, reference="m-9")
    assert "clock" not in mock.options()


def test_an_unknown_provider_is_refused() -> None:
    with pytest.raises(KeyError, match="no adapter 'acme'"):
        MockProvider("acme")


# -- FakeClock ----------------------------------------------------------------------------------
def test_the_fake_clock_moves_only_when_told_or_slept_on() -> None:
    clock = FakeClock(start=1_000.0)
    assert (clock.monotonic(), clock.time()) == (0.0, 1_000.0)
    clock.advance(2.5)
    clock.sleep(0.5)
    asyncio.run(clock.sleep_async(1.0))
    assert clock.sleeps == [0.5, 1.0]
    assert (clock.monotonic(), clock.time(), clock.elapsed) == (4.0, 1_004.0, 4.0)
    with pytest.raises(ValueError, match="does not go back"):
        clock.advance(-1.0)


# -- zero_backoff -------------------------------------------------------------------------------
def test_zero_backoff_nests_and_ends_with_its_last_block() -> None:
    assert not ZERO_BACKOFF
    with zero_backoff():
        with zero_backoff():
            assert ZERO_BACKOFF
        assert ZERO_BACKOFF
    assert not ZERO_BACKOFF
    with pytest.raises(RuntimeError, match="not on"):
        ZERO_BACKOFF.turn_off()


@pytest.mark.parametrize("paygate_provider", ["stripe"])
@pytest.mark.usefixtures("paygate_zero_backoff")
def test_the_plugins_zero_backoff_fixture_turns_waits_to_zero(
    paygate_mock: MockProvider, paygate_clock: FakeClock, paygate_sources: Sources
) -> None:
    paygate_mock.inject(Fault.server_error(503), times=2)
    with paygate_mock.gateway(retry=RetryPolicy(max_attempts=3, initial_backoff=9.0)) as gw:
        assert gw.retrieve(
            gw.authorize(AMOUNT, source=paygate_sources.approved, reference="z-1").id
        )
    assert paygate_clock.sleeps == [0.0, 0.0]


def test_a_decline_through_the_mock_is_the_providers_decline(
    paygate_mock: MockProvider, paygate_sources: Sources
) -> None:
    with paygate_mock.gateway() as gw, pytest.raises(TerminalError) as caught:
        gw.authorize(AMOUNT, source=paygate_sources.generic_decline, reference="m-10")
    assert caught.value.code is ErrorCode.CARD_DECLINED
