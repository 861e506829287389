"""The core streaming path with the real Kokoro and Piper models."""

from __future__ import annotations

import asyncio
import re

import numpy as np
import pytest

from pipecat_tts_gateway import Gateway, GatewayConfig, SynthesisRequest
from pipecat_tts_gateway.engines import CancelToken, KokoroEngine
from pipecat_tts_gateway.errors import (
    EmptyTextError,
    InvalidAudioFormatError,
    InvalidSpeedError,
    InvalidTextError,
    TextTooLongError,
    UnknownProfileError,
    UnknownVoiceError,
    UnsupportedLanguageError,
)
from pipecat_tts_gateway.intelligibility import transcribe, word_error_rate
from tests.speech import (
    BRITISH_VOICE,
    HELP,
    HOLD,
    KOKORO_WER_BOUND,
    PIPER_WER_BOUND,
    SCHEDULE,
    THANKS,
    TRAIN,
)
from tests.wrapped_engines import WrappedEngine

# Margins measured over 20 renders each: tests/speech.py. Noise, silence or the wrong language
# score near 1.0.
ENGLISH = [HOLD, SCHEDULE, HELP]


async def speak(gateway: Gateway, text: str, **kwargs: object):
    return await gateway.synthesize_all(SynthesisRequest(text=text, **kwargs))  # type: ignore[arg-type]


@pytest.mark.parametrize("sentence", ENGLISH)
async def test_kokoro_english_is_intelligible(gateway: Gateway, sentence: str) -> None:
    audio, stream = await speak(gateway, sentence, sample_rate=16000)
    assert [s.engine for s in stream.segments] == ["kokoro"]
    heard = transcribe(audio, 16000)
    assert word_error_rate(sentence, heard) <= KOKORO_WER_BOUND, heard


async def test_british_voice_and_blend_are_intelligible(gateway: Gateway) -> None:
    for voice in (BRITISH_VOICE, "af_heart:0.6+am_michael:0.4"):
        audio, stream = await speak(gateway, HOLD, voice=voice, sample_rate=16000)
        assert stream.segments[0].voice == voice
        assert word_error_rate(HOLD, transcribe(audio, 16000)) <= KOKORO_WER_BOUND


# Piper samples noise, so its output varies from run to run: only sentences that came back
# clean in every measured run are used with it.
PIPER_ENGLISH = [TRAIN]


@pytest.mark.parametrize("sentence", PIPER_ENGLISH)
async def test_piper_english_is_intelligible(gateway: Gateway, sentence: str) -> None:
    audio, stream = await speak(gateway, sentence, voice="en_US-joe-medium", sample_rate=16000)
    assert [s.engine for s in stream.segments] == ["piper"]
    heard = transcribe(audio, 16000)
    assert word_error_rate(sentence, heard) <= PIPER_WER_BOUND, heard


async def test_russian_goes_to_piper(gateway: Gateway) -> None:
    text = "Добрый день! Чем я могу вам помочь?"
    audio, stream = await speak(gateway, text)
    assert [(s.engine, s.language) for s in stream.segments] == [("piper", "ru")]
    # About 60-90 ms of speech per character for Russian read at normal speed.
    seconds = len(audio) / stream.sample_rate
    assert 0.03 * len(text) < seconds < 0.15 * len(text)
    assert np.sqrt(np.mean(audio**2)) > 0.02  # not silence


async def test_mixed_text_uses_both_engines_in_order(gateway: Gateway) -> None:
    text = f"Ваш заказ готов, {THANKS}"
    stream = gateway.synthesize(SynthesisRequest(text=text))
    chunks = [c async for c in stream]
    order = [(c.language, c.engine) for c in chunks]
    assert order[0] == ("ru", "piper")
    assert order[-1] == ("en", "kokoro")
    assert [s.language for s in stream.segments] == ["ru", "en"]
    english = np.concatenate([c.samples for c in chunks if c.language == "en"])
    heard = transcribe(english, stream.sample_rate)
    assert word_error_rate(THANKS, heard) <= KOKORO_WER_BOUND, heard


async def test_text_without_letters_takes_default_or_requested_language(gateway: Gateway) -> None:
    _, stream = await speak(gateway, "12:30")
    assert stream.segments[0].language == gateway.config.default_language == "en"
    _, stream = await speak(gateway, "12:30", language="ru")
    assert (stream.segments[0].language, stream.segments[0].engine) == ("ru", "piper")


async def test_profile_sets_voice_and_speed(gateway: Gateway) -> None:
    _, stream = await speak(gateway, "Good afternoon.", profile="receptionist")
    assert stream.segments[0].voice == "af_bella"
    slow, _ = await speak(gateway, ENGLISH[0], speed=0.7)
    fast, _ = await speak(gateway, ENGLISH[0], speed=1.5)
    assert len(slow) > 1.6 * len(fast)


async def test_failed_engine_falls_back_and_says_so(
    gateway: Gateway, config: GatewayConfig
) -> None:
    engines = dict(gateway.engines)
    engines["kokoro"] = WrappedEngine(gateway.engines["kokoro"], fail=True)
    async with Gateway(config, engines=engines) as broken:
        audio, stream = await speak(broken, PIPER_ENGLISH[0], sample_rate=16000)
        seg = stream.segments[0]
        assert (seg.engine, seg.voice, seg.fallback) == ("piper", "en_US-joe-medium", True)
        assert word_error_rate(PIPER_ENGLISH[0], transcribe(audio, 16000)) <= PIPER_WER_BOUND
        assert not broken.health.is_healthy("kokoro")
        # Marked down: the next request goes straight to the fallback.
        _, again = await speak(broken, "Thank you.")
        assert again.segments[0].engine == "piper"


async def test_first_chunk_is_short_and_long_text_streams_whole(gateway: Gateway) -> None:
    sentences = [
        "Thank you for calling the clinic, your call matters to us.",
        "Our reception desk is open on weekdays from eight until eight.",
        "If this is an emergency, hang up and dial the local number at once.",
        "You can also book, move or cancel an appointment on our website.",
    ]
    text = " ".join(sentences[i % 4] for i in range(80))[:5000].rsplit(" ", 1)[0]
    assert len(text) > 4900
    stream = gateway.synthesize(SynthesisRequest(text=text, voice="en_US-joe-medium"))
    texts = [c.text async for c in stream]
    assert len(texts[0].split()) <= gateway.config.streaming.first_chunk_words
    assert " ".join(texts).split() == text.split()


async def test_paced_kokoro_chunks_fit_the_model_and_keep_every_word(gateway: Gateway) -> None:
    """Chunks after the first are sized by the listener's clock; each still fits Kokoro."""
    text = (
        "Thanks for waiting, your reference is 482. I can see two appointments on your file, "
        "one next Tuesday morning with doctor Adams and one the following Friday afternoon "
        "with the nurse. Would you like to keep both of them? If not, I can cancel one now."
    )
    stream = gateway.synthesize(SynthesisRequest(text=text))
    chunks = [c async for c in stream]
    assert {c.engine for c in chunks} == {"kokoro"}
    assert " ".join(c.text for c in chunks).split() == text.split()
    kokoro = gateway.engines["kokoro"]
    assert isinstance(kokoro, KokoroEngine) and kokoro._g2p is not None
    for chunk in chunks:
        assert len(kokoro.tokenize(kokoro._g2p(chunk.text, british=False)[0])) <= 510


async def test_a_listener_left_waiting_is_counted(gateway: Gateway, config: GatewayConfig) -> None:
    # Every call stalls 2 s: the second chunk comes long after the ~0.6 s of "Sure," played.
    engines = {"kokoro": WrappedEngine(gateway.engines["kokoro"], stall_s=2.0)}
    async with Gateway(config, engines=engines) as slow:
        _, stream = await speak(slow, "Sure, your table for two is booked for tonight.")
        summary = stream.summary()
        assert summary["underruns"] >= 1 and summary["stall_ms"] > 1000
        assert slow.pacing.underruns == summary["underruns"]


async def test_no_kokoro_piece_exceeds_510_tokens(gateway: Gateway) -> None:
    kokoro = gateway.engines["kokoro"]
    assert isinstance(kokoro, KokoroEngine)
    # One "sentence" of about 700 phoneme tokens with no punctuation at all.
    text = " ".join(["wonderful appointments"] * 40)
    pieces = list(kokoro.pieces(text, "af_heart", 1.0, CancelToken()))
    assert len(pieces) >= 2
    assert " ".join(p.text for p in pieces).split() == text.split()
    g2p = kokoro._g2p
    assert g2p is not None
    for piece in pieces:
        assert len(kokoro.tokenize(g2p(piece.text, british=False)[0])) <= 510


async def test_closing_a_stream_stops_synthesis(gateway: Gateway) -> None:
    text = " ".join(ENGLISH * 6)
    stream = gateway.synthesize(SynthesisRequest(text=text))
    first = await anext(stream)
    assert first.samples.size
    await stream.aclose()
    assert stream._producer is not None and stream._producer.done()
    with pytest.raises(StopAsyncIteration):
        await anext(stream)
    # The gateway still works afterwards.
    audio, _ = await speak(gateway, "Still here.")
    assert audio.size


async def test_word_times_are_monotonic(gateway: Gateway) -> None:
    for voice in ("af_heart", "en_US-joe-medium"):
        stream = gateway.synthesize(SynthesisRequest(text=ENGLISH[2], voice=voice))
        chunks = [c async for c in stream]
        for chunk in chunks:
            assert chunk.words, f"{voice}: no word times"
            starts = [w.start_s for w in chunk.words]
            assert starts == sorted(starts)
            assert chunk.words[-1].end_s <= chunk.duration_s + 0.05


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"text": ""}, EmptyTextError),
        ({"text": "   \n\t "}, EmptyTextError),
        ({"text": "?!..."}, EmptyTextError),
        ({"text": "Hello", "voice": "af_nobody"}, UnknownVoiceError),
        ({"text": "Hello", "voice": "../../etc/passwd"}, UnknownVoiceError),
        ({"text": "Hello", "speed": 3.0}, InvalidSpeedError),
        ({"text": "Hello", "speed": 0.1}, InvalidSpeedError),
        ({"text": "Hello", "language": "xx"}, UnsupportedLanguageError),
        ({"text": "Hello", "profile": "nobody"}, UnknownProfileError),
        ({"text": "Hello\x00world"}, InvalidTextError),
        ({"text": "Hello", "sample_rate": 12345}, InvalidAudioFormatError),
        ({"text": "a" * 1_000_000}, TextTooLongError),
    ],
)
async def test_bad_input_gets_a_typed_error(gateway: Gateway, kwargs: dict, error: type) -> None:
    with pytest.raises(error) as info:
        gateway.synthesize(SynthesisRequest(**kwargs))
    assert str(info.value)


@pytest.mark.parametrize("rate", [8000, 16000, 22050, 24000, 44100, 48000])
async def test_every_output_rate(gateway: Gateway, rate: int) -> None:
    audio, stream = await speak(gateway, "One moment please.", sample_rate=rate)
    assert stream.sample_rate == rate
    assert 0.6 < len(audio) / rate < 3.0


async def test_piper_loudness_is_steady_across_chunks(gateway: Gateway) -> None:
    text = "Добрый день. Да. Ваша запись подтверждена на завтра, на десять часов утра."
    stream = gateway.synthesize(SynthesisRequest(text=text))
    chunks = [c async for c in stream]
    assert len(chunks) >= 2
    peaks = [float(np.abs(c.samples).max()) for c in chunks]
    # Per-sentence peak normalization would put every peak at 1.0.
    assert not all(p > 0.99 for p in peaks)
    rms = [float(np.sqrt(np.mean(c.samples**2))) for c in chunks]
    assert max(rms) / min(rms) < 3.0


async def test_calls_of_simultaneous_streams_are_timed_as_sharing_the_cores(
    gateway: Gateway,
) -> None:
    """Two English streams at once: their calls overlap, so the compute model learns each at
    its shared cost and predicts the next call as shared (no flat, too-cheap fit)."""
    kokoro = gateway.engines["kokoro"]
    # Alone first, a few calls: the running mean moves toward 1 whatever ran before.
    await speak(gateway, "Hello there, how are you? I hope you are well. Let us begin.")
    alone = kokoro.compute.cores.expected
    texts = [
        "Your order has shipped today. It should arrive on Friday. Anything else?",
        "Your table for two is booked. We open at six. See you tonight!",
    ]
    await asyncio.gather(*(speak(gateway, t) for t in texts))
    assert kokoro.compute.cores.expected > alone + 0.25


async def test_concurrent_requests_all_complete(gateway: Gateway) -> None:
    texts = ["Hello there.", "Добрый вечер!", "Your order has shipped.", "Спасибо, до свидания."]
    results = await asyncio.gather(*(speak(gateway, t) for t in texts))
    for (audio, stream), text in zip(results, texts, strict=True):
        assert audio.size > 0.3 * stream.sample_rate, text
        assert re.search("[a-zа-я]", stream.segments[0].text.lower())
