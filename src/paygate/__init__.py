"""paygate: one typed Gateway for Stripe, Adyen and more, with transactional integrity built in.

Errors live in ``paygate.errors``; simulators and test helpers in ``paygate.testing``; events,
OpenTelemetry traces and metrics, and log fields in ``paygate.telemetry``.
"""

__version__ = "0.1.0"

from paygate.adapters.registry import (
    ProviderErrorTables,
    ProviderSettings,
    ProviderSpec,
    register_provider,
    unregister_provider,
)
from paygate.config import Settings
from paygate.gateway import AsyncGateway, AsyncJanitor, Gateway, Janitor, JanitorPass
from paygate.idempotency import IdempotencyStore, MemoryStore, SQLiteStore
from paygate.models import (
    ActionKind,
    BrowserInfo,
    CardDetails,
    NextAction,
    Payment,
    PaymentSource,
    PaymentStatus,
    RedirectMethod,
    Refund,
    RefundStatus,
    StoredCredential,
)
from paygate.money import Currency, Money
from paygate.resilience.policies import (
    BreakerPolicy,
    BulkheadPolicy,
    HttpPolicy,
    IdempotencyPolicy,
    JanitorPolicy,
    LimitsPolicy,
    ReattemptPolicy,
    RetryPolicy,
    Timeout,
)

__all__ = [
    "ActionKind",
    "AsyncGateway",
    "AsyncJanitor",
    "BreakerPolicy",
    "BrowserInfo",
    "BulkheadPolicy",
    "CardDetails",
    "Currency",
    "Gateway",
    "HttpPolicy",
    "IdempotencyPolicy",
    "IdempotencyStore",
    "Janitor",
    "JanitorPass",
    "JanitorPolicy",
    "LimitsPolicy",
    "MemoryStore",
    "Money",
    "NextAction",
    "Payment",
    "PaymentSource",
    "PaymentStatus",
    "ProviderErrorTables",
    "ProviderSettings",
    "ProviderSpec",
    "ReattemptPolicy",
    "RedirectMethod",
    "Refund",
    "RefundStatus",
    "RetryPolicy",
    "SQLiteStore",
    "Settings",
    "StoredCredential",
    "Timeout",
    "__version__",
    "register_provider",
    "unregister_provider",
]
