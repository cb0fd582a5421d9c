"""An answer's body, read as it streams in and never larger than a limit, decoded or not.

httpx reads a whole body into memory before anyone can look at its size, and inflates a gzip
body in chunks as large as the network's: a 100 MB answer costs 100 MB, a 1 GB gzip bomb 1 GB.
Here the raw bytes are read chunk by chunk, a declared ``Content-Length`` over the limit is
refused before reading, and a compressed body is inflated with zlib's ``max_length`` so that
no step produces more than what is left of the limit: the memory one answer can take is the
limit plus one network chunk.

Only ``gzip`` and ``deflate`` are decoded (the encodings httpx asks for by default); paygate's
own requests ask for none. Anything else, or a compressed body cut short, is unreadable.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final, Protocol

import httpx

from paygate.resilience.deadline import current

__all__ = ["BodyError", "BodyTooLarge", "BodyUnreadable", "aread_body", "read_body"]

_WBITS: Final[Mapping[str, int]] = MappingProxyType(
    {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}
)
_FRAMING: Final = frozenset({b"content-encoding", b"content-length", b"transfer-encoding"})


class _Inflater(Protocol):
    """What ``zlib.decompressobj`` returns, as used here."""

    @property
    def unconsumed_tail(self) -> bytes: ...
    @property
    def eof(self) -> bool: ...
    def decompress(self, data: bytes, max_length: int = ..., /) -> bytes: ...
    def flush(self, length: int = ..., /) -> bytes: ...


class BodyError(Exception):
    """An answer's body paygate will not read into memory."""


class BodyTooLarge(BodyError):
    """Larger than the limit (declared, received or once decoded)."""


class BodyUnreadable(BodyError):
    """In an encoding paygate does not decode, or cut short."""


class _Collector:
    """The decoded body so far, refusing to grow past ``limit``."""

    __slots__ = ("_inflate", "_limit", "_parts", "_size")

    def __init__(self, response: httpx.Response, limit: int) -> None:
        self._limit = limit
        self._parts: list[bytes] = []
        self._size = 0
        self._inflate = _inflater(response.headers.get("content-encoding"))
        declared = response.headers.get("content-length") or ""
        if self._inflate is None and declared.isdigit() and int(declared) > limit:
            raise BodyTooLarge(f"declares {declared} bytes, over the {limit}-byte limit")

    def feed(self, data: bytes) -> None:
        if self._inflate is None:
            self._add(data)
            return
        try:
            while data:
                self._add(self._inflate.decompress(data, self._limit - self._size + 1))
                data = self._inflate.unconsumed_tail
        except zlib.error as exc:
            raise BodyUnreadable(f"is not valid compressed data ({exc})") from None

    def _add(self, data: bytes) -> None:
        self._size += len(data)
        if self._size > self._limit:
            raise BodyTooLarge(f"is over the {self._limit}-byte limit")
        if data:
            self._parts.append(data)

    def response(self, streamed: httpx.Response) -> httpx.Response:
        """The answer with its decoded body, as the adapters read it."""
        headers: httpx.Headers | list[tuple[bytes, bytes]] = streamed.headers
        if self._inflate is not None:
            if not self._inflate.eof:
                raise BodyUnreadable("is compressed data cut short")
            self.feed(self._inflate.flush())
            headers = [(k, v) for k, v in streamed.headers.raw if k.lower() not in _FRAMING]
        return httpx.Response(
            streamed.status_code,
            headers=headers,
            content=b"".join(self._parts),
            request=streamed.request,
            extensions=streamed.extensions,
        )


def _inflater(encoding: str | None) -> _Inflater | None:
    codings = [c.strip().lower() for c in (encoding or "").split(",")]
    codings = [c for c in codings if c and c != "identity"]
    if not codings:
        return None
    if len(codings) > 1 or codings[0] not in _WBITS:
        raise BodyUnreadable(f"is in an encoding paygate does not decode ({encoding})")
    return zlib.decompressobj(_WBITS[codings[0]])


def _read_already(response: httpx.Response, limit: int) -> httpx.Response:
    """An answer a transport handed over with its body already read (a mock's, built with
    ``content=``): nothing left to bound but its size."""
    if len(response.content) > limit:
        raise BodyTooLarge(f"is over the {limit}-byte limit")
    return response


def read_body(response: httpx.Response, limit: int) -> httpx.Response:
    """``response`` (opened with ``stream=True``) with its body read, decoded and at most
    ``limit`` bytes; between chunks, the call's deadline is checked too (a transport that is
    not walled, such as a test's, still cannot stream past it)."""
    if response.is_stream_consumed:
        return _read_already(response, limit)
    body = _Collector(response, limit)
    deadline = current()
    for chunk in response.iter_raw():
        body.feed(chunk)
        if deadline is not None and deadline.expired:
            raise httpx.ReadTimeout("the call's deadline passed while its answer was read")
    return body.response(response)


async def aread_body(response: httpx.Response, limit: int) -> httpx.Response:
    """``read_body`` for an asynchronous response (the gateway's ``asyncio.timeout`` is the
    deadline's wall on the system clock; the check between chunks holds it on any clock)."""
    if response.is_stream_consumed:
        return _read_already(response, limit)
    body = _Collector(response, limit)
    deadline = current()
    async for chunk in response.aiter_raw():
        body.feed(chunk)
        if deadline is not None and deadline.expired:
            raise httpx.ReadTimeout("the call's deadline passed while its answer was read")
    return body.response(response)
