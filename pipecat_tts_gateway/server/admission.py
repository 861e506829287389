"""Admission control: a few syntheses at once, a bounded queue behind them, 503 past it.

Inference is CPU-bound, so more concurrent syntheses only share the same cores thinner and make
every client's first audio later. Waiting requests hold little memory, but without a bound a
burst would still grow the queue (and each client's wait) without limit; past `max_queue` a
client is told to come back (503 + Retry-After) instead.
"""

from __future__ import annotations

import asyncio

from pipecat_tts_gateway.server.errors import ApiError


class Slot:
    """A held synthesis slot; `release()` is idempotent so every exit path may call it."""

    def __init__(self, admission: Admission) -> None:
        self._admission: Admission | None = admission

    def release(self) -> None:
        if self._admission is not None:
            self._admission._release()
            self._admission = None


class Admission:
    """A semaphore of `max_concurrent` slots with at most `max_queue` waiters.

    Args:
        max_concurrent: Syntheses running at once.
        max_queue: Requests allowed to wait for a slot.
        queue_timeout_s: Longest wait before giving up with 503.
        retry_after_s: The Retry-After sent with a 503.
    """

    def __init__(
        self, max_concurrent: int, max_queue: int, queue_timeout_s: float, retry_after_s: int
    ) -> None:
        self.max_concurrent = max_concurrent
        self.max_queue = max_queue
        self._timeout_s = queue_timeout_s
        self._retry_after_s = retry_after_s
        self._slots = asyncio.Semaphore(max_concurrent)
        self.active = 0
        self.queued = 0

    async def acquire(self) -> Slot:
        """Wait for a slot.

        Raises:
            ApiError: 503 when the queue is full or the wait exceeds the timeout.
        """
        if self._slots.locked() and self.queued >= self.max_queue:
            raise self._overloaded(f"server busy: {self.active} running, {self.queued} waiting")
        self.queued += 1
        try:
            async with asyncio.timeout(self._timeout_s):
                await self._slots.acquire()
        except TimeoutError:
            raise self._overloaded(
                f"server busy: no synthesis slot within {self._timeout_s:g} s"
            ) from None
        finally:
            self.queued -= 1
        self.active += 1
        return Slot(self)

    def _release(self) -> None:
        self.active -= 1
        self._slots.release()

    def _overloaded(self, message: str) -> ApiError:
        return ApiError(503, "overloaded", message, {"Retry-After": str(self._retry_after_s)})
