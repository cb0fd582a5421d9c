"""Policies: small frozen configuration objects with named, documented defaults.

Users configure these, never tenacity or httpx objects, nor the breaker's state table. Each is
a pydantic model so settings (environment, TOML) can nest them: ``PAYGATE_RETRY__MAX_ATTEMPTS=5``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from paygate._quiet import QuietModel

__all__ = [
    "Backend",
    "BreakerPolicy",
    "BulkheadPolicy",
    "HttpPolicy",
    "IdempotencyPolicy",
    "JanitorPolicy",
    "LimitsPolicy",
    "ReattemptPolicy",
    "RetryPolicy",
    "Timeout",
]


class _Policy(QuietModel):
    # Policies nest in the settings, where an error never repeats or holds a value given.
    model_config = ConfigDict(frozen=True, extra="forbid")


class Timeout(_Policy):
    """Per-attempt httpx timeouts and the total deadline of one call across all its attempts."""

    connect: float = Field(default=3.0, gt=0, description="seconds to open a connection")
    read: float = Field(default=30.0, gt=0, description="seconds between bytes of the answer")
    write: float = Field(default=10.0, gt=0, description="seconds to send the request")
    pool: float = Field(default=5.0, gt=0, description="seconds to wait for a pooled connection")
    total: float = Field(
        default=60.0, gt=0, description="deadline of one call, all attempts and waits included"
    )


class RetryPolicy(_Policy):
    """Retries of retriable failures, always with the same idempotency key."""

    max_attempts: int = Field(default=3, ge=1, le=20, description="attempts, the first included")
    initial_backoff: float = Field(default=0.25, ge=0, description="backoff ceiling, 1st retry")
    max_backoff: float = Field(default=8.0, ge=0, description="largest backoff ceiling")
    multiplier: float = Field(default=2.0, ge=1, description="growth of the backoff ceiling")
    max_retry_after: float = Field(
        default=30.0,
        ge=0,
        description="a Retry-After longer than this ends the call instead of waiting",
    )


class BreakerPolicy(_Policy):
    """The per-provider circuit breaker. Only provider-health failures count."""

    enabled: bool = Field(default=True, description="turn the breaker off entirely")
    failure_threshold: int = Field(default=5, ge=1, description="consecutive failures to open")
    reset_timeout: float = Field(default=30.0, gt=0, description="seconds open before a probe")
    success_threshold: int = Field(default=1, ge=1, description="probe successes to close")


class BulkheadPolicy(_Policy):
    """Bounded concurrency per provider."""

    max_concurrent: int = Field(default=64, ge=1, description="calls in flight at once")
    max_wait: float = Field(default=1.0, ge=0, description="seconds to wait for a free slot")


class ReattemptPolicy(_Policy):
    """How often a merchant-initiated payment may be tried again on a card that was declined,
    within the caps the card networks publish and fine beyond: Mastercard counts more than 10
    declines of a card in a day as excessive, Visa more than 15 reattempts in 30 days (and
    none after a decline it says will never be approved). The defaults are the stricter of
    the two, for a card whose network is not known."""

    max_per_day: int = Field(default=10, ge=1, description="declines of a card in 24 hours")
    max_per_30_days: int = Field(default=15, ge=1, description="declines of a card in 30 days")


class IdempotencyPolicy(_Policy):
    """The local idempotency store's leases and waits."""

    lease: float = Field(
        default=120.0, gt=0, description="seconds a crashed owner's in-flight key stays locked"
    )
    in_flight_wait: float = Field(
        default=5.0, ge=0, description="seconds to wait for a concurrent duplicate to finish"
    )
    poll_interval: float = Field(default=0.05, gt=0, description="seconds between store polls")


class JanitorPolicy(_Policy):
    """When the janitor checks an unknown outcome again (``gw.janitor()``, ``paygate janitor``):
    Kill Bill's schedule by default, at 5 minutes, then an hour later, then daily for five
    days. Still unknown after the last check, it is escalated to a person, never marked
    failed."""

    schedule: tuple[float, ...] = Field(
        default=(300.0, 3600.0, 86400.0, 86400.0, 86400.0, 86400.0, 86400.0),
        min_length=1,
        description="seconds before each check: the first after the outcome became unknown, "
        "each next after the check before it",
    )
    lease: float = Field(
        default=300.0,
        gt=0,
        description="seconds one instance holds a record it is checking, from that record's "
        "check on: longer than one record's check takes",
    )
    batch: int = Field(
        default=100, ge=1, description="records one instance checks per pass, claimed one by one"
    )


Backend = Literal["auto", "aiohttp", "httpx"]


class HttpPolicy(_Policy):
    """Which HTTP client sends a gateway's requests."""

    backend: Backend = Field(
        default="auto",
        description="what AsyncGateway sends with: aiohttp (the paygate[aiohttp] extra), "
        "httpx, or auto: aiohttp when it is installed, else httpx. Gateway always uses httpx",
    )


class LimitsPolicy(_Policy):
    """How much a provider's answer or a webhook delivery may weigh in memory."""

    response_body: int = Field(
        default=4 * 1024 * 1024,
        ge=1024,
        description="bytes of a provider's answer, once decoded; past it the answer is refused",
    )
    webhook_body: int = Field(
        default=1024 * 1024,
        ge=1024,
        description="bytes of a webhook delivery; past it the delivery is refused unread",
    )
