"""Pipecat TTS service backed by the local gateway: Kokoro for English, Piper for Russian.

Every sentence Pipecat hands over goes through the same core path as the CLI and the HTTP
server (language runs, routing with fallback, cache, streaming engines); this module only
translates between Pipecat frames and the gateway's audio chunks.
"""

import asyncio
from collections.abc import AsyncGenerator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from loguru import logger

from pipecat_tts_gateway.audio import to_s16, validate_output
from pipecat_tts_gateway.config import GatewayConfig
from pipecat_tts_gateway.errors import EmptyTextError, GatewayError
from pipecat_tts_gateway.gateway import AudioChunk, Gateway, SynthesisRequest, SynthesisStream

try:
    from pipecat.frames.frames import (
        ErrorFrame,
        Frame,
        StartFrame,
        TTSAudioRawFrame,
        TTSSpeakFrame,
    )
    from pipecat.processors.frame_processor import FrameDirection, FrameProcessorSetup
    from pipecat.services.settings import TTSSettings
    from pipecat.services.tts_service import TTSService
    from pipecat.transcriptions.language import Language, resolve_language
    from pipecat.utils.text.base_text_aggregator import TextType
    from pipecat.utils.tracing.service_decorators import traced_tts
    from pipecat.utils.types import NOT_GIVEN, NotGiven

    from pipecat_tts_gateway.pipecat.text_aggregator import GatewayTextAggregator
except ModuleNotFoundError as e:
    logger.error(f"Exception: {e}")
    logger.error(
        "In order to use GatewayTTSService, you need to "
        "`pip install 'pipecat-tts-gateway[pipecat]'`."
    )
    raise ImportError(
        f"Missing module: {e}. Install it with `pip install 'pipecat-tts-gateway[pipecat]'`."
    ) from e

# Audio frames are cut to 20-40 ms: small enough for a transport to pace and interrupt
# promptly, large enough not to flood the pipeline with frames.
FRAME_MS = 20

# Key of the gateway's per-chunk facts in TTSAudioRawFrame.metadata.
METADATA_KEY = "tts_gateway"


def language_to_gateway_language(language: Language) -> str:
    """Convert a Language enum to the gateway's language code.

    Args:
        language: The Language enum value to convert.

    Returns:
        The gateway language code ("en", "ru"); regional variants resolve to their base.
    """
    LANGUAGE_MAP = {
        Language.EN: "en",
        Language.RU: "ru",
    }
    return resolve_language(language, LANGUAGE_MAP, use_base_code=True)


@dataclass
class GatewayTTSSettings(TTSSettings):
    """Runtime-updatable settings for GatewayTTSService.

    Each field is read again for every sentence, so an update applies from the next one.

    Parameters:
        voice: A voice forced for the text of its own language (a Kokoro voice such as
            "bf_emma", a blend such as "af_heart:0.7+am_michael:0.3", or a Piper voice);
            text in other languages keeps its routed voice. None lets the routes choose.
        language: One language forced for all text; None detects language runs.
        speed: Speaking rate, 0.5-2.0; None uses each route's default.
        profile: A voice profile from the gateway config, which sets a voice per language.
    """

    speed: float | NotGiven | None = field(default_factory=lambda: NOT_GIVEN)
    profile: str | NotGiven | None = field(default_factory=lambda: NOT_GIVEN)


class GatewayTTSService(TTSService):
    """Local multilingual TTS: Kokoro-82M for English, Piper for Russian, chosen per sentence.

    Audio streams as the gateway produces it (the first frame leaves with the first chunk),
    at the pipeline's output rate, in 20-40 ms frames. Word times from the engines are passed
    on, so after an interruption the assistant context keeps only the words actually spoken.
    An interruption also stops the synthesis behind it, including an inference in flight.

    A greeting is rendered into the gateway's cache before the pipeline starts and spoken on
    the StartFrame, so a caller hears it without waiting for synthesis.

    Each audio frame's ``metadata["tts_gateway"]`` says which engine, voice and language spoke
    it and whether it came from the cache.
    """

    Settings = GatewayTTSSettings
    _settings: Settings

    def __init__(
        self,
        *,
        config: GatewayConfig | str | Path | None = None,
        gateway: Gateway | None = None,
        greeting: str | list[str] | None = None,
        settings: Settings | None = None,
        **kwargs,
    ):
        """Initialize the service, loading the models (or sharing those already loaded).

        Args:
            config: Gateway configuration, or the path of a YAML file. None loads
                ``config.yaml`` (or ``TTS_GATEWAY_CONFIG``) with the environment overrides.
            gateway: An existing gateway to use instead of building one, so that several
                services share one cache too (engines are shared by the process-wide
                registry either way). The service then leaves closing it to its owner.
            greeting: Phrase(s) spoken at pipeline start, in order, each from the cache.
            settings: Runtime-updatable settings; by default the routes pick voices and
                the language of each run is detected.
            **kwargs: Additional arguments passed to the parent `TTSService`.
        """
        if config is not None and gateway is not None:
            raise ValueError("pass either config or gateway, not both")

        default_settings = self.Settings(
            model=None,
            voice=None,
            language=None,
            speed=None,
            profile=None,
        )
        if settings is not None:
            default_settings.apply_update(settings)

        super().__init__(
            push_start_frame=True,
            push_stop_frames=True,
            # Words are pushed as they are spoken, from the engines' word times.
            push_text_frames=False,
            settings=default_settings,
            **kwargs,
        )

        self._owns_gateway = gateway is None
        if gateway is None:
            if not isinstance(config, GatewayConfig):
                config = GatewayConfig.load(config)
            gateway = Gateway(config)
            # Loaded here, as pipecat's own local services do, so the pipeline's start is not
            # held up by seconds of model loading; a second service reuses the same engines.
            gateway.load()
        self._gateway = gateway
        if self._text_aggregator.aggregation_type == TextType.SENTENCE:
            # LLM text is cut by the gateway's rules, so a reply's first clause goes out early.
            self._text_aggregator = GatewayTextAggregator(gateway.text_chunker())
        self._greeting = [greeting] if isinstance(greeting, str) else list(greeting or [])
        # The stream being read for each context, so an interruption can close it.
        self._streams: dict[str, SynthesisStream] = {}
        # Seconds of audio already produced per context: word times run from its first audio.
        self._audio_offsets: dict[str, float] = {}

    @property
    def gateway(self) -> Gateway:
        """The gateway this service speaks through."""
        return self._gateway

    def can_generate_metrics(self) -> bool:
        """Indicate that this service supports TTFB and usage metrics."""
        return True

    def language_to_service_language(self, language: Language) -> str:
        """Convert a Language enum to the gateway's language code.

        Args:
            language: The language to convert.

        Returns:
            The gateway language code.
        """
        return language_to_gateway_language(language)

    async def setup(self, setup: FrameProcessorSetup):
        """Render the greeting before the pipeline starts.

        Pipecat holds the StartFrame until every processor is set up, so rendering here is
        what lets the greeting play the moment the StartFrame arrives.

        Args:
            setup: Configuration object containing setup parameters.
        """
        await super().setup(setup)
        validate_output(self.sample_rate, "s16le")
        await self._gateway.start()
        await self._prerender_greeting()

    async def _prerender_greeting(self):
        """Render the greeting into the gateway's cache, so speaking it is a cache hit.

        Each phrase is requested with this service's own settings (voice, profile, speed,
        language): `Gateway.prerender` renders with the default routes only, and a greeting
        in another voice would miss. A phrase already cached costs a lookup.
        """
        if not self._greeting:
            return
        if self._gateway.cache is None:
            logger.warning(f"{self}: the gateway cache is off, so the greeting waits for synthesis")
            return
        for phrase in self._greeting:
            try:
                await self._gateway.synthesize_all(self._request(phrase))
            except GatewayError as e:
                # Not fatal: speaking it at start tries again and reports the error upstream.
                logger.error(f"{self}: could not prerender the greeting [{phrase}]: {e}")

    async def cleanup(self):
        """Close the gateway if this service built it."""
        await super().cleanup()
        if self._owns_gateway:
            await self._gateway.close()

    async def process_frame(self, frame: Frame, direction: FrameDirection):
        """Process frames, queueing the greeting once the StartFrame has gone downstream.

        Queueing it only after the StartFrame is pushed keeps its audio behind that frame.

        Args:
            frame: The frame to process.
            direction: The direction of frame processing.
        """
        await super().process_frame(frame, direction)
        if isinstance(frame, StartFrame):
            for phrase in self._greeting:
                await self.queue_frame(TTSSpeakFrame(phrase))

    async def _update_settings(self, delta: Settings) -> dict[str, Any]:
        """Apply a settings delta; voice, language, speed and profile apply from the next text.

        Args:
            delta: A settings delta.

        Returns:
            Dict mapping changed field names to their previous values.
        """
        changed = await super()._update_settings(delta)
        if "model" in changed:
            self._warn_unhandled_updated_settings({"model"})
        return changed

    async def on_audio_context_interrupted(self, context_id: str):
        """Stop the synthesis behind an interrupted context.

        Cancelling ``run_tts`` alone can leave its generator suspended at a ``yield``, with
        the gateway still rendering ahead; closing the stream stops the engines for sure.

        Args:
            context_id: The ID of the interrupted audio context.
        """
        self._audio_offsets.pop(context_id, None)
        stream = self._streams.pop(context_id, None)
        if stream is not None:
            await stream.aclose()

    async def on_audio_context_completed(self, context_id: str):
        """Forget the context's word-time offset (a resumed context starts timing afresh).

        Args:
            context_id: The ID of the audio context that finished.
        """
        self._audio_offsets.pop(context_id, None)

    @traced_tts
    async def run_tts(self, text: str, context_id: str) -> AsyncGenerator[Frame | None, None]:
        """Stream speech for one sentence (or a whole TTSSpeakFrame) through the gateway.

        Args:
            text: The text to convert to speech.
            context_id: Unique identifier for this TTS context.

        Yields:
            Frame: Audio frames as chunks are synthesized, or an ErrorFrame.
        """
        try:
            stream = self._gateway.synthesize(self._request(text))
        except EmptyTextError:
            # Punctuation or symbols only: there is nothing to say, which is not a failure.
            logger.debug(f"{self}: nothing speakable in [{text}]")
            return
        except GatewayError as e:
            yield ErrorFrame(error=f"{self} cannot speak [{text}]: {e}")
            return

        await self.start_tts_usage_metrics(text)
        self._streams[context_id] = stream
        try:
            while (chunk := await self._next_chunk(stream, context_id)) is not None:
                for frame in self._audio_frames(chunk, stream, context_id):
                    yield frame
                await self.add_word_timestamps(self._word_times(chunk, context_id), context_id)
        except GatewayError as e:
            yield ErrorFrame(error=f"{self} failed speaking [{text}]: {e}")
        finally:
            # Also reached on interruption (CancelledError) and when the generator is closed.
            if self._streams.get(context_id) is stream:
                del self._streams[context_id]
            await stream.aclose()

    async def _next_chunk(self, stream: SynthesisStream, context_id: str) -> AudioChunk | None:
        """The stream's next chunk (None at its end), keeping the audio context open meanwhile.

        Pipecat ends a context that gets no audio for ``stop_frame_timeout_s`` and reports it
        as silent; a chunk that takes longer (a long sentence on a busy CPU) is not silence.
        """
        # Three keepalives per timeout: one missed tick still leaves the context open.
        keepalive_s = self._stop_frame_timeout_s / 3
        waiting = asyncio.ensure_future(anext(stream, None))
        try:
            while not (await asyncio.wait({waiting}, timeout=keepalive_s))[0]:
                self._refresh_audio_context(context_id)
            return waiting.result()
        finally:
            waiting.cancel()

    def _request(self, text: str) -> SynthesisRequest:
        """Build the gateway request for text from the current settings."""
        return SynthesisRequest(
            text=text,
            voice=self._settings.voice,
            language=self._settings.language,
            speed=self._settings.speed,
            profile=self._settings.profile,
            sample_rate=self.sample_rate,
        )

    def _audio_frames(
        self, chunk: AudioChunk, stream: SynthesisStream, context_id: str
    ) -> Iterator[TTSAudioRawFrame]:
        """Cut a chunk into s16le frames of 20-40 ms, each tagged with where it came from.

        Frames are made one at a time, so the first can be on its way before the rest exist.
        """
        pcm = to_s16(chunk.samples).astype("<i2", copy=False)
        frame_samples = self.sample_rate * FRAME_MS // 1000
        info = {
            "engine": chunk.engine,
            "voice": chunk.voice,
            "language": chunk.language,
            "segment": chunk.segment,
            "cache": stream.cache,
        }
        # Splitting into whole frame counts spreads the remainder, so no frame is a sliver.
        for part in np.array_split(pcm, max(1, pcm.size // frame_samples)):
            if part.size:
                frame = TTSAudioRawFrame(part.tobytes(), self.sample_rate, 1, context_id=context_id)
                frame.metadata[METADATA_KEY] = info
                yield frame

    def _word_times(self, chunk: AudioChunk, context_id: str) -> list[tuple[str, float]]:
        """Word times of a chunk from the start of its context's audio.

        A chunk whose engine gave no times still gives its words, timed at the chunk's end:
        that is when the base class would have pushed the text, and the text is never lost.
        """
        offset = self._audio_offsets.get(context_id, 0.0)
        self._audio_offsets[context_id] = offset + chunk.duration_s
        if chunk.words is None:
            return [(word, offset + chunk.duration_s) for word in chunk.text.split()]
        return [(w.word, offset + w.start_s) for w in chunk.words]
