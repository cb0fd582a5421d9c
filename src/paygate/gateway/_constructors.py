"""The constructors both gateway twins share: by provider, and from settings."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self, Unpack

from paygate.adapters import stripe
from paygate.adapters.base import Adapter
from paygate.adapters.registry import provider_spec
from paygate.config import Settings, gateway_options
from paygate.gateway._options import GatewayOptions
from paygate.gateway._pipeline import Pipeline
from paygate.telemetry import Listener


class Constructors:
    """``for_provider`` (and its aliases ``for_stripe``, ``for_adyen``) and ``from_settings``,
    for a class built from an adapter and its options, that keeps its parts in a ``Pipeline``."""

    _pipeline: Pipeline

    if TYPE_CHECKING:  # each gateway twin defines its own; the constructors call it

        def __init__(self, adapter: Adapter, **options: Any) -> None: ...

    @classmethod
    def for_provider(cls, name: str, **options: Any) -> Self:
        """A gateway to the registered provider ``name`` (or its simulator at ``base_url``).

        The options the provider's adapter takes (its settings section's fields: ``api_key``,
        ``base_url``...) build the adapter; the others are the gateway's (``retry``,
        ``timeout``, ``store``...). ``KeyError`` for a provider that is not registered.
        """
        spec = provider_spec(name)
        takes = spec.adapter_parameters()
        adapter = spec.adapter(**{k: v for k, v in options.items() if k in takes})
        return cls(adapter, **{k: v for k, v in options.items() if k not in takes})

    @classmethod
    def for_stripe(
        cls,
        api_key: str,
        *,
        base_url: str | None = None,
        api_version: str = stripe.API_VERSION,
        webhook_secret: str | None = None,
        webhook_tolerance: float = stripe.DEFAULT_WEBHOOK_TOLERANCE,
        raw_card_data: bool = False,
        **options: Unpack[GatewayOptions],
    ) -> Self:
        """A gateway to Stripe (or a Stripe simulator at ``base_url``). ``webhook_tolerance``:
        the seconds a signed webhook's timestamp may be behind this machine's clock (one ahead
        of it is accepted, as Stripe's own libraries do). ``raw_card_data``: send
        ``PaymentSource.card`` numbers, which Stripe takes only from accounts with raw card
        data access (and the Stripe simulator); without it they are refused before anything
        is sent."""
        more: dict[str, Any] = {"base_url": base_url} if base_url is not None else {}
        return cls.for_provider(
            "stripe",
            **more,
            api_key=api_key,
            api_version=api_version,
            webhook_secret=webhook_secret,
            webhook_tolerance=webhook_tolerance,
            raw_card_data=raw_card_data,
            **options,
        )

    @classmethod
    def for_adyen(
        cls,
        api_key: str,
        *,
        merchant_account: str,
        base_url: str | None = None,
        hmac_key: str | None = None,
        return_url: str | None = None,
        **options: Unpack[GatewayOptions],
    ) -> Self:
        """A gateway to Adyen's Checkout API (or an Adyen simulator at ``base_url``).
        ``return_url``: where a shopper sent away (3D Secure, a redirect method) comes back
        to; Adyen requires it for those flows."""
        more: dict[str, Any] = {"base_url": base_url} if base_url is not None else {}
        return cls.for_provider(
            "adyen",
            **more,
            api_key=api_key,
            merchant_account=merchant_account,
            hmac_key=hmac_key,
            return_url=return_url,
            **options,
        )

    @classmethod
    def from_settings(
        cls,
        settings: Settings | None = None,
        *,
        toml_file: str | Path | None = None,
        on_event: Listener | Sequence[Listener] | None = None,
    ) -> Self:
        """A gateway configured from ``PAYGATE_*`` environment variables and/or a TOML file.
        ``on_event``: told every event the gateway emits (``paygate.telemetry``)."""
        loaded = settings if settings is not None else Settings.load(toml_file)
        gateway = cls(**gateway_options(loaded), on_event=on_event)
        gateway._pipeline.own_everything()  # opened for this gateway alone
        return gateway
