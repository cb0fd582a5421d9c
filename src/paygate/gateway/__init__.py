"""``Gateway`` and ``AsyncGateway``: one interface, sync and async twins, same names and types.

Each holds a private ``Pipeline`` (its adapter, stores, policies and breaker); every decision
of a call is a function in ``_steps`` (a call) or ``paygate.records.reconcile`` (the records).
``_async.py`` is the one hand-written twin; ``_sync.py`` is generated from it by
``scripts/unasync.py``.
"""

from paygate.gateway._async import AsyncGateway
from paygate.gateway._async_janitor import AsyncJanitor
from paygate.gateway._janitor_steps import JanitorPass
from paygate.gateway._sync import Gateway
from paygate.gateway._sync_janitor import Janitor

__all__ = ["AsyncGateway", "AsyncJanitor", "Gateway", "Janitor", "JanitorPass"]
