"""The examples run for real: the phone agent over a websocket as Twilio drives it, speak_to_wav."""

from __future__ import annotations

import asyncio
import base64
import importlib.util
import json
import socket
import sys
import time
import wave
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from pipecat_tts_gateway import Gateway, SynthesisRequest
from pipecat_tts_gateway.audio import mulaw_decode, mulaw_encode
from pipecat_tts_gateway.intelligibility import transcribe, word_error_rate
from pipecat_tts_gateway.text import split_sentences
from tests.conftest import ROOT
from tests.speech import KOKORO_WER_BOUND, READY

pytest.importorskip("pipecat")
uvicorn = pytest.importorskip("uvicorn")
websockets = pytest.importorskip("websockets")

STREAM_SID = "MZ00000000000000000000000000000000"
CALL_SID = "CA00000000000000000000000000000000"


def load_example(name: str) -> ModuleType:
    """Import examples/<name>.py (examples/ is not a package)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "examples" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


phone_agent = load_example("phone_agent")
speak_to_wav = load_example("speak_to_wav")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
async def agent_url(gateway: Gateway) -> AsyncIterator[str]:
    """The example app served by uvicorn on a free port, sharing the session's gateway."""
    app = phone_agent.create_app(gateway=gateway)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done(), "the server did not start"
        await asyncio.sleep(0.05)
    yield f"ws://127.0.0.1:{port}/ws"
    server.should_exit = True
    await task


class Caller:
    """Plays Twilio's side of a media stream.

    Like Twilio, it sends the caller's audio every 20 ms (silence unless told to say
    something) and records every event that comes back with its time since `start`.
    """

    def __init__(self, ws) -> None:
        self._ws = ws
        self._outgoing = bytearray()
        self._tasks: list[asyncio.Task] = []
        self.started = 0.0
        self.events: list[tuple[float, str, bytes]] = []

    async def dial(self) -> None:
        await self._ws.send(json.dumps({"event": "connected", "protocol": "Call", "version": "1"}))
        start = {
            "streamSid": STREAM_SID,
            "callSid": CALL_SID,
            "accountSid": "AC00000000000000000000000000000000",
            "tracks": ["inbound"],
            "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
            "customParameters": {},
        }
        self.started = time.perf_counter()
        await self._ws.send(json.dumps({"event": "start", "streamSid": STREAM_SID, "start": start}))
        self._tasks = [asyncio.create_task(self._send()), asyncio.create_task(self._receive())]

    def say(self, mulaw: bytes) -> None:
        self._outgoing += mulaw

    @property
    def saying(self) -> bool:
        return bool(self._outgoing)

    def now(self) -> float:
        return time.perf_counter() - self.started

    def media(self, since: float = 0.0) -> bytes:
        return b"".join(p for t, event, p in self.events if event == "media" and t >= since)

    async def hang_up(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._ws.send(json.dumps({"event": "stop", "streamSid": STREAM_SID}))

    async def _send(self) -> None:
        while True:
            chunk = bytes(self._outgoing[:160]).ljust(160, b"\xff")  # 0xFF: μ-law silence
            del self._outgoing[:160]
            payload = base64.b64encode(chunk).decode()
            media = {"event": "media", "streamSid": STREAM_SID, "media": {"payload": payload}}
            await self._ws.send(json.dumps(media))
            await asyncio.sleep(0.02)

    async def _receive(self) -> None:
        async for raw in self._ws:
            message = json.loads(raw)
            assert message["streamSid"] == STREAM_SID
            payload = message["media"]["payload"] if message["event"] == "media" else ""
            self.events.append((self.now(), message["event"], base64.b64decode(payload)))


@pytest.fixture
async def caller(agent_url: str) -> AsyncIterator[Caller]:
    async with websockets.connect(agent_url) as ws:
        caller = Caller(ws)
        yield caller
        await caller.hang_up()


async def wait_for(condition, limit_s: float) -> None:
    deadline = time.perf_counter() + limit_s
    while not condition():
        assert time.perf_counter() < deadline, "timed out"
        await asyncio.sleep(0.05)


def is_speech(samples: np.ndarray) -> bool:
    return float(np.sqrt(np.mean(samples**2))) > 0.02


async def rendered_8k(gateway: Gateway, *sentences: str) -> int:
    """Samples of the sentences as the bot renders them (each on its own, at 8 kHz)."""
    total = 0
    for sentence in sentences:
        audio, _ = await gateway.synthesize_all(SynthesisRequest(sentence, sample_rate=8000))
        total += len(audio)
    return total


async def test_caller_hears_the_whole_greeting_then_quiet(gateway: Gateway, caller: Caller) -> None:
    """The greeting plays as the call starts, all of it, and then the bot waits for the caller.

    No recognizer here: through 8 kHz μ-law a single word is a coin toss (tests/speech.py). The
    greeting's words are checked at 16 kHz by test_pipecat_service.
    """
    expected = await rendered_8k(gateway, *phone_agent.GREETING)
    await caller.dial()
    await wait_for(lambda: caller.media(), 10.0)
    first_s = next(t for t, event, _ in caller.events if event == "media")
    await wait_for(lambda: caller.now() - caller.events[-1][0] > 1.5, 20.0)
    audio = mulaw_decode(caller.media())
    print(f"phone: first media after {first_s * 1000:.0f} ms")
    # One μ-law byte per sample: the greeting's length, to within framing and sentence joins.
    assert 0.9 * expected < len(audio) < 1.15 * expected, (len(audio), expected)
    assert is_speech(audio)


async def test_caller_interrupts_and_gets_an_answer(gateway: Gateway, caller: Caller) -> None:
    """Talking over the greeting clears it; once the caller stops, the whole answer follows.

    What is checked is the call's flow, not the words (8 kHz μ-law, see tests/speech.py): the
    `clear` event, then, after the caller stopped, the answer's length of speech and quiet.
    """
    # Any speech will do for the caller's words; the greeting's is already in the cache.
    question, _ = await gateway.synthesize_all(
        SynthesisRequest(phone_agent.GREETING[1], sample_rate=8000)
    )
    answer = await rendered_8k(gateway, *split_sentences(phone_agent.SCRIPT[0]))
    await caller.dial()
    await wait_for(lambda: caller.media(), 10.0)
    caller.say(mulaw_encode(question))  # over the greeting
    # Twilio is told to drop the greeting audio it still holds.
    await wait_for(lambda: any(event == "clear" for _, event, _ in caller.events), 10.0)
    await wait_for(lambda: not caller.saying, 10.0)
    asked = caller.now()
    # The scripted answer comes once the caller has stopped talking, all of it, then quiet.
    await wait_for(lambda: len(caller.media(since=asked)) > 0.9 * answer, 30.0)
    await wait_for(lambda: caller.now() - caller.events[-1][0] > 1.5, 20.0)
    heard = mulaw_decode(caller.media(since=asked))
    assert 0.9 * answer < len(heard) < 1.15 * answer, (len(heard), answer)
    assert is_speech(heard)


async def test_speak_to_wav_writes_mixed_speech(gateway: Gateway, tmp_path: Path) -> None:
    path = tmp_path / "mixed.wav"
    voices = await speak_to_wav.speak_to_wav(
        f"Добрый день! {READY}", path, sample_rate=16000, gateway=gateway
    )
    assert [(language, engine) for language, engine, _ in voices] == [
        ("ru", "piper"),
        ("en", "kokoro"),
    ]
    with wave.open(str(path)) as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (16000, 1, 2)
        pcm = wav.readframes(wav.getnframes())
    audio = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0
    assert 1.5 < len(audio) / 16000 < 6.0
    # The English run is the end of the file: hear just that stretch.
    english, _ = await gateway.synthesize_all(SynthesisRequest(READY, sample_rate=16000))
    heard = transcribe(audio[-len(english) :], 16000)
    assert word_error_rate(READY, heard) <= KOKORO_WER_BOUND, heard
