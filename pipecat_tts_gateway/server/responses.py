"""Sending a synthesis as an HTTP body: streamed (chunked) or whole (Content-Length).

The body is produced while a watcher listens for the client going away. uvicorn silently drops
writes to a closed connection, so without the watcher a departed client would keep the engines
busy to the end of its text; with it, a disconnect cancels the send and `Synthesis.close()`
stops the synthesis behind it, ONNX runs in flight included.
"""

from __future__ import annotations

import anyio
import numpy as np
from loguru import logger
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from pipecat_tts_gateway.audio import (
    MEDIA_TYPES,
    STREAMABLE_FORMATS,
    AudioEncoder,
    AudioFormat,
    encode_whole,
)
from pipecat_tts_gateway.errors import GatewayError
from pipecat_tts_gateway.server.errors import gateway_error_response
from pipecat_tts_gateway.server.synthesis import CANCELLED, COMPLETED, FAILED, Synthesis


class AudioResponse(Response):
    """The audio of one synthesis in one encoding.

    Args:
        synthesis: An opened synthesis (its first chunk is ready).
        fmt: Output encoding.
        streamed: Send chunks as they are synthesized; otherwise the whole body at the end,
            with Content-Length and, for WAV, a header with the exact length. FLAC is always
            sent whole (its header records the length).
        retry_after_s: Retry-After for a 503 when a non-streamed synthesis fails.
    """

    def __init__(
        self, synthesis: Synthesis, fmt: AudioFormat, *, streamed: bool, retry_after_s: int
    ) -> None:
        self.status_code = 200
        self.background = None
        self.media_type = MEDIA_TYPES[fmt]
        self.raw_headers = []
        self._synthesis = synthesis
        self._fmt = fmt
        self._streamed = streamed and fmt in STREAMABLE_FORMATS
        self._retry_after_s = retry_after_s
        self._outcome = CANCELLED

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            async with anyio.create_task_group() as group:
                group.start_soon(_cancel_on_disconnect, receive, group.cancel_scope)
                if self._streamed:
                    await self._send_streamed(send)
                else:
                    await self._send_whole(scope, receive, send)
                group.cancel_scope.cancel()
        finally:
            with anyio.CancelScope(shield=True):
                await self._synthesis.close(self._outcome)

    def _start(self, content_length: int | None = None) -> Message:
        headers = self._synthesis.headers(self._fmt) | {"Content-Type": self.media_type}
        if content_length is not None:
            headers["Content-Length"] = str(content_length)
        raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
        return {"type": "http.response.start", "status": 200, "headers": raw + self.raw_headers}

    async def _send_streamed(self, send: Send) -> None:
        synthesis = self._synthesis
        await send(self._start())
        encoder = AudioEncoder(self._fmt, synthesis.sample_rate)
        body = encoder.header() + encoder.encode(synthesis.first.samples)
        await send({"type": "http.response.body", "body": body, "more_body": True})
        try:
            async for chunk in synthesis.stream:
                data = encoder.encode(chunk.samples)
                await send({"type": "http.response.body", "body": data, "more_body": True})
        except GatewayError as exc:
            # Headers are out: all that is left is to end the body early, so the client sees
            # an incomplete chunked response instead of audio that silently stops.
            logger.error("Synthesis failed mid-stream, closing the response: {}", exc)
            self._outcome = FAILED
            return
        self._outcome = COMPLETED
        await send({"type": "http.response.body", "body": encoder.finish(), "more_body": False})

    async def _send_whole(self, scope: Scope, receive: Receive, send: Send) -> None:
        synthesis = self._synthesis
        parts = [synthesis.first.samples]
        try:
            parts += [chunk.samples async for chunk in synthesis.stream]
        except GatewayError as exc:
            self._outcome = FAILED
            await gateway_error_response(exc, self._retry_after_s)(scope, receive, send)
            return
        self._outcome = COMPLETED
        audio = np.concatenate(parts)
        body = encode_whole(audio, synthesis.sample_rate, self._fmt)
        await send(self._start(len(body)))
        await send({"type": "http.response.body", "body": body, "more_body": False})


async def _cancel_on_disconnect(receive: Receive, scope: anyio.CancelScope) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
    scope.cancel()
