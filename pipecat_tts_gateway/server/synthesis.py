"""One admitted synthesis behind an HTTP response: its stream, first chunk, slot and metrics.

Opening waits for the first chunk before any response is started. That is when the engine, voice
and language are known (they go out as headers), and it lets a failure before any audio become a
proper error status instead of a 200 with an empty body.
"""

from __future__ import annotations

import time

from loguru import logger

from pipecat_tts_gateway.audio import AudioFormat
from pipecat_tts_gateway.errors import EngineError
from pipecat_tts_gateway.gateway import AudioChunk, Gateway, SynthesisRequest, SynthesisStream
from pipecat_tts_gateway.server.admission import Admission, Slot
from pipecat_tts_gateway.server.metrics import Metrics

COMPLETED, CANCELLED, FAILED = "completed", "cancelled", "failed"
_OUTCOME_NOTES = {CANCELLED: "client disconnected, synthesis stopped", FAILED: "failed mid-stream"}


class Synthesis:
    """A synthesis whose first chunk is ready; `close()` frees everything behind it."""

    def __init__(
        self,
        stream: SynthesisStream,
        first: AudioChunk,
        slot: Slot,
        metrics: Metrics,
        endpoint: str,
        started: float,
    ) -> None:
        self.stream = stream
        self.first = first
        self._slot = slot
        self._metrics = metrics
        self._endpoint = endpoint
        self._started = started
        self.first_audio_ms = (time.perf_counter() - started) * 1000.0

    @classmethod
    async def open(
        cls,
        gateway: Gateway,
        admission: Admission,
        metrics: Metrics,
        request: SynthesisRequest,
        endpoint: str,
    ) -> Synthesis:
        """Validate, wait for a slot, and synthesize up to the first chunk.

        Raises:
            InvalidRequestError: bad input, before the request takes a place in the queue.
            ApiError: 503 when the server is too busy.
            EngineError: no engine produced audio.
        """
        started = time.perf_counter()
        stream = gateway.synthesize(request)
        slot = await admission.acquire()
        metrics.queued(time.perf_counter() - started)
        try:
            first = await anext(stream, None)
            if first is None:
                raise EngineError("the engines produced no audio")
        except BaseException:
            await stream.aclose()
            slot.release()
            raise
        synthesis = cls(stream, first, slot, metrics, endpoint, started)
        metrics.first_audio(first.engine, synthesis.first_audio_ms / 1000.0)
        return synthesis

    @property
    def sample_rate(self) -> int:
        return self.stream.sample_rate

    def headers(self, fmt: AudioFormat) -> dict[str, str]:
        """What the response tells about its audio.

        X-Engines lists the engine of each language segment: the ones that spoke, then (while
        streaming) the first choice of each segment not yet spoken.
        """
        spoken = self.stream.segments
        planned = [plan.chain[0].engine for plan in self.stream.plans[len(spoken) :]]
        engines = dict.fromkeys([segment.engine for segment in spoken] + planned)
        return {
            "X-Sample-Rate": str(self.sample_rate),
            "X-Audio-Format": fmt.value,
            "X-Engine": self.first.engine,
            "X-Engines": ",".join(engines),
            "X-Voice": self.first.voice,
            "X-Language": self.first.language,
            "X-Cache": self.stream.cache or "miss",
            "X-First-Audio-Ms": f"{self.first_audio_ms:.0f}",
        }

    async def close(self, outcome: str) -> None:
        """Stop synthesis (ONNX runs in flight included), free the slot, record the result."""
        await self.stream.aclose()
        self._slot.release()
        elapsed = time.perf_counter() - self._started
        summary = self.stream.summary()
        self._metrics.finished(self._endpoint, summary, outcome, elapsed)
        note = _OUTCOME_NOTES.get(outcome, outcome)
        (logger.info if outcome == COMPLETED else logger.warning)(
            "{} {}: {}, {:.2f} s audio in {:.2f} s, first audio {:.0f} ms, cache {}",
            self._endpoint,
            note,
            " + ".join(f"{s['language']} {s['engine']}/{s['voice']}" for s in summary["segments"]),
            summary["duration_s"],
            elapsed,
            self.first_audio_ms,
            summary.get("cache", "miss"),
        )
