"""What faults send in place of the provider's answer: padding for an oversized or endless
body, and a gzip bomb. Provider-neutral, and cheap: padding is made piece by piece as it is
sent, and a bomb is compressed piece by piece, once per size."""

from __future__ import annotations

import functools
import zlib
from collections.abc import Iterator
from typing import Final

_OPENING: Final = b'{"padding": "'  # JSON that opens a string and never closes it
_PIECE: Final = 64 * 1024
_SPACES: Final = b" " * _PIECE
_GZIP: Final = 16 + zlib.MAX_WBITS  # zlib's wbits for a gzip header and trailer


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
