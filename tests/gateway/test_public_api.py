"""The public surface: one sorted __all__, reprs that say paygate, sync/async parity."""

from __future__ import annotations

import inspect

import paygate
from paygate import AsyncGateway, Gateway
from paygate.errors import __all__ as errors_all


def test_all_is_sorted_and_complete() -> None:
    assert paygate.__all__ == sorted(paygate.__all__)
    assert errors_all == sorted(errors_all)
    for name in paygate.__all__:
        assert hasattr(paygate, name), name
    public = {
        n
        for n in vars(paygate)
        if not n.startswith("_") and not inspect.ismodule(getattr(paygate, n))
    }
    assert public <= set(paygate.__all__)


def test_no_third_party_type_is_exported() -> None:
    for name in paygate.__all__:
        module = getattr(getattr(paygate, name), "__module__", "paygate")
        assert module.startswith("paygate"), (name, module)


def test_sync_and_async_gateways_have_the_same_operations() -> None:
    operations = ["authorize", "purchase", "capture", "void", "refund", "retrieve"]
    for name in operations:
        sync, aio = getattr(Gateway, name), getattr(AsyncGateway, name)
        assert not inspect.iscoroutinefunction(sync) and inspect.iscoroutinefunction(aio)
        assert inspect.signature(sync) == inspect.signature(aio), name
        assert sync.__doc__ == aio.__doc__
    public = lambda cls: {n for n in dir(cls) if not n.startswith("_")}  # noqa: E731
    assert public(Gateway) - {"close"} == public(AsyncGateway) - {"aclose"}


# What a gateway offers: the operations, the records, the constructors, closing, and the
# documented accessors. Anything else public is a leak of the machinery behind them.
DOCUMENTED_SURFACE = {
    # operations
    "authorize", "purchase", "capture", "void", "refund", "retrieve", "find", "complete_action",
    # records, webhooks, unknown outcomes
    "payment_record", "audit_trail", "handle_webhook", "unknown_payments", "resolve_unknown",
    "payments_awaiting_action", "janitor",
    # constructors
    "for_provider", "for_stripe", "for_adyen", "from_settings",
    # accessors
    "provider", "adapter", "store", "records", "breaker",
}  # fmt: skip


def test_the_gateways_public_names_are_the_documented_surface_only() -> None:
    assert {n for n in dir(Gateway) if not n.startswith("_")} == DOCUMENTED_SURFACE | {"close"}
    assert {n for n in dir(AsyncGateway) if not n.startswith("_")} == DOCUMENTED_SURFACE | {
        "aclose"
    }


def test_reprs_name_paygate() -> None:
    assert repr(paygate.Money("1", "EUR")).startswith("paygate.Money")
    assert repr(paygate.PaymentSource.token("pm_x")).startswith("paygate.PaymentSource")
