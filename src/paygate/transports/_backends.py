"""Which transport an asyncio gateway makes for itself: aiohttp's (the ``paygate[aiohttp]``
extra), httpx's, or, by default, aiohttp's when it is installed."""

from __future__ import annotations

import httpx

from paygate._extras import require_extra
from paygate.errors import ConfigurationError
from paygate.resilience.policies import Backend

__all__ = ["Backend", "async_transport"]


def async_transport(backend: Backend, limits: httpx.Limits) -> httpx.AsyncBaseTransport:
    """A new transport of ``backend`` with a pool of ``limits``. ``ConfigurationError``, naming
    the extra to install, when ``aiohttp`` is asked for and not installed."""
    if backend == "httpx":
        return httpx.AsyncHTTPTransport(limits=limits)
    try:
        require_extra("aiohttp", "the aiohttp HTTP backend (PAYGATE_HTTP__BACKEND=aiohttp)")
    except ConfigurationError:
        if backend == "aiohttp":
            raise
        return httpx.AsyncHTTPTransport(limits=limits)  # auto, without the extra
    from paygate.transports._aiohttp import AiohttpTransport  # noqa: PLC0415 - optional extra

    return AiohttpTransport(limits=limits)
