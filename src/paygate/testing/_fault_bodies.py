"""What faults send in place of the provider's answer: padding for an oversized or endless
body, a gzip bomb, and the pages of something in front of the provider (a load balancer, a
firewall, a proxy). Provider-neutral, and cheap: padding is made piece by piece as it is sent,
and a bomb is compressed piece by piece, once per size."""

from __future__ import annotations

import functools
import json
import zlib
from collections.abc import Iterator
from http import HTTPStatus
from typing import Final

from paygate.testing._records import Reply

_OPENING: Final = b'{"padding": "'  # JSON that opens a string and never closes it
_PIECE: Final = 64 * 1024
_SPACES: Final = b" " * _PIECE
_GZIP: Final = 16 + zlib.MAX_WBITS  # zlib's wbits for a gzip header and trailer
_LOCATION: Final = "https://edge.invalid/blocked"  # .invalid: never resolves
_FOREIGN_JSON: Final = json.dumps({"message": "upstream request failed"}).encode()


def padding(size: int | None = None) -> Iterator[bytes]:
    """The first ``size`` bytes (None: without end) of ``{"padding": "`` and spaces, in
    pieces of at most 64 KiB."""
    yield _OPENING[:size]
    if size is None:
        while True:
            yield _SPACES
    left = size - len(_OPENING)
    while left > 0:
        yield _SPACES[:left]
        left -= _PIECE


@functools.lru_cache(maxsize=4)
def gzip_bomb(size: int) -> bytes:
    """``padding(size)`` as one gzip member: about a thousandth of ``size``."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, _GZIP)
    parts = [compressor.compress(piece) for piece in padding(size)]
    parts.append(compressor.flush())
    return b"".join(parts)


def foreign_page(status: int) -> Reply:
    """An HTML error page (a redirect, for a 3xx) that no provider API would send."""
    title = f"{status} {_phrase(status)}"
    page = (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<h1>{title}</h1>\r\n"
        "<p>Answered by the edge, not by the service behind it.</p>\r\n</body>\r\n</html>\r\n"
    )
    return _foreign(status, "text/html; charset=utf-8", page.encode())


def foreign_json(status: int, truncated: bool) -> Reply:
    """A JSON answer in no provider's shape; ``truncated``: its first half only."""
    body = _FOREIGN_JSON[: len(_FOREIGN_JSON) // 2] if truncated else _FOREIGN_JSON
    return _foreign(status, "application/json", body)


def _foreign(status: int, content_type: str, body: bytes) -> Reply:
    headers: tuple[tuple[str, str], ...] = (("Content-Type", content_type),)
    if 300 <= status <= 399:
        headers = (*headers, ("Location", _LOCATION))
    return Reply(status, headers, body)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:  # a status no standard names (a 520 of a CDN, say)
        return "Error"
