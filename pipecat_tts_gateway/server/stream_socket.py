"""The websocket door, `/v1/stream`: LLM text in as it is written, audio out as it is spoken.

Client → server, JSON text messages: an optional first ``{"config": {...}}``; any number of
``{"text": "<delta>"}``; ``{"flush": true}`` (speak what is buffered now); ``{"close": true}``
(speak the rest, send ``done``, close); ``{"cancel": true}`` (stop at once: no more audio; a
``done`` with ``"cancelled": true`` follows and the socket takes the next utterance). Server →
client: a JSON ``{"type": "chunk", ...}`` then one binary message with its audio, per chunk;
``{"type": "done", ...}`` at the end; ``{"type": "error", "error": {"code", "message"}}`` for
a bad message, after which the socket stays usable.

Deltas are cut by the core's `TextStreamChunker` (as Pipecat's LLM text is), so the first
clause is synthesized while the rest is still being written; each chunk is then one synthesis
through the HTTP door's admission control and metrics (`Synthesis`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any

from fastapi import WebSocket
from loguru import logger
from pydantic import ValidationError
from starlette.websockets import WebSocketDisconnect

from pipecat_tts_gateway.audio import AudioEncoder
from pipecat_tts_gateway.errors import GatewayError, TextTooLongError
from pipecat_tts_gateway.gateway import AudioChunk, Gateway, SegmentResult, SynthesisRequest
from pipecat_tts_gateway.server.admission import Admission
from pipecat_tts_gateway.server.errors import ApiError, validation_error
from pipecat_tts_gateway.server.metrics import Metrics
from pipecat_tts_gateway.server.schemas import StreamConfig
from pipecat_tts_gateway.server.synthesis import CANCELLED, COMPLETED, FAILED, Synthesis

ENDPOINT = "/v1/stream"
_COMMANDS = ("config", "text", "flush", "close", "cancel")


class _Closing:
    """The queue's end marker: `close` was asked, nothing follows."""


class _Utterance:
    """What one utterance has said so far, for its `done` message."""

    def __init__(self) -> None:
        self.started: float | None = None  # first text received
        self.first_audio_ms: float | None = None
        self.duration_s = 0.0
        self.segments: list[SegmentResult] = []
        self.cache: str | None = None

    def spoke(self, chunk: AudioChunk) -> None:
        if self.first_audio_ms is None and self.started is not None:
            self.first_audio_ms = (time.perf_counter() - self.started) * 1000.0
        self.duration_s += chunk.duration_s

    def add(self, synthesis: Synthesis) -> None:
        """Merge a chunk's segments: a language run cut into chunks is still one run."""
        for segment in synthesis.stream.segments:
            last = self.segments[-1] if self.segments else None
            same = (segment.language, segment.engine, segment.voice, segment.fallback)
            if last and (last.language, last.engine, last.voice, last.fallback) == same:
                last.text = f"{last.text} {segment.text}"
            else:
                self.segments.append(SegmentResult(**segment.to_dict()))
        if synthesis.stream.cache is not None and self.cache != "miss":
            self.cache = synthesis.stream.cache

    def done(self, *, cancelled: bool) -> dict[str, Any]:
        return {
            "type": "done",
            "first_audio_ms": None if self.first_audio_ms is None else round(self.first_audio_ms),
            "duration_s": round(self.duration_s, 3),
            "segments": [segment.to_dict() for segment in self.segments],
            "cache": self.cache or "miss",
            "cancelled": cancelled,
        }


class StreamSession:
    """One websocket connection: a reader of client messages and a speaker of chunks.

    Args:
        websocket: The connection, not yet accepted.
        gateway: A started gateway.
        admission: The HTTP door's admission control (each chunk takes a slot).
        metrics: The HTTP door's metrics.
    """

    def __init__(
        self, websocket: WebSocket, gateway: Gateway, admission: Admission, metrics: Metrics
    ) -> None:
        self._ws = websocket
        self._gateway = gateway
        self._admission = admission
        self._metrics = metrics
        self._config = StreamConfig()
        self._configurable = True
        self._chunker = gateway.text_chunker()
        self._queue: asyncio.Queue[str | _Closing] = asyncio.Queue()
        self._utterance = _Utterance()
        # A chunk's JSON and its audio go out together; `cancel` takes this lock first so it
        # never cuts between them.
        self._send_lock = asyncio.Lock()
        self._closing = False
        self._speaker: asyncio.Task[None] | None = None

    async def run(self) -> None:
        await self._ws.accept()
        self._speaker = asyncio.create_task(self._speak())
        try:
            while True:
                message = await self._ws.receive()
                if message["type"] == "websocket.disconnect":
                    return
                await self._handle(message)
        except WebSocketDisconnect:
            return
        finally:
            await self._stop_speaker()

    async def _handle(self, message: dict[str, Any]) -> None:
        """Act on one client message; a bad one is answered with an error and skipped."""
        try:
            if message.get("text") is None:
                raise ApiError(400, "invalid_request", "messages must be JSON text, not binary")
            try:
                body = json.loads(message["text"])
            except json.JSONDecodeError as exc:
                raise ApiError(400, "malformed_json", f"message is not valid JSON: {exc}") from None
            if not isinstance(body, dict) or not any(key in body for key in _COMMANDS):
                raise ApiError(
                    400, "invalid_request", f"a message is an object with one of {_COMMANDS}"
                )
            if self._closing and "cancel" not in body:
                raise ApiError(400, "invalid_request", "the stream is closing: only cancel")
            if "config" in body:
                self._configure(body["config"])
            if "text" in body:
                self._push(body["text"])
            if body.get("flush") is True:
                self._flush()
            if body.get("close") is True:
                self._flush()
                self._closing = True
                self._queue.put_nowait(_Closing())
            if body.get("cancel") is True:
                await self._cancel()
        except (ApiError, GatewayError) as exc:
            await self._error(exc)

    def _configure(self, raw: object) -> None:
        if not self._configurable:
            raise ApiError(400, "invalid_request", "config must come before any text")
        try:
            config = StreamConfig.model_validate(raw)
        except ValidationError as exc:
            raise ApiError(400, *validation_error(exc.errors())) from None
        self._gateway.router.check(
            language=config.language, voice=config.voice, speed=config.speed, profile=config.profile
        )
        self._config = config
        self._configurable = False

    def _push(self, delta: object) -> None:
        if not isinstance(delta, str):
            raise ApiError(400, "invalid_request", "text must be a string")
        self._configurable = False
        if self._utterance.started is None and delta.strip():
            self._utterance.started = time.perf_counter()
        for chunk in self._chunker.push(delta):
            self._queue.put_nowait(chunk)
        limit = self._gateway.config.streaming.max_text_chars
        if len(self._chunker.pending) > limit:
            self._chunker.reset()
            raise TextTooLongError(
                f"over {limit} characters without a sentence end; the buffered text was dropped"
            )

    def _flush(self) -> None:
        if rest := self._chunker.flush():
            self._queue.put_nowait(rest)

    async def _cancel(self) -> None:
        """Stop the synthesis and drop the text behind it; the socket takes a new utterance."""
        async with self._send_lock:
            await self._stop_speaker()
            self._queue = asyncio.Queue()
            self._chunker.reset()
            done = self._utterance.done(cancelled=True)
            self._utterance = _Utterance()
            self._closing = False
            await self._ws.send_json(done)
        self._speaker = asyncio.create_task(self._speak())

    async def _stop_speaker(self) -> None:
        if self._speaker is not None and not self._speaker.done():
            self._speaker.cancel()
        if self._speaker is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._speaker

    async def _speak(self) -> None:
        """Speak the queued chunks in order; after `close`, send `done` and close the socket."""
        try:
            while not isinstance(text := await self._queue.get(), _Closing):
                await self._speak_chunk(text)
            await self._ws.send_json(self._utterance.done(cancelled=False))
            await self._ws.close()
        except (WebSocketDisconnect, OSError) as exc:
            logger.debug("{}: client gone while sending: {}", ENDPOINT, exc)

    async def _speak_chunk(self, text: str) -> None:
        config = self._config
        request = SynthesisRequest(text=text, **config.model_dump(exclude={"format"}))
        try:
            synthesis = await Synthesis.open(
                self._gateway, self._admission, self._metrics, request, ENDPOINT
            )
        except (ApiError, GatewayError) as exc:
            await self._error(exc)
            return
        outcome = CANCELLED
        encoder = AudioEncoder(config.format, synthesis.sample_rate)
        try:
            await self._send_chunk(synthesis.first, encoder)
            async for chunk in synthesis.stream:
                await self._send_chunk(chunk, encoder)
            outcome = COMPLETED
        except GatewayError as exc:
            outcome = FAILED
            await self._error(exc)
        finally:
            self._utterance.add(synthesis)
            await synthesis.close(outcome)

    async def _send_chunk(self, chunk: AudioChunk, encoder: AudioEncoder) -> None:
        header = {
            "type": "chunk",
            "text": chunk.text,
            "engine": chunk.engine,
            "voice": chunk.voice,
            "language": chunk.language,
            "words": [[w.word, round(w.start_s, 3), round(w.end_s, 3)] for w in chunk.words or ()],
        }
        data = encoder.encode(chunk.samples)
        async with self._send_lock:
            self._utterance.spoke(chunk)
            await self._ws.send_json(header)
            await self._ws.send_bytes(data)

    async def _error(self, exc: ApiError | GatewayError) -> None:
        message = exc.message if isinstance(exc, ApiError) else str(exc)
        self._metrics.error(ENDPOINT, exc.code)
        async with self._send_lock:
            await self._ws.send_json(
                {"type": "error", "error": {"code": exc.code, "message": message}}
            )
