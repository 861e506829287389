"""A Pipecat pipeline around one TTS service, timing text in to first audio frame out.

Ours and pipecat's own services run in the same harness, so the comparison includes the same
frame plumbing for both. Text goes in as an LLM turn would send it (LLMFullResponseStartFrame,
TextFrame, LLMFullResponseEndFrame): each service gets its sentences the way a voice agent
gives them.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time

from pipecat.frames.frames import (
    EndFrame,
    Frame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    StartFrame,
    TextFrame,
    TTSAudioRawFrame,
    TTSStoppedFrame,
)
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.services.tts_service import TTSService
from pipecat.workers.runner import WorkerRunner

from pipecat_tts_gateway.bench.results import Sample

START_TIMEOUT_S = 120.0


class _Probe(FrameProcessor):
    """Sits after the TTS service and notes when audio arrives and when a turn ends."""

    def __init__(self) -> None:
        super().__init__()
        self.started_at: float | None = None
        self.first_audio_at: float | None = None
        self.last_audio_at = 0.0
        self.audio_s = 0.0
        self.started = asyncio.Event()
        self.first_audio = asyncio.Event()
        self.stopped = asyncio.Event()

    def reset(self) -> None:
        self.first_audio_at = None
        self.audio_s = 0.0
        self.first_audio.clear()
        self.stopped.clear()

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        now = time.perf_counter()
        if isinstance(frame, StartFrame):
            self.started_at = now
            self.started.set()
        elif isinstance(frame, TTSAudioRawFrame):
            if self.first_audio_at is None:
                self.first_audio_at = now
                self.first_audio.set()
            self.last_audio_at = now
            self.audio_s += len(frame.audio) / 2 / frame.sample_rate / frame.num_channels
        elif isinstance(frame, TTSStoppedFrame):
            self.stopped.set()
        await self.push_frame(frame, direction)


class PipecatHarness:
    """Runs `Pipeline([tts, probe])` in the background; `speak` times one turn.

    Args:
        tts: The service under test.
        sample_rate: The pipeline's output rate.
        timeout_s: Longest wait for one turn's audio before it counts as an error.
        expect_greeting: The service speaks a greeting on StartFrame; wait for it to finish
            and keep how long after the StartFrame its first audio came.
    """

    def __init__(
        self,
        tts: TTSService,
        *,
        sample_rate: int,
        timeout_s: float = 120.0,
        expect_greeting: bool = False,
    ) -> None:
        self._probe = _Probe()
        self._worker = PipelineWorker(
            Pipeline([tts, self._probe]),
            params=PipelineParams(audio_out_sample_rate=sample_rate),
            cancel_on_idle_timeout=False,
        )
        self._runner = WorkerRunner(handle_sigint=False)
        self._task: asyncio.Task[None] | None = None
        self._timeout_s = timeout_s
        self._expect_greeting = expect_greeting
        self.greeting_ms: float | None = None

    async def __aenter__(self) -> PipecatHarness:
        await self._runner.add_workers(self._worker)
        self._task = asyncio.create_task(self._runner.run())
        await asyncio.wait_for(self._probe.started.wait(), START_TIMEOUT_S)
        if self._expect_greeting:
            await asyncio.wait_for(self._probe.stopped.wait(), self._timeout_s)
            assert self._probe.started_at is not None and self._probe.first_audio_at is not None
            self.greeting_ms = (self._probe.first_audio_at - self._probe.started_at) * 1000.0
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._worker.queue_frame(EndFrame())
        assert self._task is not None
        try:
            await asyncio.wait_for(self._task, 30.0)
        except TimeoutError:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def speak_streamed(self, text: str, tokens_per_s: float) -> Sample:
        """Send `text` as an LLM streams it, a word-sized token every 1/`tokens_per_s`
        seconds; first audio counts from the first token (what a caller waits after the LLM
        started answering)."""
        probe = self._probe
        probe.reset()
        start = time.perf_counter()
        await self._worker.queue_frame(LLMFullResponseStartFrame())
        for token in re.findall(r"\s*\S+", text):
            await self._worker.queue_frame(TextFrame(token))
            await asyncio.sleep(1.0 / tokens_per_s)
        await self._worker.queue_frame(LLMFullResponseEndFrame())
        return await self._turn(start)

    async def speak(self, text: str) -> Sample:
        """Send `text` as one LLM turn; returns its timing once the turn's audio has ended.

        Raises:
            TimeoutError: No first audio, or no end of turn, within the timeout.
        """
        probe = self._probe
        probe.reset()
        start = time.perf_counter()
        await self._worker.queue_frames(
            [LLMFullResponseStartFrame(), TextFrame(text), LLMFullResponseEndFrame()]
        )
        return await self._turn(start)

    async def _turn(self, start: float) -> Sample:
        """Wait for the turn's audio to end; its timing from `start`."""
        probe = self._probe
        await asyncio.wait_for(probe.first_audio.wait(), self._timeout_s)
        await asyncio.wait_for(probe.stopped.wait(), self._timeout_s)
        assert probe.first_audio_at is not None
        return Sample(
            first_audio_ms=(probe.first_audio_at - start) * 1000.0,
            total_ms=(probe.last_audio_at - start) * 1000.0,
            audio_s=probe.audio_s,
        )
