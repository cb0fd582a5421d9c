"""The Redis idempotency store's own promises: Redis's clock, Redis's expiry, fail closed.

The rules it shares with every store run in tests/idempotency/test_stores.py; these need the
real Redis at PAYGATE_TEST_REDIS_URL (skipped without it), under a key prefix of their own.
"""

from __future__ import annotations

import socket

import pytest

from paygate.errors import ErrorCode, StoreUnavailable

redis = pytest.importorskip("redis")
RedisStore = pytest.importorskip("paygate.idempotency.redis").RedisStore


@pytest.fixture
def prefix(redis_prefix: str) -> str:
    return redis_prefix


def test_leases_and_expiry_run_on_the_redis_clock(redis_url: str, prefix: str) -> None:
    store = RedisStore(redis_url, prefix=prefix, ttl=30)
    client = redis.Redis.from_url(redis_url)
    try:
        token = store.begin("k", "fp", lease_seconds=5).token
        seconds, micros = client.time()
        lease_until = float(client.hget(prefix + "k", "lease_until"))
        assert abs(lease_until - (seconds + micros / 1e6 + 5)) < 1.0
        assert 34_000 < client.pttl(prefix + "k") <= 35_000  # in flight: lease + ttl
        assert token is not None and store.complete("k", token, "done")
        assert 29_000 < client.pttl(prefix + "k") <= 30_000  # completed: ttl
        assert client.hget(prefix + "k", "token") is None
    finally:
        client.close()
        store.close()


def test_an_unreachable_redis_is_refused_when_the_store_opens() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(StoreUnavailable) as refused:
        RedisStore(f"redis://127.0.0.1:{port}/0", socket_timeout=0.5)
    assert refused.value.code is ErrorCode.STORE_UNAVAILABLE and refused.value.retriable
