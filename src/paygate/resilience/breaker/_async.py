"""The breaker's steps that read and write its state, for asyncio callers: admit an attempt,
count its outcome, free an abandoned probe. ``_sync.py`` is generated from this file.

A write names the state it was decided on; when the backend finds the state changed meanwhile,
the step decides again on the state it finds. A cancellation mid-step frees this instance's
probe flag, with no I/O; a shared probe slot it held lapses after its lease.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from paygate.errors import PaymentError
from paygate.resilience.breaker._core import AdmissionCore, BreakerCore
from paygate.resilience.breaker._state import (
    Decision,
    Event,
    Phase,
    admit,
    counts_as_failure,
    record,
)

if TYPE_CHECKING:
    from paygate.resilience.breaker import Admission

__all__ = ["AsyncAdmissionVerbs", "AsyncBreakerVerbs"]


class AsyncBreakerVerbs(BreakerCore):
    """The steps that read and write the state."""

    async def phase_async(self) -> Phase:
        """The phase of the state as it is now."""
        return (await self.backend.read_async()).phase

    async def admit_async(self) -> Admission | None:
        """Let one attempt through, or raise ``CircuitOpen``. None when the breaker is off."""
        if not self.policy.enabled:
            return None
        state = await self.backend.read_async()
        decision = admit(state, self.policy, self._clock())
        if decision is Decision.ATTEMPT:
            return self._admitted(probe=False)
        if decision is Decision.REFUSE:
            raise self._open_error()
        self._take_probe_flag()
        admitted = False
        try:
            if not await self.backend.take_probe_async(self.policy.reset_timeout):
                raise self._open_error()  # another instance is probing
            # The slot is ours (a slot taken by a cancelled step lapses after its lease).
            while decision is Decision.PROBE:
                started = record(state, state.phase, Event.DUE, self.policy, self._clock())
                if started is state or await self.backend.write_async(state, started):
                    admitted = True
                    return self._admitted(probe=True)
                state = await self.backend.read_async()  # changed meanwhile: decide again
                decision = admit(state, self.policy, self._clock())
            await self.backend.end_probe_async()  # closed meanwhile, or open again
            if decision is Decision.REFUSE:
                raise self._open_error()
            return self._admitted(probe=False)
        finally:
            if not admitted:
                self._end_probe_flag()

    async def count_async(self, admission: AdmissionCore, error: PaymentError | None) -> None:
        """Count an admitted attempt's outcome (``error`` None for a success)."""
        event = Event.FAILURE if counts_as_failure(error) else Event.SUCCESS
        try:
            while True:
                before = await self.backend.read_async()
                after = record(before, admission.phase, event, self.policy, self._clock())
                if after is before or await self.backend.write_async(before, after):
                    break
            if admission.probe:
                await self.backend.end_probe_async()
        finally:
            if admission.probe:
                self._end_probe_flag()

    async def free_probe_async(self) -> None:
        """Free the probe slot of an attempt that ended without an outcome."""
        try:
            await self.backend.end_probe_async()
        finally:
            self._end_probe_flag()


class AsyncAdmissionVerbs(AdmissionCore):
    """How an admitted attempt ends."""

    __slots__ = ()

    async def record_async(self, error: PaymentError | None) -> None:
        """Count the attempt's outcome: ``error`` None for a success."""
        await self._breaker.count_async(self, error)

    async def abandon_async(self) -> None:
        """The attempt was cancelled before an outcome: count nothing, free the probe."""
        if self.probe:
            await self._breaker.free_probe_async()
