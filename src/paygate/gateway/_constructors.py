"""The constructors both gateway twins share: by provider, and from settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Self

from paygate.adapters import adyen, stripe
from paygate.adapters.base import Adapter
from paygate.config import Settings, gateway_options
from paygate.gateway._pipeline import Pipeline


class Constructors:
    """``for_stripe``, ``for_adyen`` and ``from_settings``, for a class built from an adapter
    and its options, that keeps its parts in a ``Pipeline``."""

    _pipeline: Pipeline

    def __init__(self, adapter: Adapter, **options: Any) -> None:
        raise NotImplementedError  # each gateway twin defines its own

    @classmethod
    def for_stripe(
        cls,
        api_key: str,
        *,
        base_url: str | None = None,
        api_version: str = stripe.API_VERSION,
        webhook_secret: str | None = None,
        **options: Any,
    ) -> Self:
        """A gateway to Stripe (or a Stripe simulator at ``base_url``)."""
        adapter_options: dict[str, Any] = {"api_version": api_version}
        if base_url is not None:
            adapter_options["base_url"] = base_url
        adapter = stripe.StripeAdapter(api_key, webhook_secret=webhook_secret, **adapter_options)
        return cls(adapter, **options)

    @classmethod
    def for_adyen(
        cls,
        api_key: str,
        *,
        merchant_account: str,
        base_url: str | None = None,
        hmac_key: str | None = None,
        **options: Any,
    ) -> Self:
        """A gateway to Adyen's Checkout API (or an Adyen simulator at ``base_url``)."""
        adapter_options: dict[str, Any] = {"merchant_account": merchant_account}
        if base_url is not None:
            adapter_options["base_url"] = base_url
        return cls(adyen.AdyenAdapter(api_key, hmac_key=hmac_key, **adapter_options), **options)

    @classmethod
    def from_settings(
        cls, settings: Settings | None = None, *, toml_file: str | Path | None = None
    ) -> Self:
        """A gateway configured from ``PAYGATE_*`` environment variables and/or a TOML file."""
        loaded = settings if settings is not None else Settings.load(toml_file)
        gateway = cls(**gateway_options(loaded))
        gateway._pipeline.own_everything()  # opened for this gateway alone
        return gateway
