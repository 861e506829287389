"""Inference threads that serve first chunks before follow-up chunks.

With several streams at once, a new stream's first chunk decides how long its caller hears
nothing, while a follow-up chunk only has to be ready before the audio ahead of it has played.
So work submitted while `FIRST_AUDIO` is set jumps the queue. The priority travels in a context
variable because `loop.run_in_executor` has no way to pass it; a task's context is copied into
every `submit` it makes.
"""

from __future__ import annotations

import contextvars
import itertools
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any, TypeVar

T = TypeVar("T")

# Set by the gateway around the synthesis of a stream's first chunk.
FIRST_AUDIO: contextvars.ContextVar[bool] = contextvars.ContextVar("first_audio", default=False)

_STOP = object()


class PriorityExecutor(Executor):
    """A fixed pool of threads taking first-audio work before everything else, FIFO otherwise."""

    def __init__(self, max_workers: int, *, thread_name_prefix: str = "tts-infer") -> None:
        self._queue: queue.PriorityQueue[tuple[int, int, Any]] = queue.PriorityQueue()
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
            rank = 0 if FIRST_AUDIO.get() else 1
            self._queue.put((rank, next(self._order), (future, fn, args, kwargs)))
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
            self._queue.put((2, next(self._order), _STOP))
        if wait:
            for thread in self._threads:
                thread.join()
