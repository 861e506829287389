"""What every engine offers the gateway, and how blocking inference becomes an async stream."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort

from pipecat_tts_gateway.errors import UnknownVoiceError
from pipecat_tts_gateway.pacing import ComputeModel


@dataclass(frozen=True)
class WordTiming:
    """A word and when it is spoken, in seconds from the start of its audio piece."""

    word: str
    start_s: float
    end_s: float


@dataclass(frozen=True)
class EngineAudio:
    """One piece of engine output at the engine's native rate.

    Attributes:
        samples: Mono float32 in [-1, 1].
        sample_rate: Rate of `samples`.
        text: The text this piece speaks.
        words: Word times, or None where the engine cannot tell them.
    """

    samples: np.ndarray
    sample_rate: int
    text: str
    words: tuple[WordTiming, ...] | None = None


# Per language: a short text and a sentence-long one, for `Engine.warm_up`.
_WARM_UP = {
    "en": ("Hello.", "Your appointment is confirmed for Tuesday at ten in the morning."),
    "ru": ("Да.", "Ваша запись подтверждена на вторник, на десять часов утра."),
}


class CancelToken:
    """Lets an async consumer stop a blocking inference it no longer needs.

    ONNX Runtime checks `RunOptions.terminate` between graph nodes, so setting it aborts a run
    that is already under way instead of letting it render audio nobody will hear.
    """

    def __init__(self) -> None:
        self._event = threading.Event()
        self.run_options = ort.RunOptions()

    def cancel(self) -> None:
        self._event.set()
        self.run_options.terminate = True

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()


class InferenceCancelled(Exception):
    """Raised inside an engine thread when its consumer went away."""


class Engine(ABC):
    """A TTS engine: loads once, warms up, and streams audio pieces for (text, voice, speed).

    Subclasses implement the blocking parts; `stream` runs them on the inference executor so the
    event loop never waits on a model.
    """

    name: str
    languages: tuple[str, ...]
    sample_rate: int

    @abstractmethod
    def load(self) -> None:
        """Load models; raises ModelMissingError naming a missing file."""

    @abstractmethod
    def voices(self) -> tuple[str, ...]:
        """Voice names this engine speaks (blends are not listed)."""

    @abstractmethod
    def voice_language(self, voice: str) -> str:
        """The language a voice speaks; raises UnknownVoiceError for an unknown voice."""

    @abstractmethod
    def default_voice(self, language: str) -> str:
        """The voice to use for `language` when a route names none."""

    @abstractmethod
    def model_id(self, voice: str) -> str:
        """A short identity of the model behind `voice` (part of cache keys)."""

    @abstractmethod
    def pieces(
        self, text: str, voice: str, speed: float, cancel: CancelToken
    ) -> Iterator[EngineAudio]:
        """Blocking: synthesize `text` as one or more pieces, in order."""

    @functools.cached_property
    def compute(self) -> ComputeModel:
        """This engine's measured speed on this machine, learned from every streamed piece."""
        return ComputeModel()

    def describe(self) -> dict[str, object]:
        """What /health and `models list` show about this engine."""
        return {"name": self.name, "languages": list(self.languages), "voices": list(self.voices())}

    def check_voice(self, voice: str) -> None:
        """Raise UnknownVoiceError listing the valid voices."""
        if voice not in self.voices():
            raise UnknownVoiceError(
                f"unknown {self.name} voice {voice!r}; valid voices: {', '.join(self.voices())}"
            )

    def warm_up(self) -> None:
        """Synthesize a little per language so the first real request is neither slow nor
        badly paced.

        The first call pays one-time costs and is not measured; a short and a sentence-long
        call after it give `compute` the two points it needs to size a first request's chunks.
        """
        for language in self.languages:
            short, sentence = _WARM_UP.get(language, _WARM_UP["ru"])
            for text, measured in ((short, False), (short, True), (sentence, True)):
                started = time.perf_counter()
                pieces = list(self.pieces(text, self.default_voice(language), 1.0, CancelToken()))
                if measured:
                    audio_s = sum(piece.samples.size / piece.sample_rate for piece in pieces)
                    self.compute.observe(len(text), time.perf_counter() - started, audio_s)

    async def stream(
        self, text: str, voice: str, speed: float, executor: Executor | None = None
    ) -> AsyncIterator[EngineAudio]:
        """Yield pieces as they are synthesized, each computed off the event loop.

        Closing or cancelling the iterator cancels the inference in flight.
        """
        loop = asyncio.get_running_loop()
        cancel = CancelToken()
        pieces = self.pieces(text, voice, speed, cancel)

        def timed_next() -> EngineAudio | None:
            with self.compute.cores.running() as sharing:
                started = time.perf_counter()
                piece = next(pieces, None)
                seconds = time.perf_counter() - started
                shared = sharing()
            if piece is not None:
                audio_s = piece.samples.size / piece.sample_rate
                self.compute.observe(len(piece.text), seconds, audio_s, shared)
            return piece

        try:
            while (piece := await loop.run_in_executor(executor, timed_next)) is not None:
                yield piece
        finally:
            cancel.cancel()


def file_identity(path: Path) -> str:
    """Name + size + a hash of the first MiB: cheap, and changes when the model file does."""
    with path.open("rb") as f:
        head = f.read(1 << 20)
    digest = hashlib.sha256(head).hexdigest()[:12]
    return f"{path.name}:{path.stat().st_size}:{digest}"
