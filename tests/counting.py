"""A real engine that counts its syntheses (how the tests see that a hit synthesized nothing),
and can be made to fail (the fault, injected around a real part)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from pipecat_tts_gateway.engines import Engine, EngineAudio


class CountingEngine:
    """Delegates everything to a real engine and counts `stream` calls (one per chunk).

    Args:
        real: The engine.
        fail: Raise on every synthesis instead.
    """

    def __init__(self, real: Engine, *, fail: bool = False) -> None:
        self.real = real
        self.fail = fail
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def stream(self, *args: Any, **kwargs: Any) -> AsyncIterator[EngineAudio]:
        self.calls += 1
        if self.fail:
            raise RuntimeError("injected engine failure")
        return self.real.stream(*args, **kwargs)
