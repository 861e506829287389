"""The Wyoming door: `tts-gateway serve --wyoming-port` and the `wyoming` package's own client."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import numpy as np
import pytest
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.client import AsyncTcpClient
from wyoming.error import Error
from wyoming.event import Event
from wyoming.info import Describe, Info
from wyoming.tts import (
    Synthesize,
    SynthesizeChunk,
    SynthesizeStart,
    SynthesizeStop,
    SynthesizeStopped,
    SynthesizeVoice,
)

from pipecat_tts_gateway.intelligibility import transcribe, word_error_rate
from tests.http_server import run_server
from tests.redis_server import free_port
from tests.speech import HOLD, KOKORO_WER_BOUND, SCHEDULE


@pytest.fixture(scope="module")
def port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    wyoming_port = free_port()
    with run_server(
        tmp_path_factory.mktemp("wyoming"), {}, args=("--wyoming-port", str(wyoming_port))
    ) as server:
        assert f"Wyoming TTS on tcp://127.0.0.1:{wyoming_port}" in server.log()
        yield wyoming_port


async def read(client: AsyncTcpClient) -> Event:
    event = await asyncio.wait_for(client.read_event(), timeout=300)
    assert event is not None, "the server closed the connection"
    return event


async def read_audio(client: AsyncTcpClient) -> tuple[list[Event], np.ndarray, int]:
    """Events up to audio-stop (or an error), and the audio of the chunks."""
    events = [await read(client)]
    while not (AudioStop.is_type(events[-1].type) or Error.is_type(events[-1].type)):
        events.append(await read(client))
    chunks = [AudioChunk.from_event(e) for e in events if AudioChunk.is_type(e.type)]
    data = b"".join(chunk.audio for chunk in chunks)
    audio = np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0
    return events, audio, chunks[0].rate if chunks else 0


async def test_describe_lists_every_voice_with_its_language(port: int) -> None:
    async with AsyncTcpClient("127.0.0.1", port) as client:
        await client.write_event(Describe().event())
        info = Info.from_event(await read(client))
    (program,) = info.tts
    assert program.installed and program.supports_synthesize_streaming
    languages = {voice.name: voice.languages for voice in program.voices}
    assert languages["af_heart"] == ["en"] and languages["en_US-joe-medium"] == ["en"]
    assert any(langs == ["ru"] for langs in languages.values())
    assert all(voice.description for voice in program.voices)


async def test_synthesize_english_is_heard_word_for_word(port: int) -> None:
    async with AsyncTcpClient("127.0.0.1", port) as client:
        await client.write_event(Synthesize(text=HOLD).event())
        events, audio, rate = await read_audio(client)
    assert AudioStart.is_type(events[0].type) and AudioStop.is_type(events[-1].type)
    start = AudioStart.from_event(events[0])
    assert (start.rate, start.width, start.channels) == (rate, 2, 1)
    assert word_error_rate(HOLD, transcribe(audio, rate)) <= KOKORO_WER_BOUND


async def test_synthesize_russian_and_a_named_voice(port: int) -> None:
    async with AsyncTcpClient("127.0.0.1", port) as client:
        await client.write_event(Synthesize(text="Добрый вечер! Ваш заказ уже в пути.").event())
        _, russian, rate = await read_audio(client)
        await client.write_event(
            Synthesize(text=HOLD, voice=SynthesizeVoice(name="bm_lewis")).event()
        )
        _, british, _ = await read_audio(client)
    assert russian.size / rate > 1.0 and np.sqrt(np.mean(russian**2)) > 0.01
    assert british.size / rate > 1.0


async def test_streamed_text_is_spoken_before_it_ends(port: int) -> None:
    words = f"{SCHEDULE} {HOLD}".split()
    async with AsyncTcpClient("127.0.0.1", port) as client:
        await client.write_event(SynthesizeStart().event())
        for word in words[:4]:  # "Of course. Let me": the first clause is settled
            await client.write_event(SynthesizeChunk(text=f"{word} ").event())
        first = await read(client)
        assert AudioStart.is_type(first.type)  # audio began with most of the text unsent
        for word in words[4:]:
            await client.write_event(SynthesizeChunk(text=f"{word} ").event())
        # Home Assistant also sends the whole text for servers without streaming: ignored.
        await client.write_event(Synthesize(text=" ".join(words)).event())
        await client.write_event(SynthesizeStop().event())
        events, streamed, _ = await read_audio(client)
        assert SynthesizeStopped.is_type((await read(client)).type)
        await client.write_event(Synthesize(text=" ".join(words)).event())
        _, whole, _ = await read_audio(client)
    assert not any(AudioStart.is_type(e.type) for e in events)  # one audio stream
    # Both sentences once, not twice (chunked differently, so not to the sample).
    assert 0.8 < streamed.size / whole.size < 1.25, (streamed.size, whole.size)


async def test_unknown_voice_is_an_error_and_the_connection_stays(port: int) -> None:
    async with AsyncTcpClient("127.0.0.1", port) as client:
        await client.write_event(
            Synthesize(text="Hello.", voice=SynthesizeVoice(name="nobody")).event()
        )
        error = Error.from_event(await read(client))
        assert error.code == "unknown_voice" and "af_heart" in error.text
        await client.write_event(Synthesize(text="Your table is ready.").event())
        events, audio, _ = await read_audio(client)
    assert AudioStop.is_type(events[-1].type) and audio.size > 0
