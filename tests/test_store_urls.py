"""Stores chosen by URL, end to end through Gateway.from_settings(): PostgreSQL for the records
and keys, Redis for the keys and the shared breaker. Skipped where the servers are absent."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from urllib.parse import quote

import pytest

from paygate import BreakerPolicy, Gateway, Money, PaymentSource, RetryPolicy
from paygate.errors import CircuitOpen, ConfigurationError, OutcomeUnknown
from paygate.testing import Fault, StripeSimulator

VISA = PaymentSource.token("pm_card_visa")


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A URL to a migrated scratch schema of the test database, dropped afterwards."""
    url = os.environ.get("PAYGATE_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("PAYGATE_TEST_POSTGRES_URL is not set")
    import psycopg

    from paygate._migrations import upgrade

    schema = f"paygate_urls_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
        try:
            scoped = f"{url}?options={quote(f'-csearch_path={schema}')}"
            upgrade(scoped)
            yield scoped
        finally:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
def redis_url(redis_url: str) -> Iterator[str]:
    """The test Redis (conftest), with the default breaker keys these tests write deleted."""
    import redis

    yield redis_url
    with redis.Redis.from_url(redis_url) as client:
        for key in client.scan_iter(match="paygate:breaker:stripe*"):
            client.delete(key)


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch, sim: StripeSimulator) -> None:
    for name in [n for n in os.environ if n.startswith("PAYGATE_") and "TEST" not in n]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("PAYGATE_PROVIDER", "stripe")
    monkeypatch.setenv("PAYGATE_STRIPE__API_KEY", "sk_test_urls")
    monkeypatch.setenv("PAYGATE_STRIPE__BASE_URL", sim.url)
    monkeypatch.setenv("PAYGATE_RETRY__MAX_ATTEMPTS", "1")


def test_postgres_holds_keys_and_records(
    settings: None, postgres_url: str, monkeypatch: pytest.MonkeyPatch, sim: StripeSimulator
) -> None:
    from paygate.idempotency.postgres import PostgresStore
    from paygate.records.postgres import PostgresRecordStore

    monkeypatch.setenv("PAYGATE_STORE__URL", postgres_url)
    with Gateway.from_settings() as first, Gateway.from_settings() as second:
        assert isinstance(first.store, PostgresStore)
        assert isinstance(first.records, PostgresRecordStore)
        p = first.authorize(Money("7.00", "EUR"), source=VISA, reference="order-pg")
        again = second.authorize(Money("7.00", "EUR"), source=VISA, reference="order-pg")
        assert again == p  # the second instance replays the first one's stored outcome
        assert second.payment_record(p.id).status.value == "authorized"
    assert sim.request_count(method="POST") == 1


@pytest.mark.parametrize(
    ("change", "said"),
    [
        ({"dbname": "paygate_no_such_database"}, "the database does not exist"),
        ({"user": "paygate_no_such_role"}, "the role does not exist"),
    ],
    ids=["no-such-database", "no-such-role"],
)
def test_a_store_url_the_server_refuses_is_a_configuration_error(
    settings: None, monkeypatch: pytest.MonkeyPatch, change: dict[str, str], said: str
) -> None:
    """A URL PostgreSQL refuses is a mistake to fix, not a server to wait for: a
    ``ConfigurationError`` saying what the server refused, without the URL's password."""
    url = os.environ.get("PAYGATE_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("PAYGATE_TEST_POSTGRES_URL is not set")
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    given = conninfo_to_dict(url)
    wrong = make_conninfo("", **{**given, **change, "password": "hunter2DoNotPrint"})
    monkeypatch.setenv("PAYGATE_STORE__URL", "postgresql://?" + wrong.replace(" ", "&"))
    with pytest.raises(ConfigurationError) as refused:
        Gateway.from_settings()
    assert said in str(refused.value) and "check the store URL" in str(refused.value)
    assert str(refused.value).startswith("PAYGATE_STORE__URL (TOML: url in [store]): ")
    assert "hunter2DoNotPrint" not in str(refused.value) + repr(refused.value)
    assert refused.value.__cause__ is None and refused.value.__suppress_context__


def test_a_breaker_opened_by_one_instance_is_open_for_another(
    settings: None,
    redis_url: str,
    monkeypatch: pytest.MonkeyPatch,
    sim: StripeSimulator,
) -> None:
    monkeypatch.setenv("PAYGATE_STORE__URL", "memory://")
    monkeypatch.setenv("PAYGATE_STORE__BREAKER_URL", redis_url)
    monkeypatch.setenv("PAYGATE_BREAKER__FAILURE_THRESHOLD", "2")
    sim.inject(Fault.server_error(503), times=None)
    with Gateway.from_settings() as failing, Gateway.from_settings() as other:
        assert failing.breaker.backend.shared and other.breaker.backend.shared
        for n in range(2):
            with pytest.raises(OutcomeUnknown):
                failing.authorize(Money("1.00", "EUR"), source=VISA, reference=f"order-r{n}")
        reached = len(sim.requests)
        with pytest.raises(CircuitOpen):
            other.authorize(Money("1.00", "EUR"), source=VISA, reference="order-other")
        assert len(sim.requests) == reached  # the other instance failed fast


def test_redis_cannot_hold_the_records(settings: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYGATE_STORE__URL", "redis://127.0.0.1:6379/0")
    with pytest.raises(ValueError, match="Redis cannot hold payment records"):
        Gateway.from_settings()


def test_policies_stay_configurable(settings: None) -> None:
    with Gateway.from_settings() as gw:
        assert gw._pipeline.retry == RetryPolicy(max_attempts=1)
        assert gw.breaker.policy == BreakerPolicy()
        assert not gw.breaker.backend.shared
