"""A real engine behind a thin wrapper: it counts and times its work, and can inject a fault.

The fault is the only thing not real: audio always comes from the wrapped engine.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator

from pipecat_tts_gateway.engines import CancelToken, Engine, EngineAudio


class WrappedEngine(Engine):
    """Delegates to a real engine.

    Args:
        real: The engine.
        fail: Raise on every synthesis instead.
        drop_words: Strip word times from its pieces (an engine that cannot give them).
        stall_s: Sleep this long before each synthesis (a slow or stuck engine).

    Attributes:
        calls: Syntheses started (one per chunk).
        rendered: When each piece was produced (perf_counter seconds).
    """

    def __init__(
        self,
        real: Engine,
        *,
        fail: bool = False,
        drop_words: bool = False,
        stall_s: float = 0.0,
    ) -> None:
        self.real = real
        self.fail = fail
        self.drop_words = drop_words
        self.stall_s = stall_s
        self.calls = 0
        self.rendered: list[float] = []
        self.name = real.name
        self.languages = real.languages
        self.sample_rate = real.sample_rate

    def load(self) -> None:
        self.real.load()

    def voices(self) -> tuple[str, ...]:
        return self.real.voices()

    def voice_language(self, voice: str) -> str:
        return self.real.voice_language(voice)

    def default_voice(self, language: str) -> str:
        return self.real.default_voice(language)

    def model_id(self, voice: str) -> str:
        return self.real.model_id(voice)

    def pieces(
        self, text: str, voice: str, speed: float, cancel: CancelToken
    ) -> Iterator[EngineAudio]:
        self.calls += 1
        if self.fail:
            raise RuntimeError("injected engine failure")
        time.sleep(self.stall_s)
        for piece in self.real.pieces(text, voice, speed, cancel):
            self.rendered.append(time.perf_counter())
            yield dataclasses.replace(piece, words=None) if self.drop_words else piece
