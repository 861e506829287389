"""The run and chunk audio cache: entry format, tiers, and the gateway through them (real
models, a real redis-server; faults are injected only by killing Redis, damaging files or
making a wrapped real engine raise)."""

from __future__ import annotations

import asyncio
import json
import os
import struct
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import redis

from pipecat_tts_gateway import Gateway, GatewayConfig, SynthesisRequest, SynthesisStream
from pipecat_tts_gateway.cache import (
    AudioCache,
    CacheEntry,
    CacheEntryError,
    decode_entry,
    encode_entry,
    segment_key,
)
from pipecat_tts_gateway.cache.files import FileTier
from pipecat_tts_gateway.cache.keys import is_key
from pipecat_tts_gateway.cache.memory import MemoryTier
from pipecat_tts_gateway.engines import CancelToken, Engine, EngineAudio, WordTiming
from pipecat_tts_gateway.errors import EngineError
from pipecat_tts_gateway.routing import Route
from tests.conftest import ROOT
from tests.redis_server import RedisServer, free_port
from tests.wrapped_engines import WrappedEngine

KEY = "ab" * 32


def make_entry(created: float = 1_000.0, sizes: tuple[int, ...] = (2400, 1200)) -> CacheEntry:
    rng = np.random.default_rng(0)
    words = (WordTiming("Hello", 0.0, 0.21), WordTiming("there", 0.21, 0.4))
    pieces = [
        EngineAudio(
            rng.uniform(-1, 1, size).astype(np.float32),
            24000,
            f"piece {i}",
            words if i == 0 else None,
        )
        for i, size in enumerate(sizes)
    ]
    return CacheEntry.from_audio(pieces, created)


def cached_config(config: GatewayConfig, cache_dir: Path, **cache: Any) -> GatewayConfig:
    """The session config with a file tier of its own (and any other cache settings)."""
    return replace(
        config,
        prerender=replace(config.prerender, cache_dir=str(cache_dir)),
        cache=replace(config.cache, **{"file_max_bytes": 64 * 2**20, **cache}),
    )


async def say(gateway: Gateway, text: str, **kwargs: Any) -> tuple[np.ndarray, SynthesisStream]:
    return await gateway.synthesize_all(SynthesisRequest(text=text, **kwargs))


def cache_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if is_key(p.name)) if directory.exists() else []


class RecordingEngine(WrappedEngine):
    """A wrapped real engine that also records the texts it is asked to speak.

    Args:
        real: The engine.
        fail_from: Raise from this synthesis on (1 = the first); None never.
    """

    def __init__(self, real: Engine, *, fail_from: int | None = None) -> None:
        super().__init__(real)
        self.texts: list[str] = []
        self.fail_from = fail_from

    def pieces(
        self, text: str, voice: str, speed: float, cancel: CancelToken
    ) -> Iterator[EngineAudio]:
        self.texts.append(text)
        self.fail = self.fail_from is not None and len(self.texts) >= self.fail_from
        return super().pieces(text, voice, speed, cancel)


def single_voice(config: GatewayConfig, **prerender: Any) -> GatewayConfig:
    """The memory-only session config without profiles (one route per language)."""
    return replace(config, profiles={}, prerender=replace(config.prerender, **prerender))


# --- entry format --------------------------------------------------------------------------


def test_entry_round_trip_keeps_audio_pieces_and_words() -> None:
    entry = make_entry()
    decoded = decode_entry(KEY, encode_entry(KEY, entry))
    assert np.array_equal(decoded.samples, entry.samples)
    assert (decoded.sample_rate, decoded.created, decoded.pieces) == (
        24000,
        1_000.0,
        entry.pieces,
    )
    pieces = list(decoded.audio())
    assert [len(p.samples) for p in pieces] == [2400, 1200]
    assert pieces[0].words == entry.pieces[0].words and pieces[1].words is None
    assert np.array_equal(np.concatenate([p.samples for p in pieces]), entry.samples)


def _set_version(data: bytes) -> bytes:
    return data[:4] + struct.pack("<H", 99) + data[6:]


def _flip_last(data: bytes) -> bytes:
    return data[:-1] + bytes([data[-1] ^ 0x01])


def _flip_metadata(data: bytes) -> bytes:
    at = data.index(b'"pieces"')
    return data[:at] + b"'" + data[at + 1 :]


@pytest.mark.parametrize(
    ("damage", "why"),
    [
        (lambda d: b"XXXX" + d[4:], "magic"),
        (_set_version, "version"),
        (_flip_last, "checksum"),
        (_flip_metadata, "checksum"),
        (lambda d: d[:-1], "truncated"),
        (lambda d: d[: len(d) // 2], "truncated"),
        (lambda d: d[:20], "truncated"),
        (lambda d: b"", "truncated"),
        (lambda d: d + b"\0\0\0\0", "size"),
    ],
)
def test_damaged_entries_are_rejected(damage: Callable[[bytes], bytes], why: str) -> None:
    with pytest.raises(CacheEntryError, match=why):
        decode_entry(KEY, damage(encode_entry(KEY, make_entry())))


def test_entry_is_bound_to_its_key() -> None:
    with pytest.raises(CacheEntryError, match="another key"):
        decode_entry("cd" * 32, encode_entry(KEY, make_entry()))


def test_entry_expiry() -> None:
    entry = make_entry(created=1_000.0)
    assert not entry.expired(10, now=1_009.9)
    assert entry.expired(10, now=1_010.0)
    assert not entry.expired(0, now=1e12)  # ttl 0: never


def test_entry_needs_one_sample_rate() -> None:
    pieces = [EngineAudio(np.zeros(10, np.float32), rate, "x") for rate in (24000, 22050)]
    with pytest.raises(ValueError, match="one sample rate"):
        CacheEntry.from_audio(pieces, 0.0)


# --- keys and tiers ------------------------------------------------------------------------


def test_key_covers_everything_that_changes_the_audio() -> None:
    route = Route("kokoro", "af_heart", 1.0)
    base = segment_key(route, "model-1", "en", "Hello there.")
    variants = [
        segment_key(Route("piper", "af_heart", 1.0), "model-1", "en", "Hello there."),
        segment_key(Route("kokoro", "af_bella", 1.0), "model-1", "en", "Hello there."),
        segment_key(Route("kokoro", "af_heart", 1.1), "model-1", "en", "Hello there."),
        segment_key(route, "model-2", "en", "Hello there."),
        segment_key(route, "model-1", "ru", "Hello there."),
        segment_key(route, "model-1", "en", "Hello there!"),
    ]
    assert len({base, *variants}) == 1 + len(variants)
    assert segment_key(Route("kokoro", "af_heart", 1.0000001), "model-1", "en", "Hello there.") == (
        base
    )
    assert segment_key(route, "model-1", "en", " Hello \n there. ") == base
    assert is_key(base) and not is_key("../" + base[3:]) and not is_key(base.upper())


def test_memory_tier_evicts_least_recently_used_by_bytes() -> None:
    entries = {name: make_entry(sizes=(1000,)) for name in "abc"}
    tier = MemoryTier(max_bytes=int(2.5 * entries["a"].nbytes))
    tier.put("a", entries["a"])
    tier.put("b", entries["b"])
    assert tier.get("a") is entries["a"]  # a is now the most recent
    tier.put("c", entries["c"])
    assert (tier.get("a"), tier.get("b"), tier.get("c")) == (entries["a"], None, entries["c"])
    assert tier.nbytes == 2 * entries["a"].nbytes
    tier.put("huge", make_entry(sizes=(10_000,)))  # larger than the whole budget: not kept
    assert tier.get("huge") is None and len(tier) == 2


def test_file_tier_lru_budget_survives_a_restart(tmp_path: Path) -> None:
    keys = [c * 64 for c in "abc"]
    data = b"x" * 1000
    tier = FileTier(tmp_path, max_bytes=2500)
    tier.put(keys[0], data)
    tier.put(keys[1], data)
    os.utime(tmp_path / keys[0], (1, 1))  # recency comes from mtime, kept across restarts
    os.utime(tmp_path / keys[1], (2, 2))
    assert tier.get(keys[0]) == data  # touched: now the newest
    tier.put(keys[2], data)
    assert [p.name for p in cache_files(tmp_path)] == [keys[0], keys[2]]
    stale = tmp_path / f".{keys[1]}.123.abcd.tmp"
    stale.write_bytes(data)
    os.utime(stale, (1, 1))
    again = FileTier(tmp_path, max_bytes=1500)  # a restart with a smaller budget
    assert again.nbytes == 1000 and again.get(keys[2]) == data and again.get(keys[0]) is None
    assert not stale.exists()
    with pytest.raises(ValueError):
        again.path("../../etc/passwd")


async def test_expired_entries_are_never_served(config: GatewayConfig, tmp_path: Path) -> None:
    cfg = cached_config(config, tmp_path)
    cfg = replace(cfg, prerender=replace(cfg.prerender, ttl_seconds=60))
    cache = AudioCache(cfg)
    cache.put(KEY, make_entry(created=time.time() - 61))
    await cache.flush()
    assert cache_files(tmp_path)
    assert await cache.get(KEY) is None  # memory
    assert await AudioCache(cfg).get(KEY) is None  # file
    assert not cache_files(tmp_path)  # and dropped from disk
    await cache.close()


async def test_a_stalled_leader_holds_nobody_hostage(config: GatewayConfig, tmp_path: Path) -> None:
    cache = AudioCache(cached_config(config, tmp_path))
    cache.wait_s = 0.2
    stalled = asyncio.Event()

    async def lead() -> None:
        async with cache.lookup_or_lead([KEY]) as found:
            assert found is None
            await stalled.wait()  # a leader whose consumer stopped reading

    leader = asyncio.get_running_loop().create_task(lead())
    await asyncio.sleep(0.01)
    started = time.monotonic()
    async with cache.lookup_or_lead([KEY]) as found:
        assert found is None  # gave up waiting: renders itself
    assert 0.15 < time.monotonic() - started < 2.0
    stalled.set()
    await leader
    assert not cache._flights
    await cache.close()


async def test_redis_down_at_start_is_one_warning_and_a_miss(
    config: GatewayConfig, tmp_path: Path, log_messages: list[str]
) -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    cache = AudioCache(cached_config(config, tmp_path, file_max_bytes=0, redis_url=url))
    for _ in range(3):
        assert await cache.get(KEY) is None
        cache.put(KEY, make_entry(created=time.time()))
        await cache.flush()
        cache.memory.delete(KEY)
    assert cache.describe()["redis"] == "down"
    assert len([m for m in log_messages if m.startswith("WARNING") and "Redis" in m]) == 1
    await cache.close()


# --- through the gateway (real models) -----------------------------------------------------

TWO_CHUNKS = "Thank you for calling today, how may I help you with your booking?"


async def test_miss_then_hit_streams_the_same_chunks_and_words(
    gateway: Gateway, config: GatewayConfig, tmp_path: Path
) -> None:
    cfg = cached_config(config, tmp_path)
    async with Gateway(cfg, engines=gateway.engines) as first:
        streams = [first.synthesize(SynthesisRequest(text=TWO_CHUNKS, sample_rate=24000))]
        missed = [c async for c in streams[0]]
        streams.append(first.synthesize(SynthesisRequest(text=TWO_CHUNKS, sample_rate=24000)))
        hit = [c async for c in streams[1]]
        _, other_rate = await say(first, TWO_CHUNKS, sample_rate=8000)
    assert len(missed) >= 2  # a short first chunk, then the rest
    assert [s.cache for s in streams] == ["miss", "hit"] and other_rate.cache == "hit"
    assert streams[1].summary()["cache"] == "hit"
    for a, b in zip(missed, hit, strict=True):
        assert (a.text, a.words, a.engine, a.voice) == (b.text, b.words, b.engine, b.voice)
        assert np.array_equal(a.samples, b.samples)
    assert abs(other_rate.audio_seconds - streams[0].audio_seconds) < 0.01
    # A fresh gateway on the same directory: a file hit (decoded, verified), filling memory.
    async with Gateway(cfg, engines=gateway.engines) as second:
        assert not len(second.cache.memory)
        stream = second.synthesize(SynthesisRequest(text=TWO_CHUNKS, sample_rate=24000))
        from_file = [c async for c in stream]
        assert stream.cache == "hit" and len(second.cache.memory) == 1
    assert [(c.text, c.words) for c in from_file] == [(c.text, c.words) for c in missed]
    assert np.array_equal(
        np.concatenate([c.samples for c in from_file]), np.concatenate([c.samples for c in missed])
    )


async def test_another_voice_or_speed_is_a_miss(
    gateway: Gateway, config: GatewayConfig, tmp_path: Path
) -> None:
    async with Gateway(cached_config(config, tmp_path), engines=gateway.engines) as gw:
        outcomes = [
            (await say(gw, "Good evening.", **kwargs))[1].cache
            for kwargs in ({}, {"voice": "af_bella"}, {"speed": 1.2}, {}, {"speed": 1.0})
        ]
    assert outcomes == ["miss", "miss", "miss", "hit", "hit"]


async def test_an_interrupted_stream_leaves_only_complete_chunks(
    gateway: Gateway, config: GatewayConfig, tmp_path: Path
) -> None:
    text = f"{TWO_CHUNKS} {TWO_CHUNKS}"
    async with Gateway(cached_config(config, tmp_path), engines=gateway.engines) as gw:
        stream = gw.synthesize(SynthesisRequest(text=text))
        await anext(stream)
        await stream.aclose()
        await gw.cache.flush()
        (plan,) = stream.plans
        route, model_id = plan.chain[0], gateway.engines["kokoro"].model_id("af_heart")
        assert await gw.cache.get(segment_key(route, model_id, "en", text)) is None
        # Whatever the look-ahead finished before the close is a whole chunk, nothing less.
        chunks = [
            "Thank you for calling today,",
            "how may I help you with your booking?",
            TWO_CHUNKS,
        ]
        for chunk in chunks:
            entry = await gw.cache.get(segment_key(route, model_id, "en", chunk))
            assert entry is None or " ".join(p.text for p in entry.pieces) == chunk
        assert len(gw.cache.memory) == len(cache_files(tmp_path)) < len(chunks)
        assert not gw.cache._flights  # the lead was given up


async def test_concurrent_identical_requests_synthesize_once(
    gateway: Gateway, config: GatewayConfig, tmp_path: Path
) -> None:
    kokoro = WrappedEngine(gateway.engines["kokoro"])
    engines = {**gateway.engines, "kokoro": kokoro}
    async with Gateway(cached_config(config, tmp_path), engines=engines) as gw:
        results = await asyncio.gather(*(say(gw, "Please wait a moment.") for _ in range(5)))
    assert kokoro.calls == 1  # one chunk, rendered once
    assert sorted(stream.cache for _, stream in results) == ["hit"] * 4 + ["miss"]
    for audio, _ in results[1:]:
        assert np.array_equal(audio, results[0][0])


async def test_cache_follows_fallback_and_never_serves_a_worse_route(
    gateway: Gateway, config: GatewayConfig, tmp_path: Path
) -> None:
    text = "Have a lovely day."
    cfg = cached_config(config, tmp_path)
    broken = {**gateway.engines, "kokoro": WrappedEngine(gateway.engines["kokoro"], fail=True)}
    async with Gateway(cfg, engines=broken) as gw:
        _, first = await say(gw, text)  # Kokoro fails, Piper speaks and is stored
        _, again = await say(gw, text)  # Kokoro is marked down: Piper's entry serves
    for stream, cache in ((first, "miss"), (again, "hit")):
        segment = stream.segments[0]
        assert (segment.engine, segment.fallback, stream.cache) == ("piper", True, cache)
    # With Kokoro healthy, Piper's cached audio must not stand in for Kokoro's voice.
    async with Gateway(cfg, engines=gateway.engines) as gw:
        _, healthy = await say(gw, text)
    assert (healthy.segments[0].engine, healthy.cache) == ("kokoro", "miss")


async def test_a_cached_opener_plays_while_only_the_rest_is_synthesized(
    gateway: Gateway, config: GatewayConfig
) -> None:
    kokoro = RecordingEngine(gateway.engines["kokoro"])
    engines = {**gateway.engines, "kokoro": kokoro}
    text = "Sure, your table is booked."
    async with Gateway(single_voice(config, openers=["Sure,"]), engines=engines) as gw:
        assert await gw.prerender(openers=["Sure,"]) == 1
        assert kokoro.texts == ["Sure,"]
        stream = gw.synthesize(SynthesisRequest(text=text))
        chunks = [chunk async for chunk in stream]
        assert kokoro.texts == ["Sure,", "your table is booked."]
        assert [c.text for c in chunks] == ["Sure,", "your table is booked."]
        assert stream.cache == "miss"  # part of it was synthesized
        assert (stream.segments[0].engine, stream.segments[0].fallback) == ("kokoro", False)
        _, alone = await say(gw, "Sure,")  # the opener's entry is the whole request's too
        assert alone.cache == "hit" and len(kokoro.texts) == 2
    # The cached opener is the very piece a fresh render gives, joined the same way.
    uncached = replace(config, cache=replace(config.cache, enabled=False))
    async with Gateway(uncached, engines=gateway.engines) as gw:
        fresh = [chunk async for chunk in gw.synthesize(SynthesisRequest(text=text))]
    assert [c.text for c in fresh] == [c.text for c in chunks]
    assert fresh[0].words == chunks[0].words
    assert np.allclose(fresh[0].samples, chunks[0].samples, atol=1e-4)


async def test_a_chunk_spoken_in_one_text_is_a_hit_in_another(
    gateway: Gateway, config: GatewayConfig
) -> None:
    kokoro = RecordingEngine(gateway.engines["kokoro"])
    engines = {**gateway.engines, "kokoro": kokoro}
    async with Gateway(single_voice(config), engines=engines) as gw:
        first = [c async for c in gw.synthesize(SynthesisRequest(text="Good afternoon. Bye now."))]
        assert kokoro.texts == ["Good afternoon.", "Bye now."]
        stream = gw.synthesize(SynthesisRequest(text="Hello again. Bye now."))
        second = [c async for c in stream]
        assert kokoro.texts == ["Good afternoon.", "Bye now.", "Hello again."]
        assert stream.cache == "miss"
        assert (second[1].text, second[1].words) == (first[1].text, first[1].words)
        assert np.array_equal(second[1].samples, first[1].samples)
        # Every chunk cached, each from another text: no synthesis, and a hit.
        _, third = await say(gw, "Hello again. Good afternoon.")
        assert len(kokoro.texts) == 3 and third.cache == "hit"


async def test_a_failing_engine_mid_run_stores_only_complete_chunks(
    gateway: Gateway, config: GatewayConfig
) -> None:
    kokoro = RecordingEngine(gateway.engines["kokoro"], fail_from=2)
    engines = {**gateway.engines, "kokoro": kokoro}
    async with Gateway(single_voice(config), engines=engines) as gw:
        with pytest.raises(EngineError, match="mid-segment"):
            await say(gw, "Good afternoon. Bye now.")
        assert kokoro.texts == ["Good afternoon.", "Bye now."]
        # A cached chunk counts as Kokoro having spoken: no switch to Piper's voice after it.
        with pytest.raises(EngineError, match="mid-segment"):
            await say(gw, "Good afternoon. See you.")
        assert kokoro.texts[2:] == ["See you."]
        assert gw.health.is_healthy("kokoro")
        kokoro.fail_from = None
        # The first chunk was stored, the failed one and the whole run were not.
        _, stream = await say(gw, "Good afternoon. Bye now.")
        assert kokoro.texts[3:] == ["Bye now."] and stream.cache == "miss"


@pytest.mark.parametrize("damage", ["corrupt", "truncate"])
async def test_damaged_files_are_rendered_again_not_served(
    gateway: Gateway,
    config: GatewayConfig,
    tmp_path: Path,
    log_messages: list[str],
    damage: str,
) -> None:
    cfg = cached_config(config, tmp_path)
    async with Gateway(cfg, engines=gateway.engines) as gw:
        fresh, _ = await say(gw, "See you on Monday.")
    (path,) = cache_files(tmp_path)
    data = path.read_bytes()
    if damage == "corrupt":
        middle = len(data) // 2
        path.write_bytes(data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1 :])
    else:
        path.write_bytes(data[: len(data) - 1000])
    async with Gateway(cfg, engines=gateway.engines) as gw:
        audio, stream = await say(gw, "See you on Monday.")
    assert stream.cache == "miss"
    assert len(audio) == len(fresh)
    assert any("Dropped a corrupt file cache entry" in m for m in log_messages)
    decode_entry(path.name, path.read_bytes())  # rewritten, valid


# --- Redis ---------------------------------------------------------------------------------


@pytest.fixture
def redis_client(redis_server: RedisServer) -> redis.Redis:
    """A client of a running, empty Redis (a test before may have killed it)."""
    redis_server.start()
    client = redis.Redis.from_url(redis_server.url)
    client.flushdb()
    return client


async def test_redis_shares_entries_between_gateways_with_a_ttl(
    gateway: Gateway,
    config: GatewayConfig,
    tmp_path: Path,
    redis_server: RedisServer,
    redis_client: redis.Redis,
) -> None:
    text = "Your appointment is confirmed."
    one = cached_config(config, tmp_path / "one", redis_url=redis_server.url)
    async with Gateway(one, engines=gateway.engines) as gw:
        _, stream = await say(gw, text)
    assert stream.cache == "miss"
    (path,) = cache_files(tmp_path / "one")
    assert redis_client.keys("tts:*") == [f"tts:{path.name}".encode()]
    assert 3500 < redis_client.ttl(f"tts:{path.name}") <= config.prerender.ttl_seconds
    # Another process: its own memory and directory, the same Redis.
    two = replace(one, prerender=replace(one.prerender, cache_dir=str(tmp_path / "two")))
    async with Gateway(two, engines=gateway.engines) as gw:
        _, stream = await say(gw, text)
        assert stream.cache == "hit" and len(gw.cache.memory) == 1
    assert [p.name for p in cache_files(tmp_path / "two")] == [path.name]  # filled on the way


async def test_redis_killed_mid_run_then_used_again(
    gateway: Gateway,
    config: GatewayConfig,
    tmp_path: Path,
    redis_server: RedisServer,
    redis_client: redis.Redis,
    log_messages: list[str],
) -> None:
    cfg = cached_config(config, tmp_path, redis_url=redis_server.url, redis_retry_s=0.2)
    async with Gateway(cfg, engines=gateway.engines) as gw:
        assert (await say(gw, "One."))[1].cache == "miss"
        await gw.cache.flush()
        assert len(redis_client.keys("tts:*")) == 1
        redis_server.stop()
        for text in ("Two.", "Three."):
            audio, stream = await say(gw, text)
            assert audio.size and stream.cache == "miss"
        assert (await say(gw, "One."))[1].cache == "hit"
        await gw.cache.flush()
        warnings = [m for m in log_messages if m.startswith("WARNING") and "Redis" in m]
        assert len(warnings) == 1, warnings
        redis_server.start()
        for _ in range(100):
            if gw.cache.redis.available:
                break
            await asyncio.sleep(0.05)
        assert any("is back" in m for m in log_messages)
        await say(gw, "Four.")
        await gw.cache.flush()
    assert len(redis_client.keys("tts:*")) == 1  # the restarted Redis got the new entry


def _cli(*args: str, **env: str) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, "-m", "pipecat_tts_gateway", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_cli_say_twice_misses_then_hits_and_prerender_fills_redis(
    tmp_path: Path, redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    say_args = ("say", "Thanks for waiting.", "-o", str(tmp_path / "out.wav"))
    outcomes = [
        _cli(
            *say_args,
            TTS_GATEWAY_REDIS_URL=redis_server.url,
            TTS_GATEWAY_PRERENDER__CACHE_DIR=str(tmp_path / name),  # only Redis is shared
        )["cache"]
        for name in ("first", "second")
    ]
    assert outcomes == ["miss", "hit"]
    state = _cli(
        "prerender",
        TTS_GATEWAY_REDIS_URL=redis_server.url,
        TTS_GATEWAY_PRERENDER__CACHE_DIR=str(tmp_path / "third"),
        TTS_GATEWAY_PRERENDER__COMMON_PHRASES='["Goodbye for now."]',
        TTS_GATEWAY_PRERENDER__OPENERS='["Sure,"]',
    )
    assert state == {"state": "completed", "done": 2, "total": 2, "cached": 2}
    # Two phrases, and the opener for Kokoro's default voice and each English profile's voice.
    assert len(redis_client.keys("tts:*")) == 2 + 3
