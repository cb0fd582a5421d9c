"""The HTTP clients a gateway makes for itself: httpx's own, keeping no cookies.

Provider APIs authenticate every request by its key and keep no state in cookies, and paygate
builds each request itself, so no jar's cookie is ever sent; a client shared by every
customer's calls has no business keeping one anyway. httpx still reads every answer's
``Set-Cookie`` into its jar, at about a sixth of a bare exchange's cost: these clients skip
that. A client passed in by the caller is used as it is.
"""

from __future__ import annotations

from typing import Any

import httpx

__all__ = ["AsyncProviderClient", "ProviderClient"]


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
    """``httpx.Client`` with no cookie jar."""


class AsyncProviderClient(_NoCookieJar, httpx.AsyncClient):
    """``httpx.AsyncClient`` with no cookie jar."""
