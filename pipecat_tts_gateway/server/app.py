"""The HTTP door's routes: translation between HTTP and the gateway's stream, nothing more.

The websocket `/v1/stream` shares the port, the API key and admission control.

Synthesis, caching and routing live in the core; a route here parses a body into a
`SynthesisRequest`, opens it through admission control and hands it to `AudioResponse`.
"""

from __future__ import annotations

from importlib.metadata import version
from typing import Any

from fastapi import Depends, FastAPI, Request, WebSocket
from fastapi.responses import Response

from pipecat_tts_gateway.audio import MEDIA_TYPES, AudioFormat
from pipecat_tts_gateway.config import ServerConfig
from pipecat_tts_gateway.gateway import Gateway, SynthesisRequest
from pipecat_tts_gateway.server import status
from pipecat_tts_gateway.server.admission import Admission
from pipecat_tts_gateway.server.auth import ApiKeyMiddleware
from pipecat_tts_gateway.server.body_limit import BodyLimitMiddleware
from pipecat_tts_gateway.server.errors import ApiError, install_error_handlers
from pipecat_tts_gateway.server.metrics import Metrics
from pipecat_tts_gateway.server.openai_compat import speech_request
from pipecat_tts_gateway.server.responses import AudioResponse
from pipecat_tts_gateway.server.schemas import ErrorBody, SpeechBody, SynthesizeBody
from pipecat_tts_gateway.server.stream_socket import StreamSession
from pipecat_tts_gateway.server.synthesis import Synthesis

_AUDIO_HEADERS = {
    name: {"description": text, "schema": {"type": "string"}}
    for name, text in {
        "X-Sample-Rate": "Sample rate of the audio in Hz.",
        "X-Audio-Format": "Encoding: f32le, s16le, wav, mulaw, mp3, opus, aac or flac.",
        "X-Engine": "Engine that spoke the first chunk.",
        "X-Engines": "Engines of the language segments, in order of first use.",
        "X-Voice": "Voice of the first chunk.",
        "X-Language": "Language of the first chunk.",
        "X-Cache": "hit when all the audio came from the cache (streamed: all the audio ready "
        "before the headers went out), else miss.",
        "X-First-Audio-Ms": "Request received to first audio ready, in ms.",
    }.items()
}
_ERRORS: dict[int | str, dict[str, Any]] = {
    status_code: {"model": ErrorBody, "description": text}
    for status_code, text in {
        400: "Invalid input (text, voice, language, speed, profile, rate or format).",
        401: "Missing or invalid API key.",
        413: "Text or body too long.",
        415: "Content-Type is not application/json.",
        503: "Server busy (see Retry-After) or no engine can speak the text.",
    }.items()
}


def _audio_responses(media_types: list[str]) -> dict[int | str, dict[str, Any]]:
    return {
        200: {
            "description": "Audio; chunked while streaming.",
            "content": {
                media: {"schema": {"type": "string", "format": "binary"}} for media in media_types
            },
            "headers": _AUDIO_HEADERS,
        },
        **_ERRORS,
    }


async def _require_json(request: Request) -> None:
    """415 for bodies that are not JSON (FastAPI would otherwise report a type error)."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/json" and not media.endswith("+json"):
        raise ApiError(
            415,
            "unsupported_media_type",
            f"Content-Type must be application/json, got {media or 'none'}",
        )


def create_app(gateway: Gateway, config: ServerConfig) -> FastAPI:
    """The FastAPI app over a started gateway (the caller owns the gateway's lifecycle).

    Args:
        gateway: A started gateway.
        config: The `server` config section.
    """
    admission = Admission(
        config.max_concurrent, config.max_queue, config.queue_timeout_s, config.retry_after_s
    )
    metrics = Metrics(admission, gateway)
    app = FastAPI(
        title="pipecat-tts-gateway",
        version=version("pipecat-tts-gateway"),
        description="Local streaming TTS: Kokoro-82M (English) and Piper (Russian).",
    )
    install_error_handlers(app, metrics.error, config.retry_after_s)
    # The last middleware added runs first: authentication before any body is read.
    app.add_middleware(BodyLimitMiddleware, max_bytes=config.max_body_bytes, on_error=metrics.error)
    if config.api_key:
        app.add_middleware(ApiKeyMiddleware, api_key=config.api_key, on_error=metrics.error)

    async def respond(
        request: SynthesisRequest, fmt: AudioFormat, endpoint: str, *, streamed: bool
    ) -> AudioResponse:
        synthesis = await Synthesis.open(gateway, admission, metrics, request, endpoint)
        return AudioResponse(synthesis, fmt, streamed=streamed, retry_after_s=config.retry_after_s)

    @app.post(
        "/synthesize",
        dependencies=[Depends(_require_json)],
        response_class=Response,
        responses=_audio_responses(sorted(set(MEDIA_TYPES.values()))),
    )
    async def synthesize(body: SynthesizeBody) -> Response:
        """Speak text; raw float32 mono at 22,050 Hz unless `format`/`sample_rate` say otherwise."""
        request = SynthesisRequest(
            text=body.text,
            voice=body.voice,
            language=body.language,
            speed=body.speed,
            profile=body.profile,
            sample_rate=body.sample_rate,
        )
        return await respond(request, body.format, "/synthesize", streamed=body.stream)

    @app.post(
        "/v1/audio/speech",
        dependencies=[Depends(_require_json)],
        response_class=Response,
        responses=_audio_responses(sorted(set(MEDIA_TYPES.values()))),
    )
    async def speech(body: SpeechBody) -> Response:
        """OpenAI-compatible speech; always streamed."""
        request, fmt = speech_request(body, gateway.router)
        return await respond(request, fmt, "/v1/audio/speech", streamed=True)

    @app.websocket("/v1/stream")
    async def stream(websocket: WebSocket) -> None:
        """LLM text in as it is written, audio out as it is spoken (see `stream_socket`)."""
        await StreamSession(websocket, gateway, admission, metrics).run()

    @app.get("/health")
    async def health() -> dict[str, Any]:
        """Engines and models (stand-ins flagged), cache, prerender and load; no key needed."""
        return status.health(gateway, admission)

    @app.get("/voices", responses={401: _ERRORS[401]})
    async def voices() -> dict[str, Any]:
        """Voices per engine and language, profiles, and the OpenAI voice mapping."""
        return status.voices(gateway)

    @app.get("/metrics", response_class=Response, responses={401: _ERRORS[401]})
    async def prometheus() -> Response:
        """Prometheus metrics."""
        body, content_type = metrics.render()
        return Response(body, media_type=content_type)

    return app
