"""Request bodies of the two synthesis endpoints, and the error body, for validation and OpenAPI.

Models are strict (no "1.0" → 1.0 or "yes" → true coercion) so a client's type mistake is an
error it sees, not a guess. Ranges and enums come from the core's own constants, so the schema,
pydantic and the core agree on what is valid; the core still validates everything itself.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from pipecat_tts_gateway.audio import SUPPORTED_SAMPLE_RATES, AudioFormat
from pipecat_tts_gateway.routing import MAX_SPEED, MIN_SPEED
from pipecat_tts_gateway.server.openai_compat import OPENAI_FORMATS, OPENAI_VOICES

SampleRate = Literal[SUPPORTED_SAMPLE_RATES]  # type: ignore[valid-type]
Speed = Annotated[float, Field(ge=MIN_SPEED, le=MAX_SPEED)]
Name = Annotated[str, Field(min_length=1, max_length=200)]
OpenAIVoice = Literal[tuple(OPENAI_VOICES)]  # type: ignore[valid-type]
OpenAIFormat = Literal[OPENAI_FORMATS]  # type: ignore[valid-type]


class SynthesizeBody(BaseModel):
    """POST /synthesize."""

    model_config = ConfigDict(strict=True, extra="forbid")

    text: str = Field(min_length=1, description="Text to speak; languages are detected per run.")
    voice: Name | None = Field(
        None,
        description="A voice from GET /voices, or a Kokoro blend such as "
        "'af_heart:0.7+am_michael:0.3'; it speaks the runs of its own language.",
    )
    language: Name | None = Field(None, description="Force one language (e.g. 'en', 'ru').")
    speed: Speed | None = Field(None, description="Speaking rate; default: the route's.")
    profile: Name | None = Field(None, description="A voice profile from the config.")
    sample_rate: SampleRate | None = Field(None, description="Output rate in Hz; default 22050.")
    format: Annotated[AudioFormat, Field(strict=False)] = Field(
        AudioFormat.F32LE,
        description="f32le (raw float32), s16le (raw 16-bit), wav (16-bit), mulaw (G.711), "
        "mp3, opus (Ogg), aac (ADTS) or flac (always sent whole).",
    )
    stream: bool = Field(
        True, description="Chunked audio as it is synthesized; false sends it whole."
    )


class VoiceId(BaseModel):
    """OpenAI's custom-voice form, `{"id": ...}`; the id names one of our voices."""

    model_config = ConfigDict(strict=True)

    id: Name


class SpeechBody(BaseModel):
    """POST /v1/audio/speech, OpenAI's request; unknown fields are ignored as OpenAI adds them."""

    model_config = ConfigDict(strict=True, extra="ignore")

    model: str = Field(
        description="Accepted and ignored ('tts-1', 'kokoro', ...): voice and language route."
    )
    input: str = Field(min_length=1, description="Text to speak.")
    voice: OpenAIVoice | Name | VoiceId = Field(
        description="An OpenAI voice name (alloy, echo, ...; see GET /voices) or one of ours."
    )
    response_format: OpenAIFormat = Field(
        "mp3",
        description="mp3 (default, as OpenAI's), opus (Ogg), aac (ADTS), flac, wav, or pcm "
        "(raw 16-bit little-endian mono), all at 24 kHz; flac is sent whole, the rest "
        "streamed.",
    )
    speed: Speed | None = Field(None, description="Speaking rate; default: the route's.")
    instructions: str | None = Field(None, description="Accepted and ignored.")
    stream_format: Literal["audio"] = Field("audio", description="Only 'audio'; no SSE.")


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorBody(BaseModel):
    """Every error response."""

    error: ErrorDetail


class StreamConfig(BaseModel):
    """The websocket's optional first message, `{"config": {...}}`; the same options as
    /synthesize, for every chunk of the stream, in a raw encoding (binary messages need no
    container)."""

    model_config = ConfigDict(strict=True, extra="forbid")

    voice: Name | None = None
    language: Name | None = None
    speed: Speed | None = None
    profile: Name | None = None
    sample_rate: SampleRate | None = None
    format: Literal["s16le", "f32le", "mulaw"] = "s16le"
