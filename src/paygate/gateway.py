"""``Gateway`` and ``AsyncGateway``: one interface, sync and async twins, same names and types.

Every decision lives in ``GatewayCore`` (``_core.py``); the twins only do the I/O. The async
twin (``_async_gateway.py``) is the one hand-written source; the blocking twin
(``_sync_gateway.py``) is generated from it by ``python -m paygate._unasync``.
"""

from paygate._async_gateway import AsyncGateway
from paygate._sync_gateway import Gateway

__all__ = ["AsyncGateway", "Gateway"]
