"""The one streaming path every door (CLI, HTTP, Pipecat) calls.

text → validate → language runs → route chains → chunks → engine pieces (off the event loop,
`lookahead` chunks ahead of the consumer) → resample to the output rate → AudioChunk.

Requests are validated when `synthesize()` is called, before any audio exists, so a door can
answer a bad request with an error instead of an empty stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import threading
import time
import weakref
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from loguru import logger

from pipecat_tts_gateway.audio import SUPPORTED_SAMPLE_RATES, fade, resample
from pipecat_tts_gateway.cache import (
    AudioCache,
    CachedSegment,
    CacheEntry,
    SegmentPiece,
    SegmentPieces,
    segment_key,
)
from pipecat_tts_gateway.config import GatewayConfig
from pipecat_tts_gateway.engines.base import Engine, EngineAudio, WordTiming
from pipecat_tts_gateway.engines.registry import EngineLease
from pipecat_tts_gateway.errors import (
    EngineError,
    GatewayError,
    InvalidAudioFormatError,
    NoEngineAvailableError,
)
from pipecat_tts_gateway.pacing import (
    CHARS_PER_WORD,
    PacingStats,
    Playback,
    realtime_capacity_streams,
)
from pipecat_tts_gateway.prerender import Prerenderer
from pipecat_tts_gateway.routing import EngineHealth, Route, Router, SegmentPlan
from pipecat_tts_gateway.scheduling import DEADLINE, PriorityExecutor
from pipecat_tts_gateway.text import TextStreamChunker, chunk_text, clean_text, next_chunk

# Ramps at every piece boundary: long enough to hide a discontinuity, too short to hear.
JOIN_FADE_MS = 3.0
# A paced chunk renders at least this fast against its audio: its fixed cost is paid off.
CHUNK_REALTIME_FACTOR = 0.5


@dataclass(frozen=True)
class SynthesisRequest:
    """What to say and how.

    Attributes:
        text: The text; language runs are detected unless `language` is given.
        voice: Force a voice (or Kokoro blend) for the runs of its language.
        language: Force one language for the whole text ("en", "ru").
        speed: 0.5-2.0; None uses the route's or engine's default.
        profile: A named voice profile from the config.
        sample_rate: Output rate; None uses `streaming.sample_rate`.
    """

    text: str
    voice: str | None = None
    language: str | None = None
    speed: float | None = None
    profile: str | None = None
    sample_rate: int | None = None


@dataclass(frozen=True)
class AudioChunk:
    """A piece of output audio with where it came from.

    Attributes:
        samples: Mono float32 at `sample_rate`.
        sample_rate: The request's output rate.
        text: The text this chunk speaks.
        segment: Index of its language run.
        language: Language of that run.
        engine: Engine that spoke it.
        voice: Voice that spoke it.
        words: Word times relative to the start of this chunk, when the engine gives them.
    """

    samples: np.ndarray
    sample_rate: int
    text: str
    segment: int
    language: str
    engine: str
    voice: str
    words: tuple[WordTiming, ...] | None = None

    @property
    def duration_s(self) -> float:
        return len(self.samples) / self.sample_rate


@dataclass
class SegmentResult:
    """How one language run was spoken (reported by every door).

    Attributes:
        language: The run's language.
        text: The run's text.
        engine: The engine that spoke it.
        voice: The voice that spoke it.
        fallback: True when the first route failed and a later one spoke instead.
    """

    language: str
    text: str
    engine: str
    voice: str
    fallback: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class SynthesisStream:
    """An async iterator of AudioChunk whose metadata fills in as audio is produced.

    Synthesis starts on the first `__anext__` and runs up to `lookahead` chunks ahead of the
    consumer. Closing the stream (or cancelling its consumer) stops the work behind it.

    `cache` is "hit" when all the audio came from the cache (whole segments' entries or every
    chunk's) and "miss" when any of it was synthesized (None with caching off). It follows the
    pieces as they come: "miss" is final at once, "hit" holds for the audio so far and is final
    when the stream ends (a cached opener followed by fresh audio ends as "miss").
    """

    def __init__(self, gateway: Gateway, plans: list[SegmentPlan], sample_rate: int) -> None:
        self._gateway = gateway
        self._plans = plans
        self.sample_rate = sample_rate
        self.segments: list[SegmentResult] = []
        self.cache: str | None = None
        self.first_audio_ms: float | None = None
        self.audio_seconds = 0.0
        self.playback = Playback()
        self._started = self.playback.requested_at
        self._queue: asyncio.Queue[AudioChunk | BaseException | None] = asyncio.Queue(
            maxsize=max(1, gateway.config.streaming.lookahead)
        )
        self._producer: asyncio.Task[None] | None = None
        self._finished = False

    @property
    def plans(self) -> list[SegmentPlan]:
        return self._plans

    def __aiter__(self) -> SynthesisStream:
        return self

    async def __anext__(self) -> AudioChunk:
        if self._finished:
            raise StopAsyncIteration
        if self._producer is None:
            self._producer = asyncio.get_running_loop().create_task(self._produce())
        item = await self._queue.get()
        if item is None:
            self._finished = True
            raise StopAsyncIteration
        if isinstance(item, BaseException):
            self._finished = True
            raise item
        if self.first_audio_ms is None:
            self.first_audio_ms = (time.perf_counter() - self._started) * 1000.0
        self.audio_seconds += item.duration_s
        return item

    async def aclose(self) -> None:
        """Stop synthesis; safe to call more than once."""
        self._finished = True
        if self._producer is not None and not self._producer.done():
            self._producer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._producer

    async def __aenter__(self) -> SynthesisStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _produce(self) -> None:
        playback = self.playback
        try:
            for plan in self._plans:
                source = self._gateway.segment_source(plan, playback)
                async with contextlib.aclosing(source):
                    async for route, piece, fallback, cached in source:
                        if len(self.segments) <= plan.index:
                            self.segments.append(
                                SegmentResult(
                                    plan.language, plan.text, route.engine, route.voice, fallback
                                )
                            )
                        self._note_cache(cached)
                        chunk = self._convert(plan, route, piece)
                        if late_s := playback.handed_over(chunk.duration_s):
                            self._gateway.pacing.add(1, late_s)
                        await self._queue.put(chunk)
                        # Let the consumer take it now: cached pieces come without a pause, and
                        # converting the look-ahead first would delay a hit's first chunk.
                        await asyncio.sleep(0)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if not isinstance(exc, GatewayError):
                logger.exception("synthesis failed")
                exc = EngineError(f"synthesis failed: {type(exc).__name__}: {exc}")
            await self._queue.put(exc)
            return
        await self._queue.put(None)

    def _note_cache(self, cached: bool | None) -> None:
        if cached is not None and self.cache != "miss":
            self.cache = "hit" if cached else "miss"

    def _convert(self, plan: SegmentPlan, route: Route, piece: EngineAudio) -> AudioChunk:
        samples = resample(piece.samples, piece.sample_rate, self.sample_rate)
        samples = fade(samples, self.sample_rate, fade_in_ms=JOIN_FADE_MS, fade_out_ms=JOIN_FADE_MS)
        return AudioChunk(
            samples=samples,
            sample_rate=self.sample_rate,
            text=piece.text,
            segment=plan.index,
            language=plan.language,
            engine=route.engine,
            voice=route.voice,
            words=piece.words,
        )

    def summary(self) -> dict[str, Any]:
        """The result metadata every door reports (engine of the first segment first)."""
        first = self.segments[0] if self.segments else None
        return {
            "engine": first.engine if first else None,
            "voice": first.voice if first else None,
            "language": first.language if first else None,
            "sample_rate": self.sample_rate,
            "duration_s": round(self.audio_seconds, 3),
            "first_audio_ms": None
            if self.first_audio_ms is None
            else round(self.first_audio_ms, 1),
            "segments": [s.to_dict() for s in self.segments],
            "underruns": self.playback.underruns,
            "stall_ms": round(self.playback.stall_s * 1000.0, 1),
            **({"cache": self.cache} if self.cache is not None else {}),
        }


class Gateway:
    """Engines, routing and streaming behind one object; what both adapters hold.

    Args:
        config: The configuration (default: `GatewayConfig.load()`).
        engines: Already-loaded engines by name, instead of building them from the config
            (tests inject a fault around a real engine this way). Without it the engines come
            from the process-wide registry: every gateway over the same model files and
            backend settings shares one loaded copy, released by `close()`.
    """

    def __init__(
        self, config: GatewayConfig | None = None, *, engines: Mapping[str, Engine] | None = None
    ) -> None:
        self.config = config or GatewayConfig.load()
        self._engines: dict[str, Engine] = dict(engines) if engines is not None else {}
        self._build = engines is None
        # Inference threads; each ONNX session already uses `threads` cores of its own. First
        # chunks of new streams go ahead of follow-up chunks of older ones.
        self._executor = PriorityExecutor(max_workers=2)
        self.router = Router(self.config, self._engines)
        self.health = EngineHealth(
            self._engines,
            retry_interval_s=self.config.streaming.retry_interval_s,
            executor=self._executor,
        )
        self.cache = AudioCache(self.config) if self.config.cache.enabled else None
        self.pacing = PacingStats()
        self._prerenderer = Prerenderer(self)
        self._lease: EngineLease | None = None
        self._load_lock = threading.Lock()
        self._started = False
        self._start_lock = asyncio.Lock()

    @property
    def engines(self) -> Mapping[str, Engine]:
        return self._engines

    def realtime_capacity_streams(self) -> float | None:
        """Streams the loaded engines can keep in real time at once, at their measured speed
        here (see `pacing.realtime_capacity_streams`); None before anything was rendered."""
        return realtime_capacity_streams(
            [engine.compute for engine in self._engines.values()],
            self.config.streaming.first_chunk_words * CHARS_PER_WORD,
        )

    def load(self) -> None:
        """Load (or take from the registry) the engines now, blocking the caller.

        For constructors that must come back ready, like Pipecat services; `start()` does the
        same off the event loop. Idempotent.
        """
        with self._load_lock:
            if not self._build or self._lease is not None:
                return
            from pipecat_tts_gateway.engines.factory import acquire_engines

            self._lease = acquire_engines(self.config)
            # A gateway dropped without close() still gives its engines back.
            weakref.finalize(self, self._lease.release)
            self._engines.update(self._lease.engines)

    async def start(self) -> None:
        """Load and warm the engines (off the event loop); idempotent and safe to race."""
        async with self._start_lock:
            await self._start()

    async def _start(self) -> None:
        if self._started:
            return
        await asyncio.get_running_loop().run_in_executor(self._executor, self.load)
        if not self._engines:
            raise NoEngineAvailableError(
                "no engine could be loaded; run `tts-gateway models fetch` and check the log"
            )
        self._started = True

    async def close(self) -> None:
        await self._prerenderer.close()
        await self.health.close()
        if self.cache is not None:
            await self.cache.close()  # finishes pending write-backs first
        # Wait for an inference in flight: a process exiting under a running ONNX call aborts.
        await asyncio.get_running_loop().run_in_executor(
            None, functools.partial(self._executor.shutdown, wait=True, cancel_futures=True)
        )
        if self._lease is not None:
            # Drop our references too, so the last gateway closed frees the models' memory.
            for name in self._lease.engines:
                self._engines.pop(name, None)
            self._lease.release()

    async def __aenter__(self) -> Gateway:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def synthesize(self, request: SynthesisRequest) -> SynthesisStream:
        """Validate and plan a request; returns a stream that synthesizes as it is read.

        Raises:
            InvalidRequestError: bad text, voice, language, speed, profile or sample rate.
            NoEngineAvailableError: nothing loaded speaks a language of the text.
        """
        streaming = self.config.streaming
        text = clean_text(request.text, max_chars=streaming.max_text_chars)
        rate = streaming.sample_rate if request.sample_rate is None else request.sample_rate
        if rate not in SUPPORTED_SAMPLE_RATES:
            raise InvalidAudioFormatError(
                f"sample rate {rate} is not supported; use one of "
                f"{', '.join(map(str, SUPPORTED_SAMPLE_RATES))}"
            )
        plans = self.router.plan(
            text,
            language=request.language,
            voice=request.voice,
            speed=request.speed,
            profile=request.profile,
        )
        return SynthesisStream(self, plans, rate)

    async def synthesize_all(self, request: SynthesisRequest) -> tuple[np.ndarray, SynthesisStream]:
        """Whole audio of a request (for files and tests) and its metadata."""
        stream = self.synthesize(request)
        async with stream:
            parts = [chunk.samples async for chunk in stream]
        audio = np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)
        return audio, stream

    async def prerender(
        self,
        phrases: Sequence[str] | None = None,
        *,
        openers: Sequence[str] | None = None,
        progress: Callable[[str], None] | None = None,
    ) -> int:
        """Render phrases and openers (default: the configured ones) into the cache now.

        A plain `synthesize()` of a prerendered phrase (any sample rate) is then a cache hit,
        and so is the first chunk of a text that begins with a prerendered opener. Returns how
        many phrases and openers are cached; see `Prerenderer.run`.
        """
        return await self._prerenderer.run(phrases, openers=openers, progress=progress)

    def start_prerender(self) -> asyncio.Task[int] | None:
        """Prerender the configured phrases and openers in the background while serving.

        For long-running doors at start; returns None when `prerender.enabled` is off, there
        are no phrases or openers, or the cache is disabled. `close()` cancels it.
        """
        return self._prerenderer.start()

    @property
    def prerender_state(self) -> dict[str, Any]:
        """{"state": idle|running|completed|failed, "done": n, "total": n} for /health."""
        return self._prerenderer.status

    def segment_source(self, plan: SegmentPlan, playback: Playback) -> CachedSegment:
        """One run's pieces through the cache, when it is enabled.

        The cache is asked for the chain's routes in order up to the first healthy one: the
        route that would speak now, and the better ones whose engines are down (their cached
        audio is still good). Never a route behind a healthy one: a request for af_bella must
        not be served af_heart's audio just because that is cached. A full miss renders with
        `segment_audio` (once, however many requests ask at the same time) and stores it under
        the route that spoke. `playback` is the stream's listener clock, which sizes the chunks.
        """
        render = functools.partial(self.segment_audio, playback=playback)
        if self.cache is None:
            return CachedSegment(plan, render)
        lookup: list[Route] = []
        for route in plan.chain:
            lookup.append(route)
            if self.health.is_healthy(route.engine):
                break
        return CachedSegment(
            plan,
            render,
            self.cache,
            lookup=lookup,
            key=lambda route: self._chunk_key(route, plan.language, plan.text),
        )

    async def segment_audio(self, plan: SegmentPlan, playback: Playback) -> SegmentPieces:
        """Speak one language run, falling back along its chain before any audio of it is out.

        Yields its pieces. Once a route has produced audio for the run it is kept to the end:
        a voice never changes mid-run. Chunks are cut as the run is spoken (`_next_chunk`), each
        as big as the listener's queued audio lets the engine render in time. Each goes through
        the cache on its own (`_chunk_pieces`), so a chunk spoken before as part of any text, or
        prerendered as an opener, is not rendered again; a cached chunk counts as its route
        having spoken. A chunk that is the whole run is looked up and stored by
        `CachedSegment` (the key is the same), so it is not looked up twice.
        """
        whole = " ".join(plan.text.split())
        errors: list[str] = []
        for route in self.health.order(plan.chain):
            engine = self._engines[route.engine]
            fallback = route != plan.chain[0]
            produced = rendered = False
            rest = whole
            try:
                while rest:
                    chunk, rest = self._next_chunk(rest, engine, playback)
                    key = None
                    if self.cache is not None and chunk != whole:
                        key = self._chunk_key(route, plan.language, chunk)
                    # The inference queue serves the chunk whose listener runs dry first.
                    DEADLINE.set(playback.runs_dry_at())
                    pieces = self._chunk_pieces(route, chunk, key)
                    async with contextlib.aclosing(pieces):
                        async for piece, cached in pieces:
                            produced = True
                            rendered = rendered or not cached
                            yield SegmentPiece(
                                route, piece, fallback, None if self.cache is None else cached
                            )
            except Exception as exc:
                if produced:
                    raise EngineError(
                        f"{route.engine} failed mid-segment (voices are never switched "
                        f"mid-audio): {exc}"
                    ) from exc
                self.health.mark_failed(route.engine, exc)
                errors.append(f"{route.engine}: {exc}")
                continue
            if produced:
                if rendered:  # audio served from the cache says nothing about the engine
                    self.health.mark_ok(route.engine)
                return
            errors.append(f"{route.engine}: no audio")  # never pass silence off as success
        raise NoEngineAvailableError(
            f"no engine could speak {plan.language!r} text: {'; '.join(errors)}"
        )

    async def cache_chunk(self, route: Route, language: str, text: str) -> bool:
        """Render `text` as one chunk spoken by `route` into the cache, unless it is there.

        What prerendered openers are stored with: the same key and pieces as a chunk of a
        request, so a text that begins with the opener finds it. The cache must be on.

        Returns:
            True when it was cached already (nothing was rendered).

        Raises:
            EngineError: No audio within `streaming.engine_timeout_s`; any exception of the
                engine passes through too. Nothing is stored then.
        """
        found = True
        pieces = self._chunk_pieces(route, text, self._chunk_key(route, language, text))
        async with contextlib.aclosing(pieces):
            async for _, cached in pieces:
                found = found and cached
        return found

    def text_chunker(self) -> TextStreamChunker:
        """A chunker for text streamed in (an LLM's reply), by this gateway's chunking settings
        and openers: each chunk it gives out is a request of its own, the first one early."""
        return TextStreamChunker(
            first_chunk_words=self.config.streaming.first_chunk_words,
            max_chunk_chars=self.config.streaming.max_chunk_chars,
            openers=self.config.prerender.openers,
        )

    def _next_chunk(self, text: str, engine: Engine, playback: Playback) -> tuple[str, str]:
        """The next chunk of `text` to render, and what is left after it.

        Before the listener has heard anything the chunk is short (`chunk_text`'s first-chunk
        rules, or a cached opener). After that it is as long as `engine` can render, at its
        measured speed, before the audio already queued has played: sentences while they fit,
        then clauses, then words (`next_chunk`). Never shorter than a call that pays for its
        fixed cost (`CHUNK_REALTIME_FACTOR`): where the time left is too short even for that,
        tiny chunks would only fall further behind, and a fuller one catches up sooner.
        """
        streaming = self.config.streaming
        if playback.first_audio_at is None:
            chunks = chunk_text(
                text,
                first_chunk_words=streaming.first_chunk_words,
                max_chunk_chars=streaming.max_chunk_chars,
                openers=self.config.prerender.openers,
            )
            return chunks[0], " ".join(chunks[1:])
        compute = engine.compute
        fits = max(
            compute.chars_within(playback.budget_s()),
            compute.efficient_chars(CHUNK_REALTIME_FACTOR),
        )
        return next_chunk(
            text, min(fits, streaming.max_chunk_chars), min_words=streaming.first_chunk_words
        )

    def _chunk_key(self, route: Route, language: str, text: str) -> str:
        """A chunk's cache key; a whole run is keyed the same way (one entry serves both)."""
        return segment_key(route, self._engines[route.engine].model_id(route.voice), language, text)

    async def _chunk_pieces(
        self, route: Route, text: str, key: str | None
    ) -> AsyncIterator[tuple[EngineAudio, bool]]:
        """One chunk's (piece, cached): from the entry under `key`, or rendered and stored.

        The entry holds the pieces exactly as the engine yielded them (already trimmed), so a
        cached chunk joins fresh ones as two fresh ones join. It is stored only once the chunk
        rendered completely: a failure or a closed stream mid-chunk stores nothing. `key` None
        renders without the cache.
        """
        if key is not None:
            assert self.cache is not None
            entry = await self.cache.get(key)
            if entry is not None:
                for piece in entry.audio():
                    yield piece, True
                return
        engine = self._engines[route.engine]
        spoken: list[EngineAudio] = []
        rendering = _with_timeout(
            engine.stream(text, route.voice, route.speed, self._executor),
            self.config.streaming.engine_timeout_s,
        )
        async with contextlib.aclosing(rendering):
            async for piece in rendering:
                spoken.append(piece)
                yield piece, False
        if key is not None and spoken:
            assert self.cache is not None
            self.cache.put(key, CacheEntry.from_audio(spoken, time.time()))


async def _with_timeout(
    pieces: AsyncIterator[EngineAudio], timeout_s: float
) -> AsyncIterator[EngineAudio]:
    """Re-yield pieces, treating a piece slower than `timeout_s` as an engine failure."""
    iterator = aiter(pieces)
    try:
        while True:
            try:
                piece = await asyncio.wait_for(anext(iterator), timeout_s)
            except StopAsyncIteration:
                return
            except TimeoutError as exc:
                raise EngineError(f"no audio within {timeout_s:g} s") from exc
            yield piece
    finally:
        await iterator.aclose()  # type: ignore[attr-defined]
