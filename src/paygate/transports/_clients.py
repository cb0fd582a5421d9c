"""The HTTP clients a gateway makes for itself: httpx's own, keeping no cookies, the blocking
one sending through ``DeadlineTransport`` unless given a transport.

Provider APIs authenticate every request by its key and keep no state in cookies, and paygate
builds each request itself, so no jar's cookie is ever sent; a client shared by every
customer's calls has no business keeping one anyway. These clients are given, through httpx's
public ``cookies=`` argument (httpx keeps a ``CookieJar`` it is given as its jar), a standard
library ``CookieJar`` that keeps nothing: it neither parses an answer's ``Set-Cookie`` nor stores
a cookie set by hand. httpx still wraps every answer for the jar (about a fifth of a bare
exchange in process); skipping that too would take overriding its client's ``cookies`` property,
which works only while httpx reads its jar through it: not a public contract. A client passed
in by the caller is used as it is.
"""

from __future__ import annotations

from http.client import HTTPResponse
from http.cookiejar import Cookie, CookieJar
from typing import Any, Final
from urllib.request import Request

import httpx

from paygate.transports._wall import DeadlineTransport

__all__ = ["AsyncProviderClient", "ProviderClient"]

_DEFAULT_LIMITS: Final = httpx.Limits()  # httpx's own default; immutable


class _KeepsNoCookies(CookieJar):
    """A jar that takes no cookie, from an answer or by hand, so it never sends one either."""

    def extract_cookies(self, response: HTTPResponse, request: Request) -> None:
        """Ignore ``Set-Cookie`` (without parsing it)."""

    def set_cookie(self, cookie: Cookie) -> None:
        """Keep nothing."""


class ProviderClient(httpx.Client):
    """``httpx.Client`` keeping no cookies, whose requests (but those an environment proxy
    carries, which httpx sends with its own transport) go through ``DeadlineTransport``."""

    def __init__(
        self,
        *,
        transport: httpx.BaseTransport | None = None,
        limits: httpx.Limits = _DEFAULT_LIMITS,
        **options: Any,
    ) -> None:
        walled = transport if transport is not None else DeadlineTransport(limits=limits)
        super().__init__(transport=walled, limits=limits, cookies=_KeepsNoCookies(), **options)


class AsyncProviderClient(httpx.AsyncClient):
    """``httpx.AsyncClient`` keeping no cookies."""

    def __init__(self, **options: Any) -> None:
        super().__init__(cookies=_KeepsNoCookies(), **options)
