"""Inference threads that serve the chunk needed soonest first (earliest deadline first).

With several streams at once, each chunk has a moment by which it must be ready: for a stream's
first chunk the moment it was asked for (its caller hears nothing until then), for a follow-up
the moment the audio queued ahead of it will have played (`pacing.Playback.runs_dry_at`). The
queue serves the earliest deadline first, so first chunks go ahead of follow-ups that still have
audio in hand, but a follow-up about to run dry goes ahead of a newer stream's first chunk, and
no stream starves. Work with no deadline (prerender, health probes) waits for the rest. The
deadline travels in a context variable because `loop.run_in_executor` has no way to pass it; a
task's context is copied into every `submit` it makes.
"""

from __future__ import annotations

import contextvars
import itertools
import math
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any, TypeVar

T = TypeVar("T")

# perf_counter seconds by which the submitted work is needed; set by the gateway per chunk.
DEADLINE: contextvars.ContextVar[float] = contextvars.ContextVar("deadline", default=math.inf)

_STOP = object()


class PriorityExecutor(Executor):
    """A fixed pool of threads taking the earliest `DEADLINE` first, FIFO among equals."""

    def __init__(self, max_workers: int, *, thread_name_prefix: str = "tts-infer") -> None:
        self._queue: queue.PriorityQueue[tuple[float, int, Any]] = queue.PriorityQueue()
        self._order = itertools.count()
        self._shutdown = False
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._work, name=f"{thread_name_prefix}-{i}", daemon=True)
            for i in range(max_workers)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        future: Future[T] = Future()
        with self._lock:
            if self._shutdown:
                raise RuntimeError("cannot submit after shutdown")
            self._queue.put((DEADLINE.get(), next(self._order), (future, fn, args, kwargs)))
        return future

    def _work(self) -> None:
        while True:
            _, _, item = self._queue.get()
            if item is _STOP:
                return
            future, fn, args, kwargs = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                result = fn(*args, **kwargs)
            except BaseException as exc:
                future.set_exception(exc)
            else:
                future.set_result(result)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._lock:
            if self._shutdown:
                return
            self._shutdown = True
        if cancel_futures:
            while True:
                try:
                    _, _, item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is not _STOP:
                    item[0].cancel()
        for _ in self._threads:
            self._queue.put((math.inf, next(self._order), _STOP))
        if wait:
            for thread in self._threads:
                thread.join()
