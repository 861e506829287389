"""The Wyoming door: Home Assistant's (and other voice assistants') local TTS protocol on TCP.

`describe` is answered with one TTS program listing every voice. `synthesize` is answered with
`audio-start`, one `audio-chunk` per synthesized chunk as it is ready, and `audio-stop`.
Streamed text (`synthesize-start` / `-chunk` / `-stop`, Wyoming 1.7) is cut by the core's
`TextStreamChunker`, so the first clause is spoken while the assistant's LLM is still writing;
its audio is one `audio-start` … `audio-stop` followed by `synthesize-stopped`. Home Assistant
also sends a plain `synthesize` with the whole text during a streamed request, for servers
without streaming; like wyoming-piper, this door ignores it then. Audio is 16-bit mono at
`streaming.sample_rate`; the gateway's cache and language routing serve it as any door.
"""

from __future__ import annotations

import asyncio
from functools import partial
from importlib.metadata import version

from loguru import logger
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.error import Error
from wyoming.event import Event
from wyoming.info import Attribution, Describe, Info, TtsProgram, TtsVoice
from wyoming.server import AsyncEventHandler, AsyncTcpServer
from wyoming.tts import (
    Synthesize,
    SynthesizeChunk,
    SynthesizeStart,
    SynthesizeStop,
    SynthesizeStopped,
    SynthesizeVoice,
)

from pipecat_tts_gateway.audio import AudioEncoder, AudioFormat
from pipecat_tts_gateway.errors import GatewayError
from pipecat_tts_gateway.gateway import Gateway, SynthesisRequest
from pipecat_tts_gateway.text import TextStreamChunker

_WIDTH, _CHANNELS = 2, 1
# Who made each engine's voices, as Home Assistant shows it.
_ATTRIBUTIONS = {
    "kokoro": ("Kokoro-82M", Attribution(name="hexgrad", url="https://github.com/hexgrad/kokoro")),
    "piper": (
        "Piper",
        Attribution(name="OHF-Voice", url="https://github.com/OHF-Voice/piper1-gpl"),
    ),
}


def describe(gateway: Gateway) -> Info:
    """One TTS program with every loaded voice, its language and the engine behind it."""
    package = version("pipecat-tts-gateway")
    voices = []
    for name, engine in gateway.engines.items():
        model, attribution = _ATTRIBUTIONS.get(name, (name, Attribution(name=name, url="")))
        voices += [
            TtsVoice(
                name=voice,
                description=f"{model} voice {voice}",
                attribution=attribution,
                installed=True,
                version=package,
                languages=[engine.voice_language(voice)],
            )
            for voice in engine.voices()
        ]
    program = TtsProgram(
        name="pipecat-tts-gateway",
        description="Kokoro-82M (English) and Piper (Russian), routed by language",
        attribution=Attribution(name="pipecat-tts-gateway", url=""),
        installed=True,
        version=package,
        voices=voices,
        supports_synthesize_streaming=True,
    )
    return Info(tts=[program])


class WyomingHandler(AsyncEventHandler):
    """One Wyoming connection."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        gateway: Gateway,
        info: Info,
    ) -> None:
        super().__init__(reader, writer)
        self._gateway = gateway
        self._info = info
        self._streamed: SynthesizeVoice | None = None
        self._chunker: TextStreamChunker | None = None
        self._audio_started = False

    async def handle_event(self, event: Event) -> bool:
        try:
            await self._handle(event)
        except ConnectionError:  # the client left; closing the stream stopped its synthesis
            return False
        return True

    async def _handle(self, event: Event) -> None:
        if Describe.is_type(event.type):
            await self.write_event(self._info.event())
        elif SynthesizeStart.is_type(event.type):
            start = SynthesizeStart.from_event(event)
            self._streamed = start.voice or SynthesizeVoice()
            self._chunker = self._gateway.text_chunker()
            self._audio_started = False
        elif SynthesizeChunk.is_type(event.type) and self._chunker is not None:
            for text in self._chunker.push(SynthesizeChunk.from_event(event).text):
                await self._speak(text, self._streamed)
        elif SynthesizeStop.is_type(event.type) and self._chunker is not None:
            if rest := self._chunker.flush():
                await self._speak(rest, self._streamed)
            await self._stop_audio()
            await self.write_event(SynthesizeStopped().event())
            self._chunker = self._streamed = None
        elif Synthesize.is_type(event.type) and self._chunker is None:
            synthesize = Synthesize.from_event(event)
            await self._speak(synthesize.text, synthesize.voice)
            await self._stop_audio()

    async def _speak(self, text: str, voice: SynthesizeVoice | None) -> None:
        """Send the audio of `text`, opening the audio stream first if this is its start."""
        language = voice.language if voice and not voice.name else None
        request = SynthesisRequest(
            text=text,
            voice=voice.name if voice else None,
            # Assistants may name a locale ("ru_RU", "en-US"); routes are by language.
            language=language.replace("-", "_").split("_")[0].lower() if language else None,
        )
        try:
            stream = self._gateway.synthesize(request)
            encoder = AudioEncoder(AudioFormat.S16LE, stream.sample_rate)
            async with stream:
                async for chunk in stream:
                    if not self._audio_started:
                        self._audio_started = True
                        await self.write_event(
                            AudioStart(stream.sample_rate, _WIDTH, _CHANNELS).event()
                        )
                    audio = encoder.encode(chunk.samples)
                    await self.write_event(
                        AudioChunk(stream.sample_rate, _WIDTH, _CHANNELS, audio).event()
                    )
        except GatewayError as exc:
            logger.warning("Wyoming synthesize failed: {}", exc)
            await self.write_event(Error(text=str(exc), code=exc.code).event())

    async def _stop_audio(self) -> None:
        if self._audio_started:
            await self.write_event(AudioStop().event())
            self._audio_started = False


async def start_wyoming(gateway: Gateway, host: str, port: int) -> AsyncTcpServer:
    """Serve Wyoming on `host:port` until the returned server's `stop()`."""
    server = AsyncTcpServer(host, port)
    await server.start(partial(WyomingHandler, gateway=gateway, info=describe(gateway)))
    return server
