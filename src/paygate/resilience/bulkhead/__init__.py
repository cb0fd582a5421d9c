"""Bounded concurrency per provider: ``Bulkhead`` for threads, ``AsyncBulkhead`` for one event
loop's tasks (generated twins: ``_async.py`` is the source)."""

from paygate.resilience.bulkhead._async import AsyncBulkhead
from paygate.resilience.bulkhead._sync import Bulkhead

__all__ = ["AsyncBulkhead", "Bulkhead"]
