"""GatewayTTSService in Pipecat pipelines (pipecat's run_test), with the real models."""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Sequence

import numpy as np
import pytest

pytest.importorskip("pipecat")

from pipecat.frames.frames import (
    ErrorFrame,
    Frame,
    InterruptionFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMTextFrame,
    StartFrame,
    TTSAudioRawFrame,
    TTSSpeakFrame,
    TTSStartedFrame,
    TTSStoppedFrame,
    TTSTextFrame,
    TTSUpdateSettingsFrame,
)
from pipecat.observers.base_observer import BaseObserver, FrameProcessed, FramePushed
from pipecat.pipeline.worker import PipelineParams
from pipecat.tests.utils import SleepFrame, run_test
from pipecat.transcriptions.language import Language

from pipecat_tts_gateway import Gateway, GatewayConfig, GatewayTTSService
from pipecat_tts_gateway.engines.registry import REGISTRY
from pipecat_tts_gateway.intelligibility import transcribe, word_error_rate
from pipecat_tts_gateway.pipecat.service import METADATA_KEY
from pipecat_tts_gateway.text import split_sentences
from tests.speech import GREETING, KOKORO_WER_BOUND, SCHEDULE
from tests.wrapped_engines import WrappedEngine


async def speak(
    service: GatewayTTSService,
    frames: Sequence[Frame],
    rate: int = 16000,
    observers: list[BaseObserver] | None = None,
) -> tuple[Sequence[Frame], Sequence[Frame]]:
    """Run frames through the service alone; returns (downstream, upstream) frames."""
    return await run_test(
        service,
        frames_to_send=frames,
        pipeline_params=PipelineParams(audio_out_sample_rate=rate),
        observers=observers,
        # Setup (the greeting's rendering) holds the StartFrame; a loaded machine is slow.
        start_timeout=60,
    )


def llm_turn(*sentences: str) -> list[Frame]:
    return [
        LLMFullResponseStartFrame(),
        *(LLMTextFrame(s + " ") for s in sentences),
        LLMFullResponseEndFrame(),
    ]


def audio_frames(frames: Sequence[Frame]) -> list[TTSAudioRawFrame]:
    return [f for f in frames if isinstance(f, TTSAudioRawFrame)]


def samples(frames: Sequence[Frame]) -> np.ndarray:
    pcm = b"".join(f.audio for f in audio_frames(frames))
    return np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0


def info(frame: TTSAudioRawFrame) -> dict:
    return frame.metadata[METADATA_KEY]


def uncached(config: GatewayConfig) -> GatewayConfig:
    """The config with the cache off, for tests that need the engines to really run."""
    return dataclasses.replace(config, cache=dataclasses.replace(config.cache, enabled=False))


class Timeline(BaseObserver):
    """When the service received a StartFrame / InterruptionFrame and pushed its audio."""

    def __init__(self, service: GatewayTTSService) -> None:
        super().__init__()
        self.service = service
        self.received: dict[type, float] = {}
        self.audio_pushed: list[float] = []

    async def on_process_frame(self, data: FrameProcessed) -> None:
        if data.processor is self.service:
            self.received.setdefault(type(data.frame), time.perf_counter())

    async def on_push_frame(self, data: FramePushed) -> None:
        if data.source is self.service and isinstance(data.frame, TTSAudioRawFrame):
            self.audio_pushed.append(time.perf_counter())


async def test_no_argument_service_works_under_run_test_defaults(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The first thing a Pipecat developer writes: pipecat's 1 s start timeout holds because
    the models load at construction; a second service shares them and closing frees them."""
    monkeypatch.setenv("TTS_GATEWAY_CACHE__FILE_MAX_BYTES", "0")  # keep cache/tts untouched
    service = GatewayTTSService()
    assert service.gateway.config == GatewayConfig.load()
    assert {"kokoro", "piper"} <= set(service.gateway.engines)
    settings = service._settings
    assert (settings.voice, settings.language, settings.speed, settings.profile) == (None,) * 4
    second = GatewayTTSService()
    assert second.gateway is not service.gateway
    for name, engine in service.gateway.engines.items():
        assert second.gateway.engines[name] is engine
    key = service.gateway._lease.keys[0]
    held = REGISTRY.users(key)

    down, _ = await run_test(service, frames_to_send=[TTSSpeakFrame(SCHEDULE)])

    heard = transcribe(samples(down), 24000)
    assert word_error_rate(SCHEDULE, heard) <= KOKORO_WER_BOUND, heard
    assert REGISTRY.users(key) == held - 1  # the pipeline's end closed its gateway
    await second.gateway.close()
    assert REGISTRY.users(key) == held - 2


def test_language_setting_takes_pipecat_languages(gateway: Gateway) -> None:
    service = GatewayTTSService(
        gateway=gateway, settings=GatewayTTSService.Settings(language=Language.RU_RU)
    )
    assert service._settings.language == "ru"
    assert service.language_to_service_language(Language.EN_GB) == "en"


async def test_frame_order_and_streamed_frames(gateway: Gateway) -> None:
    down, _ = await speak(
        GatewayTTSService(gateway=gateway), [TTSSpeakFrame("Please hold the line.")]
    )
    tts = [f for f in down if isinstance(f, (TTSStartedFrame, TTSAudioRawFrame, TTSStoppedFrame))]
    assert isinstance(tts[0], TTSStartedFrame)
    assert isinstance(tts[-1], TTSStoppedFrame)
    audio = tts[1:-1]
    assert len(audio) > 10 and all(isinstance(f, TTSAudioRawFrame) for f in audio)
    assert len({f.context_id for f in tts}) == 1
    for frame in audio:
        assert (frame.sample_rate, frame.num_channels) == (16000, 1)
        assert 0.020 <= len(frame.audio) / 2 / 16000 < 0.040


@pytest.mark.parametrize("rate", [8000, 16000, 24000])
async def test_output_rate_is_the_pipelines(gateway: Gateway, rate: int) -> None:
    down, _ = await speak(
        GatewayTTSService(gateway=gateway), [TTSSpeakFrame("One moment please.")], rate
    )
    frames = audio_frames(down)
    assert {f.sample_rate for f in frames} == {rate}
    assert all(0.020 <= len(f.audio) / 2 / rate < 0.040 for f in frames)
    assert 0.6 < len(samples(down)) / rate < 3.0


async def test_english_is_intelligible(gateway: Gateway) -> None:
    down, _ = await speak(GatewayTTSService(gateway=gateway), [TTSSpeakFrame(SCHEDULE)])
    heard = transcribe(samples(down), 16000)
    assert word_error_rate(SCHEDULE, heard) <= KOKORO_WER_BOUND, heard


@pytest.fixture(scope="module")
async def bilingual_turn(gateway: Gateway) -> Sequence[Frame]:
    """An LLM turn of an English and a Russian sentence, spoken at 8 kHz."""
    down, _ = await speak(
        GatewayTTSService(gateway=gateway),
        llm_turn("Your appointment is confirmed for tomorrow.", "Спасибо, до свидания!"),
        rate=8000,
    )
    return down


async def test_llm_turn_in_two_languages_uses_both_engines(bilingual_turn) -> None:
    frames = audio_frames(bilingual_turn)
    spoken = [(info(f)["language"], info(f)["engine"]) for f in frames]
    # In order, and each language by its own engine: English by Kokoro, Russian by Piper.
    assert spoken == sorted(spoken, key=lambda s: s[0] != "en")
    assert set(spoken) == {("en", "kokoro"), ("ru", "piper")}
    # One turn, one context: started and stopped once around all of it.
    assert sum(isinstance(f, TTSStartedFrame) for f in bilingual_turn) == 1
    assert sum(isinstance(f, TTSStoppedFrame) for f in bilingual_turn) == 1
    assert len({f.context_id for f in frames}) == 1


async def test_word_times_run_across_the_sentences_of_a_turn(bilingual_turn) -> None:
    words = [f for f in bilingual_turn if isinstance(f, TTSTextFrame)]
    said = [re.sub(r"\W", "", f.text) for f in words]
    assert said == [
        "Your", "appointment", "is", "confirmed", "for", "tomorrow", "Спасибо", "до", "свидания"
    ]  # fmt: skip
    pts = [f.pts for f in words]
    assert all(p is not None for p in pts)
    assert pts == sorted(pts) and len(set(pts)) == len(pts)
    # The Russian words come after the English sentence's audio, not from zero again.
    english = sum(len(f.audio) for f in audio_frames(bilingual_turn) if info(f)["language"] == "en")
    english_s = english / 2 / 8000
    assert (pts[6] - pts[0]) / 1e9 > english_s - 1.0


class TextOrder(BaseObserver):
    """In order: each LLM token the service received and each text it handed to run_tts."""

    def __init__(self, service: GatewayTTSService) -> None:
        super().__init__()
        self.service = service
        self.events: list[tuple[str, str]] = []

    async def on_process_frame(self, data: FrameProcessed) -> None:
        if data.processor is self.service and isinstance(data.frame, LLMTextFrame):
            self.events.append(("token", data.frame.text))


class NotingService(GatewayTTSService):
    """The real service, noting each text Pipecat hands to `run_tts` (for `TextOrder`)."""

    order: TextOrder

    async def run_tts(self, text: str, context_id: str):
        self.order.events.append(("tts", text))
        async for frame in super().run_tts(text, context_id):
            yield frame


async def test_first_clause_is_handed_over_while_the_llm_streams(gateway: Gateway) -> None:
    """An LLM writing "Of course, let me…" token by token: "Of course," goes to synthesis
    when the next word starts, not when the sentence's last token arrives; nothing is lost,
    repeated or reordered, and the word times run on across the split."""
    reply = f"Of course, let me look that up in our records for you right now. {SCHEDULE}"
    tokens = re.findall(r"\s*\S+", reply)
    frames: list[Frame] = [LLMFullResponseStartFrame()]
    for token in tokens:
        frames += [LLMTextFrame(token), SleepFrame(0.05)]
    frames.append(LLMFullResponseEndFrame())
    service = NotingService(gateway=gateway)
    service.order = TextOrder(service)

    down, _ = await speak(service, frames, observers=[service.order])

    handed = [text for kind, text in service.order.events if kind == "tts"]
    assert handed == [
        "Of course,",
        "let me look that up in our records for you right now.",
        *split_sentences(SCHEDULE),  # later text a sentence at a time
    ]
    assert service.order.events.index(("tts", "Of course,")) < service.order.events.index(
        ("token", tokens[3])
    )
    words = [f for f in down if isinstance(f, TTSTextFrame)]
    assert [re.sub(r"\W", "", f.text) for f in words] == [re.sub(r"\W", "", w) for w in tokens]
    pts = [f.pts for f in words]
    assert pts == sorted(pts) and len(set(pts)) == len(pts)
    heard = transcribe(samples(down), 16000)
    assert word_error_rate(reply, heard) <= KOKORO_WER_BOUND, heard


async def test_text_is_kept_when_an_engine_gives_no_word_times(
    gateway: Gateway, config: GatewayConfig
) -> None:
    engines = {"kokoro": WrappedEngine(gateway.engines["kokoro"], drop_words=True)}
    async with Gateway(uncached(config), engines=engines) as no_times:
        down, _ = await speak(
            GatewayTTSService(gateway=no_times), [TTSSpeakFrame("Thank you, goodbye.")]
        )
    assert engines["kokoro"].rendered
    words = [re.sub(r"\W", "", f.text) for f in down if isinstance(f, TTSTextFrame)]
    assert words == ["Thank", "you", "goodbye"]


async def test_slow_synthesis_is_not_a_silent_context(
    gateway: Gateway, config: GatewayConfig
) -> None:
    engines = {"kokoro": WrappedEngine(gateway.engines["kokoro"], stall_s=1.0)}
    async with Gateway(uncached(config), engines=engines) as slow:
        # Pipecat would end a context after 0.5 s without audio and report it silent.
        service = GatewayTTSService(gateway=slow, stop_frame_timeout_s=0.5)
        down, up = await speak(service, llm_turn("Of course.", "Let me check."))
    assert not [f for f in up if isinstance(f, ErrorFrame)]
    tts = [type(f) for f in down if isinstance(f, (TTSStartedFrame, TTSStoppedFrame))]
    assert tts == [TTSStartedFrame, TTSStoppedFrame]
    stopped = next(i for i, f in enumerate(down) if isinstance(f, TTSStoppedFrame))
    assert len(audio_frames(down[:stopped])) == len(audio_frames(down))
    words = [re.sub(r"\W", "", f.text) for f in down if isinstance(f, TTSTextFrame)]
    assert words == ["Of", "course", "Let", "me", "check"]


async def test_greeting_plays_on_start_from_the_cache(gateway: Gateway) -> None:
    greeting = list(GREETING)
    service = GatewayTTSService(gateway=gateway, greeting=greeting)
    timeline = Timeline(service)
    # No text is sent at all: the greeting comes from the StartFrame alone.
    down, _ = await speak(service, [], rate=16000, observers=[timeline])
    assert sum(isinstance(f, TTSStartedFrame) for f in down) == 2
    frames = audio_frames(down)
    assert frames and all(info(f)["cache"] == "hit" for f in frames)
    heard = transcribe(samples(down), 16000)
    assert word_error_rate(" ".join(greeting), heard) <= KOKORO_WER_BOUND, heard
    latency_ms = (timeline.audio_pushed[0] - timeline.received[StartFrame]) * 1000
    print(f"greeting: first audio frame {latency_ms:.1f} ms after the StartFrame")

    # Said again later in the conversation, it is served from the cache too.
    down, _ = await speak(GatewayTTSService(gateway=gateway), [TTSSpeakFrame(greeting[1])])
    assert {info(f)["cache"] for f in audio_frames(down)} == {"hit"}


async def test_settings_update_changes_the_next_sentence(gateway: Gateway) -> None:
    down, _ = await speak(
        GatewayTTSService(gateway=gateway),
        [
            TTSSpeakFrame("Good morning."),
            TTSUpdateSettingsFrame(delta=GatewayTTSService.Settings(voice="bm_george", speed=1.2)),
            TTSSpeakFrame("Good morning."),
        ],
    )
    contexts: dict[str, set[str]] = {}
    for frame in audio_frames(down):
        contexts.setdefault(frame.context_id, set()).add(info(frame)["voice"])
    assert list(contexts.values()) == [{"af_heart"}, {"bm_george"}]


async def test_interruption_stops_audio_and_synthesis(
    gateway: Gateway, config: GatewayConfig
) -> None:
    sentences = [
        "Thank you for calling the clinic, your call matters to us.",
        "Our reception desk is open on weekdays from eight until eight.",
        "If this is an emergency, hang up and dial the local number at once.",
        "You can also book, move or cancel an appointment on our website.",
    ] * 3
    kokoro = WrappedEngine(gateway.engines["kokoro"])
    async with Gateway(uncached(config), engines={"kokoro": kokoro}) as counted:
        opened = []
        synthesize = counted.synthesize

        def spy(request):
            opened.append(synthesize(request))
            return opened[-1]

        counted.synthesize = spy  # type: ignore[method-assign]
        service = GatewayTTSService(gateway=counted)
        timeline = Timeline(service)
        down, _ = await speak(
            service,
            # A long answer, interrupted once it is playing; then time it would have kept going.
            [
                TTSSpeakFrame(" ".join(sentences)),
                SleepFrame(4.0),
                InterruptionFrame(),
                SleepFrame(2.0),
            ],
            observers=[timeline],
        )
    cut = next(i for i, f in enumerate(down) if isinstance(f, InterruptionFrame))
    assert audio_frames(down[:cut]), "no audio before the interruption: the test proves nothing"
    assert not audio_frames(down[cut:])
    # The engine stopped: nothing was rendered after the interruption (an inference in flight
    # is aborted), though the answer was far from done.
    assert kokoro.rendered and max(kokoro.rendered) < timeline.received[InterruptionFrame] + 0.3
    assert len(kokoro.rendered) < len(sentences)
    assert opened and all(s._producer is not None and s._producer.done() for s in opened)


async def test_invalid_settings_give_an_error_frame_upstream(gateway: Gateway) -> None:
    service = GatewayTTSService(
        gateway=gateway, settings=GatewayTTSService.Settings(voice="af_nobody")
    )
    _, up = await speak(service, [TTSSpeakFrame("Hello there.")])
    errors = [f.error for f in up if isinstance(f, ErrorFrame)]
    assert any("af_nobody" in e and "Hello there." in e for e in errors), errors


async def test_engine_failure_gives_an_error_frame_upstream(
    gateway: Gateway, config: GatewayConfig
) -> None:
    engines = {"kokoro": WrappedEngine(gateway.engines["kokoro"], fail=True)}
    async with Gateway(uncached(config), engines=engines) as broken:
        _, up = await speak(GatewayTTSService(gateway=broken), [TTSSpeakFrame("Hello there.")])
    errors = [f.error for f in up if isinstance(f, ErrorFrame)]
    assert any("no engine could speak" in e and "Hello there." in e for e in errors), errors
