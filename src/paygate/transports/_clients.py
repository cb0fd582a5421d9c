"""The HTTP clients a gateway makes for itself: httpx's own, keeping no cookies, the blocking
one sending through ``DeadlineTransport`` unless given a transport.

Provider APIs authenticate every request by its key and keep no state in cookies, and paygate
builds each request itself, so no jar's cookie is ever sent; a client shared by every
customer's calls has no business keeping one anyway. httpx still reads every answer's
``Set-Cookie`` into its jar, at about a sixth of a bare exchange's cost: these clients skip
that. A client passed in by the caller is used as it is.
"""

from __future__ import annotations

from typing import Any, Final

import httpx

from paygate.transports._wall import DeadlineTransport

__all__ = ["AsyncProviderClient", "ProviderClient"]

_DEFAULT_LIMITS: Final = httpx.Limits()  # httpx's own default; immutable


class _NoCookies(httpx.Cookies):
    """A jar that takes nothing from answers, so it never sends anything either."""

    def extract_cookies(self, response: httpx.Response) -> None:
        """Ignore ``Set-Cookie``."""


class _NoCookieJar:
    """What both clients share: a per-client ``_NoCookies`` in place of httpx's jar."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)  # httpx.Client or httpx.AsyncClient, next in the MRO
        self._no_cookies = _NoCookies()

    @property
    def cookies(self) -> httpx.Cookies:
        return self._no_cookies

    @cookies.setter
    def cookies(self, cookies: object) -> None:
        raise TypeError("a paygate provider client keeps no cookies")


class ProviderClient(_NoCookieJar, httpx.Client):
    """``httpx.Client`` with no cookie jar, whose requests (but those an environment proxy
    carries, which httpx sends with its own transport) go through ``DeadlineTransport``."""

    def __init__(
        self,
        *,
        transport: httpx.BaseTransport | None = None,
        limits: httpx.Limits = _DEFAULT_LIMITS,
        **options: Any,
    ) -> None:
        walled = transport if transport is not None else DeadlineTransport(limits=limits)
        super().__init__(transport=walled, limits=limits, **options)


class AsyncProviderClient(_NoCookieJar, httpx.AsyncClient):
    """``httpx.AsyncClient`` with no cookie jar."""
