"""The websocket door, /v1/stream: a real server process and the `websockets` client."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosedOK, InvalidStatus

from pipecat_tts_gateway.intelligibility import transcribe, word_error_rate
from tests.http_server import ServerProcess, run_server, wait_until
from tests.speech import HOLD, KOKORO_WER_BOUND

API_KEY = "socket-secret"
AUTH = {"Authorization": f"Bearer {API_KEY}"}
RATE = 16000
REPLY = "Of course. Let me look into that for you right away. " + HOLD


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    overrides = {"server": {"api_key": API_KEY, "max_concurrent": 2}, "cache": {"enabled": False}}
    with run_server(tmp_path_factory.mktemp("socket"), overrides) as process:
        yield process


def url(server: ServerProcess) -> str:
    return server.url.replace("http://", "ws://") + "/v1/stream"


def metric(server: ServerProcess, name: str, **labels: str) -> float:
    return server.metric(name, headers=AUTH, **labels)


class Received:
    """Everything the server sent, in order, with arrival times."""

    def __init__(self) -> None:
        self.messages: list[tuple[float, Any]] = []

    @property
    def events(self) -> list[dict[str, Any]]:
        return [m for _, m in self.messages if isinstance(m, dict)]

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [event for event in self.events if event["type"] == kind]

    @property
    def audio(self) -> np.ndarray:
        data = b"".join(m for _, m in self.messages if isinstance(m, bytes))
        return np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0

    def pairs(self) -> list[tuple[dict[str, Any], np.ndarray]]:
        """(chunk event, its audio) in order."""
        messages = [m for _, m in self.messages]
        return [
            (event, np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0)
            for event, data in itertools.pairwise(messages)
            if isinstance(event, dict) and event["type"] == "chunk" and isinstance(data, bytes)
        ]

    def first_audio_at(self) -> float:
        return next(t for t, m in self.messages if isinstance(m, bytes))


async def receive_until(socket: ClientConnection, received: Received, kind: str) -> dict[str, Any]:
    """Read until an event of `kind` arrives (binary messages and other events kept)."""
    while True:
        raw = await asyncio.wait_for(socket.recv(), timeout=300)
        message = raw if isinstance(raw, bytes) else json.loads(raw)
        received.messages.append((time.perf_counter(), message))
        if isinstance(message, dict) and message["type"] == kind:
            return message


async def send(socket: ClientConnection, message: dict[str, Any]) -> None:
    await socket.send(json.dumps(message))


async def test_audio_starts_before_the_last_delta_is_sent(server: ServerProcess) -> None:
    received = Received()
    async with connect(url(server), additional_headers=AUTH) as socket:
        await send(socket, {"config": {"voice": "af_heart", "sample_rate": RATE}})
        reader = asyncio.create_task(receive_until(socket, received, "done"))
        words = REPLY.split(" ")
        for i, word in enumerate(words):  # word by word, like an LLM at ~7 words a second
            await send(socket, {"text": word if i == 0 else f" {word}"})
            await asyncio.sleep(0.15)
        last_delta_at = time.perf_counter()
        await send(socket, {"close": True})
        done = await reader
        with pytest.raises(ConnectionClosedOK):
            await socket.recv()  # the server closes normally after done
    assert received.first_audio_at() < last_delta_at
    # Every chunk event is followed by exactly one binary message with its audio.
    kinds = ["bytes" if isinstance(m, bytes) else m["type"] for _, m in received.messages]
    assert kinds == ["chunk", "bytes"] * (len(kinds) // 2) + ["done"], kinds
    chunks = received.of("chunk")
    assert len(chunks) > 1
    assert " ".join(c["text"] for c in chunks).split() == REPLY.split()
    for chunk in chunks:
        assert (chunk["engine"], chunk["voice"], chunk["language"]) == ("kokoro", "af_heart", "en")
        assert chunk["words"] and all(len(w) == 3 and w[1] <= w[2] for w in chunk["words"])
    assert done["segments"] == [
        {"language": "en", "text": " ".join(REPLY.split()), "engine": "kokoro",
         "voice": "af_heart", "fallback": False}
    ]  # fmt: skip
    assert done["first_audio_ms"] > 0 and done["cancelled"] is False
    audio = received.audio
    assert abs(done["duration_s"] - audio.size / RATE) < 0.01
    # The last sentence, cut out by its chunks' texts, is heard word for word: real speech.
    tail: list[np.ndarray] = []
    texts: list[str] = []
    for event, samples in reversed(received.pairs()):
        texts.insert(0, event["text"])
        tail.insert(0, samples)
        if " ".join(texts) == HOLD:
            break
    assert " ".join(texts) == HOLD
    assert word_error_rate(HOLD, transcribe(np.concatenate(tail), RATE)) <= KOKORO_WER_BOUND


async def test_flush_speaks_what_is_buffered(server: ServerProcess) -> None:
    received = Received()
    async with connect(url(server), additional_headers=AUTH) as socket:
        await send(socket, {"config": {"format": "f32le", "sample_rate": 24000}})
        await send(socket, {"text": "Your table"})
        await send(socket, {"text": " is ready", "flush": True})
        event = await receive_until(socket, received, "chunk")
        assert event["text"] == "Your table is ready"
        first = await asyncio.wait_for(socket.recv(), timeout=60)
        assert isinstance(first, bytes) and len(first) % 4 == 0
        samples = np.frombuffer(first, dtype="<f4")
        assert samples.size > 24000 // 2 and np.sqrt(np.mean(samples**2)) > 0.01
        await send(socket, {"close": True})
        done = await receive_until(socket, received, "done")
    assert done["segments"][0]["text"] == "Your table is ready"


async def test_bad_messages_get_errors_and_the_socket_stays_usable(server: ServerProcess) -> None:
    received = Received()
    async with connect(url(server), additional_headers=AUTH) as socket:
        mistakes: list[tuple[str | bytes, str]] = [
            (b"\x00\x01", "invalid_request"),
            ("{not json", "malformed_json"),
            ("[1, 2]", "invalid_request"),
            (json.dumps({"config": {"voice": "nobody"}}), "unknown_voice"),
            (json.dumps({"config": {"format": "mp3"}}), "invalid_audio_format"),
            (json.dumps({"config": {"speed": 9}}), "invalid_speed"),
            (json.dumps({"config": {"sample_rate": 1234}}), "invalid_audio_format"),
            (json.dumps({"text": 42}), "invalid_request"),
        ]
        for message, code in mistakes:
            await socket.send(message)
            error = await receive_until(socket, received, "error")
            assert error["error"]["code"] == code, (message, error)
            assert error["error"]["message"]
        await send(socket, {"text": "Thank you."})
        await send(socket, {"config": {"voice": "am_michael"}})  # too late: text came first
        late = await receive_until(socket, received, "error")
        assert late["error"]["code"] == "invalid_request"
        await send(socket, {"close": True})
        done = await receive_until(socket, received, "done")
    assert done["segments"][0]["voice"] == "af_heart"  # the default, not the rejected voice
    assert received.audio.size > 0
    assert metric(server, "tts_gateway_errors_total", endpoint="/v1/stream") >= len(mistakes) + 1


async def test_cancel_stops_audio_and_the_socket_takes_the_next_reply(
    server: ServerProcess,
) -> None:
    cancelled = metric(server, "tts_gateway_requests_total", outcome="cancelled")
    received = Received()
    long_text = " ".join(f"This is sentence number {i} of a long reply." for i in range(30))
    async with connect(url(server), additional_headers=AUTH) as socket:
        await send(socket, {"text": long_text, "flush": True})
        await receive_until(socket, received, "chunk")
        await send(socket, {"cancel": True})
        done = await receive_until(socket, received, "done")
        assert done["cancelled"] is True
        # Nothing after done: no audio of the cancelled reply is still on its way.
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(socket.recv(), timeout=1.5)
        after = Received()
        await send(socket, {"text": "Your table is ready."})
        await send(socket, {"close": True})
        final = await receive_until(socket, after, "done")
    assert final["cancelled"] is False
    assert final["segments"][0]["text"] == "Your table is ready."
    assert after.audio.size > 0
    assert received.audio.size / RATE < 30.0  # a fraction of the ~90 s reply
    wait_until(
        lambda: metric(server, "tts_gateway_requests_total", outcome="cancelled") > cancelled,
        what="the cancelled chunk to be recorded",
    )


async def test_disconnect_stops_the_synthesis_behind_it(server: ServerProcess) -> None:
    cancelled = metric(server, "tts_gateway_requests_total", outcome="cancelled")
    received = Received()
    long_text = " ".join(f"Here is item {i} of a list nobody will hear." for i in range(30))
    async with connect(url(server), additional_headers=AUTH) as socket:
        await send(socket, {"text": long_text, "flush": True})
        await receive_until(socket, received, "chunk")
    wait_until(
        lambda: metric(server, "tts_gateway_requests_total", outcome="cancelled") > cancelled,
        what="the abandoned stream to be recorded as cancelled",
    )
    wait_until(lambda: metric(server, "tts_gateway_active_syntheses") == 0, what="a free slot")
    assert "Traceback" not in server.log()


async def test_the_api_key_guards_the_socket(server: ServerProcess) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        with pytest.raises(InvalidStatus) as refused:
            async with connect(url(server), additional_headers=headers):
                pass
        assert refused.value.response.status_code == 401
        assert json.loads(refused.value.response.body)["error"]["code"] == "unauthorized"
