"""The HTTP door: a real `tts-gateway serve` subprocess, real models, httpx and openai clients."""

from __future__ import annotations

import asyncio
import io
import signal
import statistics
import subprocess
import time
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import httpx
import numpy as np
import openai
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.generation.modes import GenerationMode

from pipecat_tts_gateway.audio import mulaw_decode
from pipecat_tts_gateway.intelligibility import transcribe, word_error_rate
from pipecat_tts_gateway.text import split_sentences
from tests.http_server import ServerProcess, run_server, wait_until
from tests.redis_server import RedisServer
from tests.speech import HOLD, KOKORO_WER_BOUND

MAX_BODY_BYTES = 200_000
MAX_TEXT_CHARS = 20_000
LONG_TEXT = " ".join(
    f"This is sentence number {i} of a long text, and it keeps the engines busy." for i in range(40)
)
FIVE_SENTENCES = (
    "The train to the airport leaves every twenty minutes. Please hold while I check your "
    "account. We are open from nine in the morning until six in the evening. Your order has "
    "shipped and will arrive on Tuesday. Thank you for calling, and have a wonderful day."
)
PRERENDERED = "Добрый день!"


@pytest.fixture(scope="module")
def redis(request: pytest.FixtureRequest) -> RedisServer | None:
    """The session's redis-server when conftest provides one and it is installed."""
    try:
        server: RedisServer = request.getfixturevalue("redis_server")
    except (pytest.FixtureLookupError, pytest.skip.Exception):
        return None
    server.start()  # other modules may have stopped it to simulate an outage
    return server


def redis_url(redis: RedisServer) -> str:
    return f"redis://127.0.0.1:{redis.port}/7"  # a database of our own on the shared server


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, redis: RedisServer | None
) -> Iterator[ServerProcess]:
    """The main server: no API key, a small body limit, two syntheses at once, a deep queue."""
    overrides: dict[str, Any] = {
        "server": {"max_concurrent": 2, "max_queue": 64, "max_body_bytes": MAX_BODY_BYTES},
        "streaming": {"max_text_chars": MAX_TEXT_CHARS},
    }
    if redis is not None:
        overrides["cache"] = {"redis_url": redis_url(redis)}
    with run_server(tmp_path_factory.mktemp("http"), overrides) as process:
        yield process


@pytest.fixture(scope="module")
def client(server: ServerProcess) -> Iterator[httpx.Client]:
    with server.client() as http:
        yield http


def synthesize(client: httpx.Client, **body: Any) -> httpx.Response:
    response = client.post("/synthesize", json=body)
    assert response.status_code == 200, response.text
    return response


def decode(body: bytes, fmt: str) -> np.ndarray:
    """Float samples of a response body in any of the formats."""
    if fmt == "f32le":
        return np.frombuffer(body, dtype="<f4")
    if fmt == "mulaw":
        return mulaw_decode(body)
    if fmt == "wav":
        assert body[:4] == b"RIFF" and body[36:40] == b"data"
        body = body[44:]
    return np.frombuffer(body, dtype="<i2").astype(np.float32) / 32768.0


# --- the seed's acceptance ---------------------------------------------------------------------


def test_starts_bound_to_loopback_and_logs_ready(server: ServerProcess) -> None:
    log = server.log()
    assert "TTS gateway ready on http://127.0.0.1:" in log
    assert "Traceback" not in log


def test_seed_request_returns_float32_audio(client: httpx.Client) -> None:
    response = synthesize(client, text="Тест")
    audio = np.frombuffer(response.content, dtype=np.float32)
    assert audio.size > 0 and np.isfinite(audio).all()
    assert np.sqrt(np.mean(audio**2)) > 0.01  # speech, not silence
    headers = response.headers
    assert headers["X-Sample-Rate"] == "22050"
    assert headers["X-Audio-Format"] == "f32le"
    assert (headers["X-Engine"], headers["X-Language"]) == ("piper", "ru")
    assert headers["X-Voice"] and headers["X-Cache"] in ("hit", "miss")
    assert headers["content-type"] == "application/octet-stream"


def test_prerender_completes_and_is_served_from_cache(
    server: ServerProcess, client: httpx.Client
) -> None:
    wait_until(
        lambda: client.get("/health").json()["prerender"]["state"] == "completed",
        what="prerender",
    )
    assert "Prerendering completed" in server.log()
    assert synthesize(client, text=PRERENDERED).headers["X-Cache"] == "hit"


def test_redis_holds_the_rendered_audio(redis: RedisServer | None, client: httpx.Client) -> None:
    if redis is None:
        pytest.skip("no redis-server")
    synthesize(client, text="Redis gets this sentence too.")
    health = client.get("/health").json()
    assert health["cache"]["redis"] == "up"

    def keys() -> list[str]:
        command = ["redis-cli", "-p", str(redis.port), "-n", "7", "KEYS", "tts:*"]
        return subprocess.run(command, capture_output=True, text=True, check=True).stdout.split()

    wait_until(lambda: len(keys()) > 0, what="tts:* keys in Redis")  # written back in background


# --- streaming, formats, sample rates ---------------------------------------------------------


def test_streaming_sends_first_bytes_long_before_the_end(client: httpx.Client) -> None:
    started = time.perf_counter()
    with client.stream("POST", "/synthesize", json={"text": FIVE_SENTENCES}) as response:
        assert response.status_code == 200
        assert response.headers.get("transfer-encoding") == "chunked"
        assert "content-length" not in response.headers
        arrivals = []
        for _ in response.iter_raw():
            arrivals.append(time.perf_counter() - started)
    total = arrivals[-1]
    assert len(arrivals) > 1
    assert arrivals[0] < 0.5 * total, (arrivals[0], total)


def test_non_streamed_wav_has_an_exact_header(client: httpx.Client) -> None:
    response = synthesize(client, text="A whole file, please.", format="wav", stream=False)
    assert response.headers["content-type"] == "audio/wav"
    assert int(response.headers["content-length"]) == len(response.content)
    with wave.open(io.BytesIO(response.content)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, 22050)
        assert wav.getnframes() == (len(response.content) - 44) // 2 > 0


@pytest.mark.parametrize("stream", [True, False])
def test_every_format_decodes_to_the_same_audio(client: httpx.Client, stream: bool) -> None:
    text = "Formats must agree on every sample."
    decoded = {
        fmt: decode(synthesize(client, text=text, format=fmt, stream=stream).content, fmt)
        for fmt in ("f32le", "s16le", "wav", "mulaw")
    }
    reference = decoded["f32le"]
    assert reference.size > 0
    for fmt, audio in decoded.items():
        assert audio.size == reference.size, fmt
        tolerance = 0.05 if fmt == "mulaw" else 1e-3  # μ-law steps are coarse near full scale
        assert np.max(np.abs(audio - np.clip(reference, -1, 1))) < tolerance, fmt


def test_sample_rates_give_the_same_duration(client: httpx.Client) -> None:
    text = "Every rate carries the same speech."
    durations = {}
    for rate in (8000, 16000, 22050, 24000, 48000):
        response = synthesize(client, text=text, sample_rate=rate, format="s16le")
        assert response.headers["X-Sample-Rate"] == str(rate)
        durations[rate] = len(response.content) / 2 / rate
    assert max(durations.values()) - min(durations.values()) < 0.01, durations


def test_mixed_languages_name_both_engines(client: httpx.Client) -> None:
    response = synthesize(client, text="Ваш заказ готов. Thank you for waiting!")
    assert response.headers["X-Engines"] == "piper,kokoro"
    assert response.headers["X-Language"] == "ru"


# --- bad input -----------------------------------------------------------------------------------

JSON = {"Content-Type": "application/json"}
SPEECH = {"model": "tts-1", "input": "hi", "voice": "alloy"}


def text(**fields: Any) -> dict[str, Any]:
    return {"json": {"text": "hi"} | fields}


def raw(data: bytes, content_type: str | None = "application/json") -> dict[str, Any]:
    return {"content": data, "headers": {"Content-Type": content_type} if content_type else {}}


def bad(name: str, kwargs: dict[str, Any], status: int, code: str, path: str = "/synthesize"):
    return pytest.param(path, kwargs, status, code, id=name)


def bad_speech(name: str, fields: dict[str, Any], code: str) -> Any:
    body = {k: v for k, v in (SPEECH | fields).items() if v is not None}
    return bad(name, {"json": body}, 400, code, "/v1/audio/speech")


BAD_REQUESTS = [
    bad("malformed json", raw(b'{"text": '), 400, "malformed_json"),
    bad("empty body", raw(b""), 400, "invalid_request"),
    bad("array body", {"json": ["Hello"]}, 400, "invalid_request"),
    bad("text/plain", raw(b'{"text": "hi"}', "text/plain"), 415, "unsupported_media_type"),
    bad("no content type", raw(b'{"text": "hi"}', None), 415, "unsupported_media_type"),
    bad("form", {"data": {"text": "hi"}}, 415, "unsupported_media_type"),
    bad("missing text", {"json": {"voice": "af_heart"}}, 400, "empty_text"),
    bad("empty text", text(text=""), 400, "empty_text"),
    bad("whitespace text", text(text=" \n\t "), 400, "empty_text"),
    bad("punctuation only", text(text="?!..."), 400, "empty_text"),
    bad("number text", text(text=5), 400, "empty_text"),
    bad("null text", text(text=None), 400, "empty_text"),
    bad("list text", text(text=["a"]), 400, "empty_text"),
    bad("control character", text(text="hi\u0000there"), 400, "invalid_text"),
    bad("lone surrogate", raw(b'{"text": "a\\ud800b"}'), 400, "invalid_text"),
    bad("text over limit", text(text="a" * (MAX_TEXT_CHARS + 1)), 413, "text_too_long"),
    bad("body over limit", text(text="a " * MAX_BODY_BYTES), 413, "body_too_large"),
    bad(
        "chunked body over limit",
        {"content": iter([b'{"text": "', b"a" * MAX_BODY_BYTES, b'"}']), "headers": JSON},
        413,
        "body_too_large",
    ),
    bad("unknown voice", text(voice="nobody"), 400, "unknown_voice"),
    bad("voice path traversal", text(voice="../../etc/passwd"), 400, "unknown_voice"),
    bad("voice of another language", text(voice="af_heart", language="ru"), 400, "unknown_voice"),
    bad("unknown profile", text(profile="../config"), 400, "unknown_profile"),
    bad("unknown language", text(language="xx"), 400, "unsupported_language"),
    bad("speed too low", text(speed=0.1), 400, "invalid_speed"),
    bad("speed too high", text(speed=5), 400, "invalid_speed"),
    bad("speed string", text(speed="fast"), 400, "invalid_speed"),
    bad("speed bool", text(speed=True), 400, "invalid_speed"),
    bad("speed NaN", raw(b'{"text": "hi", "speed": NaN}'), 400, "invalid_speed"),
    bad("odd sample rate", text(sample_rate=12345), 400, "invalid_audio_format"),
    bad("sample rate string", text(sample_rate="22050"), 400, "invalid_audio_format"),
    bad("unknown format", text(format="vorbis"), 400, "invalid_audio_format"),
    bad("stream string", text(stream="yes"), 400, "invalid_request"),
    bad("unknown field", text(voise="af_heart"), 400, "invalid_request"),
    bad("unknown path", text(), 404, "not_found", "/synthesise"),
    bad_speech("openai vorbis", {"response_format": "vorbis"}, "invalid_audio_format"),
    bad_speech("openai sse", {"stream_format": "sse"}, "invalid_audio_format"),
    bad_speech("openai unknown voice", {"voice": "nobody"}, "unknown_voice"),
    bad_speech("openai speed", {"speed": 4.0}, "invalid_speed"),
    bad_speech("openai missing input", {"input": None}, "empty_text"),
    bad_speech("openai missing model", {"model": None}, "invalid_request"),
]


@pytest.mark.parametrize(("path", "kwargs", "status", "code"), BAD_REQUESTS)
def test_bad_input_gets_one_json_error_shape(
    client: httpx.Client, path: str, kwargs: dict[str, Any], status: int, code: str
) -> None:
    response = client.post(path, **kwargs)
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    assert body["error"]["code"] == code, body
    assert body["error"]["message"] and "Traceback" not in response.text


def test_error_messages_say_what_is_valid(client: httpx.Client) -> None:
    voice = client.post("/synthesize", json={"text": "hi", "voice": "nobody"}).json()
    assert (
        "af_heart" in voice["error"]["message"] and "en_US-joe-medium" in voice["error"]["message"]
    )
    rate = client.post("/synthesize", json={"text": "hi", "sample_rate": 1}).json()
    assert "16000" in rate["error"]["message"]
    openai_format = client.post(
        "/v1/audio/speech",
        json={"model": "tts-1", "input": "hi", "voice": "alloy", "response_format": "vorbis"},
    ).json()
    assert all(fmt in openai_format["error"]["message"] for fmt in ("mp3", "opus", "flac", "pcm"))


def test_bad_input_leaves_the_server_unaffected(
    server: ServerProcess, client: httpx.Client
) -> None:
    assert client.get("/health").json()["status"] == "ok"
    assert len(synthesize(client, text="Still here.").content) > 0
    assert server.metric("tts_gateway_errors_total", code="invalid_speed") >= 4
    assert "Traceback" not in server.log()


# --- OpenAI compatibility ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def openai_client(server: ServerProcess) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key="unused", max_retries=0)


def decode_container(data: bytes) -> tuple[np.ndarray, int]:
    """Mono float samples and rate of an encoded file, decoded by PyAV (FFmpeg's decoders)."""
    with av.open(io.BytesIO(data)) as container:
        frames = [frame for frame in container.decode(audio=0)]
    samples = np.concatenate([frame.to_ndarray().reshape(-1) for frame in frames])
    if samples.dtype.kind == "i":
        samples = samples.astype(np.float32) / np.iinfo(samples.dtype).max
    return samples.astype(np.float32), frames[0].sample_rate


def assert_lasts(samples: np.ndarray, rate: int, seconds: float) -> None:
    """Decoded audio is as long as the pcm it encodes, give or take the codec's framing.

    Lossy encoders add at the ends, never take away: LAME's delay and last-frame padding (the
    delay is not recorded in a stream that cannot seek back to its header), AAC's priming
    frame; Opus's pre-skip is removed by its decoder. Two 1152-sample frames bound them all.
    """
    decoded = samples.size / rate
    assert seconds - 0.005 <= decoded <= seconds + 2 * 1152 / rate, (decoded, seconds)


OPENAI_MEDIA_TYPES = {
    "mp3": "audio/mpeg",
    "opus": "audio/ogg; codecs=opus",
    "aac": "audio/aac",
    "flac": "audio/flac",
    "wav": "audio/wav",
}


@pytest.fixture(scope="module")
def openai_pcm(openai_client: openai.OpenAI) -> np.ndarray:
    """The reference: the same text as OpenAI's raw pcm, 16-bit at 24 kHz."""
    data = openai_client.audio.speech.create(
        model="tts-1", voice="alloy", input=FORMATS_TEXT, response_format="pcm"
    ).content
    return np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0


FORMATS_TEXT = "Every format carries the same words. Nothing is cut short at the end."


@pytest.mark.parametrize("fmt", list(OPENAI_MEDIA_TYPES))
def test_openai_client_decodes_every_format(
    openai_client: openai.OpenAI, openai_pcm: np.ndarray, fmt: str
) -> None:
    raw = openai_client.audio.speech.with_raw_response.create(
        model="tts-1", voice="alloy", input=FORMATS_TEXT, response_format=fmt
    )
    assert raw.headers["content-type"] == OPENAI_MEDIA_TYPES[fmt]
    assert raw.headers["X-Audio-Format"] == fmt
    streamed = raw.headers.get("transfer-encoding") == "chunked"
    assert streamed == (fmt != "flac"), raw.headers
    samples, rate = decode_container(raw.content)
    assert_lasts(samples, rate, openai_pcm.size / 24000)
    assert np.sqrt(np.mean(samples**2)) > 0.01  # speech, not silence
    if fmt in ("flac", "wav"):  # lossless: the very samples of pcm
        assert rate == 24000 and samples.size == openai_pcm.size
        assert np.max(np.abs(samples - openai_pcm)) < 1e-3


def test_openai_default_format_is_mp3_and_intelligible(openai_client: openai.OpenAI) -> None:
    raw = openai_client.audio.speech.with_raw_response.create(
        model="tts-1", voice="coral", input=HOLD
    )
    assert raw.headers["content-type"] == "audio/mpeg"
    samples, rate = decode_container(raw.content)
    assert word_error_rate(HOLD, transcribe(samples, rate)) <= KOKORO_WER_BOUND


@pytest.mark.parametrize(("fmt", "rate"), [("opus", 22050), ("mp3", 8000), ("aac", 48000)])
def test_synthesize_takes_compressed_formats_at_any_rate(
    client: httpx.Client, fmt: str, rate: int
) -> None:
    text = "Compressed audio at another rate."
    reference = synthesize(client, text=text, format="s16le", sample_rate=rate).content
    response = synthesize(client, text=text, format=fmt, sample_rate=rate)
    assert response.headers["X-Sample-Rate"] == str(rate)
    samples, decoded_rate = decode_container(response.content)
    # Opus has no 22,050 Hz: it is encoded at 48 kHz, which its decoders give back anyway.
    assert decoded_rate == (48000 if fmt == "opus" else rate)
    assert_lasts(samples, decoded_rate, len(reference) / 2 / rate)


def test_openai_streaming_response_gives_pcm(openai_client: openai.OpenAI) -> None:
    with openai_client.audio.speech.with_streaming_response.create(
        model="tts-1", voice="nova", input=FIVE_SENTENCES, response_format="pcm"
    ) as response:
        assert response.headers["X-Sample-Rate"] == "24000"
        assert response.headers["X-Voice"] == "af_nova"
        data = b"".join(response.iter_bytes())
    assert len(data) % 2 == 0 and len(data) / 2 / 24000 > 5.0  # five sentences, > 5 s


@pytest.mark.parametrize(
    ("voice", "text", "engine", "spoken_by"),
    [
        ("echo", "Good morning.", "kokoro", "am_echo"),
        ("FABLE", "Good morning.", "kokoro", "bm_fable"),
        ("bf_emma", "Good morning.", "kokoro", "bf_emma"),
        ("en_US-joe-medium", "Good morning.", "piper", "en_US-joe-medium"),
        ({"id": "am_michael"}, "Good morning.", "kokoro", "am_michael"),
        ("alloy", "Доброе утро.", "piper", "ru_RU-joe_standin-medium"),
    ],
)
def test_openai_voice_mapping(
    openai_client: openai.OpenAI, voice: Any, text: str, engine: str, spoken_by: str
) -> None:
    raw = openai_client.audio.speech.with_raw_response.create(
        model="tts-1", voice=voice, input=text, response_format="pcm"
    )
    assert (raw.headers["X-Engine"], raw.headers["X-Voice"]) == (engine, spoken_by)
    assert len(raw.content) > 0


def test_openai_client_sees_our_errors(openai_client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError, match="af_heart"):
        openai_client.audio.speech.create(model="tts-1", voice="nobody", input="hi")


# --- health, voices, metrics, schema -------------------------------------------------------------


def test_health_reports_engines_models_and_standins(client: httpx.Client) -> None:
    health = client.get("/health").json()
    assert set(health["engines"]) == {"kokoro", "piper"}
    assert all(engine["healthy"] and engine["models"] for engine in health["engines"].values())
    assert health["engines"]["piper"]["standin_voices"] == ["ru_RU-joe_standin-medium"]
    assert set(health["languages"]) == {"en", "ru"}
    assert "redis" in health["cache"] and "state" in health["prerender"]
    assert health["load"]["max_concurrent"] == 2
    assert health["engines"]["kokoro"]["backend"] in ("openvino-bf16", "onnxruntime")
    realtime = health["realtime"]
    assert set(realtime) == {"realtime_capacity_streams", "keeping_up", "underruns", "stall_s"}
    assert isinstance(realtime["underruns"], int) and isinstance(realtime["keeping_up"], bool)


def test_voices_by_engine_and_language(client: httpx.Client) -> None:
    voices = client.get("/voices").json()
    assert "af_heart" in voices["engines"]["kokoro"]["en"]
    assert voices["engines"]["piper"]["ru"] == ["ru_RU-joe_standin-medium"]
    assert voices["openai_voices"]["alloy"] == "af_alloy"


def test_metrics_count_requests_latency_and_cache(server: ServerProcess) -> None:
    text = httpx.get(f"{server.url}/metrics").text
    for name in (
        "tts_gateway_requests_total",
        "tts_gateway_first_audio_seconds_bucket",
        "tts_gateway_real_time_factor_bucket",
        "tts_gateway_cache_hit_ratio",
        "tts_gateway_errors_total",
        "tts_gateway_underruns_total",
        "tts_gateway_stall_seconds_total",
        "tts_gateway_realtime_capacity_streams",
    ):
        assert name in text, name
    # Requests have run by now: the engines' measured speed gives a capacity.
    assert server.metric("tts_gateway_realtime_capacity_streams") > 0
    assert server.metric("tts_gateway_requests_total", engine="piper", cache="hit") >= 1
    assert 0 < server.metric("tts_gateway_cache_hit_ratio") < 1


def test_openapi_schema_lists_the_endpoints(client: httpx.Client) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/synthesize", "/v1/audio/speech", "/health", "/voices", "/metrics"} <= set(paths)


# --- disconnects, load, latency -----------------------------------------------------------------


def test_client_disconnect_stops_synthesis(server: ServerProcess) -> None:
    # Every sentence unique: had other tests' chunks of LONG_TEXT all been cached, the whole
    # answer could be written before the disconnect was seen (a rare "ok", not "cancelled").
    tag = time.time_ns() % 1_000_000
    text = " ".join(f"{s} Ref {tag}." for s in split_sentences(LONG_TEXT))
    cancelled = server.metric("tts_gateway_requests_total", outcome="cancelled")
    audio_before = server.metric("tts_gateway_audio_seconds_total")
    # A client of its own, closed with the response: the socket itself goes away. On the shared
    # client's keep-alive pool the server once saw no disconnect for 100 s (loop run, loaded).
    with server.client() as own, own.stream("POST", "/synthesize", json={"text": text}) as response:
        assert response.status_code == 200
        next(response.iter_raw())
    wait_until(
        lambda: server.metric("tts_gateway_requests_total", outcome="cancelled") > cancelled,
        what="the cancelled stream to be recorded",
    )
    assert server.metric("tts_gateway_active_syntheses") == 0
    assert "client disconnected, synthesis stopped" in server.log()
    # The text is ~480 words (well over 2 minutes of speech); only its start was synthesized.
    produced = server.metric("tts_gateway_audio_seconds_total") - audio_before
    assert produced < 0.25 * 0.3 * len(LONG_TEXT.split()), produced


def test_event_loop_answers_while_engines_are_busy(server: ServerProcess) -> None:
    """/health stays quick during a long synthesis: inference runs off the event loop."""
    # A first chunk no request has spoken before: its first audio is an engine call, not a
    # chunk-cache hit left by the other tests that speak LONG_TEXT.
    text = f"Checking number {time.time_ns() % 1_000_000}, please wait. {LONG_TEXT}"

    async def run() -> tuple[float, list[float]]:
        async with httpx.AsyncClient(base_url=server.url, timeout=300.0) as http:
            started = time.perf_counter()
            async with http.stream("POST", "/synthesize", json={"text": text}) as response:
                chunks = response.aiter_raw()
                await anext(chunks)
                first_audio_s = time.perf_counter() - started
                reader = asyncio.create_task(_drain(chunks))  # keep the engines busy
                latencies = []
                for _ in range(15):
                    sent = time.perf_counter()
                    assert (await http.get("/health")).status_code == 200
                    latencies.append(time.perf_counter() - sent)
                    await asyncio.sleep(0.1)
                assert not reader.done()  # still synthesizing all along
                reader.cancel()
        return first_audio_s, latencies

    first_audio_s, latencies = asyncio.run(run())
    assert max(latencies) < first_audio_s / 2, (latencies, first_audio_s)


async def _drain(chunks: Any) -> None:
    async for _ in chunks:
        pass


def test_twenty_concurrent_mixed_requests_all_succeed(server: ServerProcess) -> None:
    bodies: list[tuple[str, dict[str, Any]]] = []
    for i in range(5):
        bodies.append(("/synthesize", {"text": f"Order {i + 100} ships tomorrow morning."}))
        bodies.append(
            ("/synthesize", {"text": f"Заказ номер {i + 1} уже в пути.", "format": "wav"})
        )
        bodies.append(("/synthesize", {"text": PRERENDERED, "sample_rate": 16000}))
        bodies.append(
            ("/v1/audio/speech", {"model": "tts-1", "voice": "onyx", "input": "Please hold."})
        )

    async def run() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=len(bodies))
        async with httpx.AsyncClient(base_url=server.url, timeout=300.0, limits=limits) as http:
            return await asyncio.gather(*(http.post(path, json=body) for path, body in bodies))

    responses = asyncio.run(run())
    failures = [(r.status_code, r.text[:200]) for r in responses if r.status_code != 200]
    assert not failures
    assert all(len(r.content) > 1000 for r in responses)
    assert {r.headers["X-Engine"] for r in responses} == {"kokoro", "piper"}
    assert "hit" in {r.headers["X-Cache"] for r in responses}


def first_byte_s(client: httpx.Client, text: str) -> tuple[float, str]:
    started = time.perf_counter()
    with client.stream("POST", "/synthesize", json={"text": text}) as response:
        chunks = response.iter_raw()
        next(chunks)
        elapsed = time.perf_counter() - started
        for _ in chunks:  # read to the end: the next request must not share the CPU with this one
            pass
    return elapsed, response.headers["X-Cache"]


def test_cache_hits_reach_first_byte_sooner(client: httpx.Client) -> None:
    misses = [first_byte_s(client, f"Your table for {n} is ready now.") for n in range(2, 7)]
    repeated = "Your appointment is confirmed for Monday."
    first_byte_s(client, repeated)
    hits = [first_byte_s(client, repeated) for _ in range(5)]
    assert {cache for _, cache in misses} == {"miss"} and {cache for _, cache in hits} == {"hit"}
    miss_ms = statistics.median(s for s, _ in misses) * 1000
    hit_ms = statistics.median(s for s, _ in hits) * 1000
    print(f"\nfirst byte over HTTP: miss median {miss_ms:.0f} ms, hit median {hit_ms:.0f} ms")
    assert hit_ms < miss_ms


# --- auth and admission: a second server with an API key and one synthesis slot -----------------

API_KEY = "test-key-123"


@pytest.fixture(scope="module")
def locked_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """Piper only (quick to start), the key from TTS_GATEWAY_API_KEY, no queue."""
    overrides = {
        "primary_tts": {"enabled": False},
        "server": {"max_concurrent": 1, "max_queue": 0, "retry_after_s": 3},
    }
    env = {"TTS_GATEWAY_API_KEY": API_KEY}
    with run_server(tmp_path_factory.mktemp("locked"), overrides, env) as process:
        yield process


AUTH = {"Authorization": f"Bearer {API_KEY}"}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/synthesize"),
        ("POST", "/v1/audio/speech"),
        ("GET", "/voices"),
        ("GET", "/metrics"),
        ("GET", "/openapi.json"),
        ("GET", "/docs"),
    ],
)
@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": API_KEY}]
)
def test_api_key_guards_every_endpoint(
    locked_server: ServerProcess, method: str, path: str, headers: dict[str, str]
) -> None:
    response = httpx.request(method, f"{locked_server.url}{path}", headers=headers, json={})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_api_key_opens_the_door(locked_server: ServerProcess) -> None:
    assert httpx.get(f"{locked_server.url}/health").status_code == 200  # open without a key
    with locked_server.client(headers=AUTH) as http:
        response = http.post("/synthesize", json={"text": "Hello with a key."})
        assert response.status_code == 200 and response.headers["X-Engine"] == "piper"
        assert http.get("/voices").status_code == 200
    keyed = openai.OpenAI(base_url=f"{locked_server.url}/v1", api_key=API_KEY, max_retries=0)
    assert len(keyed.audio.speech.create(model="tts-1", voice="alloy", input="Hi.").content) > 44
    wrong = openai.OpenAI(base_url=f"{locked_server.url}/v1", api_key="nope", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        wrong.audio.speech.create(model="tts-1", voice="alloy", input="Hi.")


def test_no_api_key_means_no_auth(client: httpx.Client) -> None:
    assert client.get("/voices").status_code == 200
    assert client.get("/metrics").status_code == 200


def test_full_queue_gets_503_with_retry_after(locked_server: ServerProcess) -> None:
    with locked_server.client(headers=AUTH) as http:
        with http.stream("POST", "/synthesize", json={"text": LONG_TEXT}) as busy:
            assert busy.status_code == 200  # holds the only slot while it streams
            rejected = http.post("/synthesize", json={"text": "Me too, please."})
            assert rejected.status_code == 503
            assert rejected.headers["Retry-After"] == "3"
            assert rejected.json()["error"]["code"] == "overloaded"
        wait_until(
            lambda: http.get("/health").json()["load"]["active"] == 0, what="the slot to free"
        )
        assert http.post("/synthesize", json={"text": "Now it is my turn."}).status_code == 200


# --- property-based pass over the OpenAPI schema ------------------------------------------------


@pytest.mark.parametrize("mode", list(GenerationMode))
@pytest.mark.parametrize("path", ["/synthesize", "/v1/audio/speech"])
def test_no_input_from_the_schema_causes_a_5xx(
    server: ServerProcess, path: str, mode: GenerationMode
) -> None:
    """Bodies generated from the served OpenAPI schema, valid and invalid, never get a 5xx.

    Bounded (every valid body synthesizes): schemathesis's own pytest plugin does not run
    under this pytest, so its strategies drive a plain hypothesis test.
    """
    schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
    operation = schema[path]["POST"]

    @settings(
        max_examples=25, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def check(case: Any) -> None:
        response = case.call(timeout=120)
        assert response.status_code < 500, (case.as_curl_command(), response.text[:300])
        if response.status_code >= 400:
            assert set(response.json()) == {"error"}

    check()


def test_server_log_has_no_tracebacks(server: ServerProcess) -> None:
    log = server.log()
    assert "Traceback" not in log and "Exception in ASGI application" not in log


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_signals_stop_the_server_cleanly(tmp_path: Path, stop: signal.Signals) -> None:
    """A signal ends serving, then the gateway closes (cache write-backs) and the exit is 0."""
    with run_server(tmp_path, {"primary_tts": {"enabled": False}}, stop=stop) as process:
        pass
    log = process.log()
    assert process.process.returncode == 0, log[-2000:]
    assert "TTS gateway stopped" in log and "Traceback" not in log
