"""The transport a blocking gateway makes for itself, and how a gateway reads an answer
(private: a gateway uses these; service code passes its own ``client=`` or ``transport=`` if it
must).

* ``DeadlineTransport``: httpx's transport seam over httpcore's pool, whose every socket
  operation (connect, TLS, each write, each read) is cut to what is left of the call's
  deadline, so an answer dripped a byte at a time, headers included, cannot hold a call past
  it. The asyncio gateway bounds the whole exchange with ``asyncio.timeout`` instead, whatever
  the transport. A gateway sends straight into its transport (``paygate._primitives.Sender``),
  so no client's cookie jar ever holds a provider's cookie.
* ``async_transport``: the transport an asyncio gateway makes for itself, by its HTTP backend:
  ``AiohttpTransport`` (``paygate.transports._aiohttp``, the ``paygate[aiohttp]`` extra, imported
  only when chosen) or httpx's ``AsyncHTTPTransport``.
* ``read_body`` / ``aread_body``: an answer's body, read as it streams in, decoded (gzip or
  deflate) with a bound on the decoded size, and refused past a limit (``BodyTooLarge``) or when
  it cannot be decoded (``BodyUnreadable``), so that neither a huge answer nor a compression
  bomb can take the memory of the process.
"""

from paygate.transports._backends import Backend, async_transport
from paygate.transports._body import BodyError, BodyTooLarge, BodyUnreadable, aread_body, read_body
from paygate.transports._wall import CORE_ERRORS, DeadlineTransport

__all__ = [
    "CORE_ERRORS",
    "Backend",
    "BodyError",
    "BodyTooLarge",
    "BodyUnreadable",
    "DeadlineTransport",
    "aread_body",
    "async_transport",
    "read_body",
]
