"""OpenAI's /v1/audio/speech request in the gateway's terms: voice names and output format.

OpenAI voices map to Kokoro voices of similar character (several share a name with one):

    alloy → af_alloy     ash → am_michael    ballad → bm_lewis    coral → af_heart
    echo → am_echo       fable → bm_fable    onyx → am_onyx       nova → af_nova
    sage → af_sarah      shimmer → af_sky    verse → am_puck      marin → af_jessica
    cedar → am_eric

Like any forced voice, the mapped voice speaks the runs of its own language (English); Russian
runs of the same input go to the Russian route. When Kokoro is not loaded, OpenAI names fall
back to the default voice of each language. Our own voice names (GET /voices) work as they are.
Every `response_format` is at 24 kHz, OpenAI's rate: `pcm` is 16-bit little-endian mono, as
OpenAI defines it; mp3, opus (Ogg), aac (ADTS) and flac are encoded by PyAV.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pipecat_tts_gateway.audio import AudioFormat
from pipecat_tts_gateway.errors import UnknownVoiceError
from pipecat_tts_gateway.gateway import SynthesisRequest
from pipecat_tts_gateway.routing import Router

if TYPE_CHECKING:  # schemas imports the voice names from here
    from pipecat_tts_gateway.server.schemas import SpeechBody

OPENAI_VOICES: dict[str, str] = {
    "alloy": "af_alloy",
    "ash": "am_michael",
    "ballad": "bm_lewis",
    "coral": "af_heart",
    "echo": "am_echo",
    "fable": "bm_fable",
    "onyx": "am_onyx",
    "nova": "af_nova",
    "sage": "af_sarah",
    "shimmer": "af_sky",
    "verse": "am_puck",
    "marin": "af_jessica",
    "cedar": "am_eric",
}
OPENAI_SAMPLE_RATE = 24000
_FORMATS = {
    "mp3": AudioFormat.MP3,
    "opus": AudioFormat.OPUS,
    "aac": AudioFormat.AAC,
    "flac": AudioFormat.FLAC,
    "wav": AudioFormat.WAV,
    "pcm": AudioFormat.S16LE,
}
OPENAI_FORMATS = tuple(_FORMATS)


def resolve_voice(name: str, router: Router) -> str | None:
    """Our voice for an OpenAI or native voice name; None means each language's default.

    Raises:
        UnknownVoiceError: Neither an OpenAI voice nor one of ours; lists both.
    """
    mapped = OPENAI_VOICES.get(name.lower())
    try:
        router.voice_owner(mapped or name)
    except UnknownVoiceError as exc:
        if mapped is not None:
            return None
        raise UnknownVoiceError(f"{exc}; OpenAI voices: {', '.join(OPENAI_VOICES)}") from None
    return mapped or name


def speech_request(body: SpeechBody, router: Router) -> tuple[SynthesisRequest, AudioFormat]:
    """The synthesis request and encoding an OpenAI speech request asks for."""
    name = body.voice if isinstance(body.voice, str) else body.voice.id
    request = SynthesisRequest(
        text=body.input,
        voice=resolve_voice(name, router),
        speed=body.speed,
        sample_rate=OPENAI_SAMPLE_RATE,
    )
    return request, _FORMATS[body.response_format]
