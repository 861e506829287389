"""One loaded copy of each engine per process, shared by every gateway over the same models.

A Pipecat bot builds a service per call; without sharing, each call would load Kokoro again
(seconds) and hold another copy of its weights. Engines are keyed by what makes them differ
(model files, voices, threads, backend), counted by their users and dropped with the last one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field

from pipecat_tts_gateway.engines.base import Engine


@dataclass
class _Slot:
    users: int = 0
    engine: Engine | None = None
    # Held while the engine loads, so a second user of the same key waits instead of loading.
    loading: threading.Lock = field(default_factory=threading.Lock)


class EngineRegistry:
    """Loaded engines by key, reference-counted; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._slots: dict[Hashable, _Slot] = {}

    def acquire(self, key: Hashable, load: Callable[[], Engine]) -> Engine:
        """The engine for `key`, loading it with `load()` if no one holds it yet.

        Each successful call must be matched by one `release(key)`. A failed load is not
        remembered: the next caller tries again.

        Raises:
            Whatever `load` raises.
        """
        with self._lock:
            slot = self._slots.setdefault(key, _Slot())
            slot.users += 1
        try:
            with slot.loading:
                if slot.engine is None:
                    slot.engine = load()
                return slot.engine
        except BaseException:
            self.release(key)
            raise

    def release(self, key: Hashable) -> None:
        """Drop one use of `key`; the last one forgets the engine, so its memory can go."""
        with self._lock:
            slot = self._slots.get(key)
            if slot is None:
                return
            slot.users -= 1
            if slot.users <= 0:
                del self._slots[key]

    def users(self, key: Hashable) -> int:
        """How many holders `key` has (0 when it is not loaded)."""
        with self._lock:
            slot = self._slots.get(key)
            return slot.users if slot is not None else 0


REGISTRY = EngineRegistry()


@dataclass
class EngineLease:
    """The engines one gateway holds from a registry; `release()` gives them all back once."""

    engines: Mapping[str, Engine]
    keys: tuple[Hashable, ...]
    registry: EngineRegistry
    _released: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def release(self) -> None:
        with self._lock:
            if self._released:
                return
            self._released = True
        for key in self.keys:
            self.registry.release(key)
