"""Prerendered phrases: the seed's log lines, the cache filled, requests served meanwhile."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

from pipecat_tts_gateway import Gateway, GatewayConfig, SynthesisRequest
from tests.test_cache import cache_files, cached_config, say
from tests.wrapped_engines import WrappedEngine

PHRASES = ["Good morning!", "Добрый день!"]


def with_phrases(config: GatewayConfig, tmp_path: Path, phrases: list[str]) -> GatewayConfig:
    cfg = cached_config(config, tmp_path)
    return replace(cfg, prerender=replace(cfg.prerender, common_phrases=phrases))


async def test_prerender_logs_the_seed_lines_and_fills_the_cache(
    gateway: Gateway, config: GatewayConfig, tmp_path: Path, log_messages: list[str]
) -> None:
    engines = {name: WrappedEngine(engine) for name, engine in gateway.engines.items()}
    async with Gateway(with_phrases(config, tmp_path, PHRASES), engines=engines) as gw:
        assert gw.prerender_state == {"state": "idle", "done": 0, "total": 0}
        assert await gw.prerender() == 2
        assert [m for m in log_messages if m.startswith("INFO Prerender")] == [
            "INFO Prerendering 2 phrases...",
            "INFO Prerendered (1/2): Good morning!",
            "INFO Prerendered (2/2): Добрый день!",
            "INFO Prerendering completed",
        ]
        assert gw.prerender_state == {"state": "completed", "done": 2, "total": 2}
        rendered = sum(e.calls for e in engines.values())
        assert await gw.prerender() == 2  # already cached: skipped, nothing synthesized
        # A plain request for a prerendered phrase, at another rate, is a hit.
        for phrase in PHRASES:
            stream = gw.synthesize(SynthesisRequest(text=phrase, sample_rate=16000))
            async with stream:
                assert (await anext(stream)).samples.size
            assert stream.cache == "hit"
        assert sum(e.calls for e in engines.values()) == rendered
        await gw.cache.flush()
    assert len(cache_files(tmp_path)) == 2


async def test_background_prerender_serves_requests_meanwhile(
    gateway: Gateway, config: GatewayConfig, tmp_path: Path
) -> None:
    cfg = with_phrases(config, tmp_path, ["One moment, please.", "Спасибо за звонок."])
    async with Gateway(cfg, engines=gateway.engines) as gw:
        task = gw.start_prerender()
        assert task is not None and gw.start_prerender() is task
        assert gw.prerender_state["state"] == "running"
        audio, stream = await say(gw, "Hello, caller.")
        assert audio.size and stream.cache == "miss"
        assert await task == 2
        assert gw.prerender_state == {"state": "completed", "done": 2, "total": 2}
    off = replace(cfg, prerender=replace(cfg.prerender, enabled=False))
    async with Gateway(off, engines=gateway.engines) as gw:
        assert gw.start_prerender() is None


async def test_a_bad_phrase_fails_alone_and_closing_cancels(
    gateway: Gateway, config: GatewayConfig, tmp_path: Path, log_messages: list[str]
) -> None:
    cfg = with_phrases(config, tmp_path, ["...", "Good morning!"])
    async with Gateway(cfg, engines=gateway.engines) as gw:
        assert await gw.prerender(["..."]) == 0
        assert gw.prerender_state == {"state": "failed", "done": 1, "total": 1}
        assert any(m.startswith("ERROR Prerendering failed for '...'") for m in log_messages)
        task = gw.start_prerender()
        assert task is not None
    await asyncio.gather(task, return_exceptions=True)
    assert task.cancelled() and gw.prerender_state["state"] == "failed"
    off = replace(cfg, cache=replace(cfg.cache, enabled=False))
    async with Gateway(off, engines=gateway.engines) as gw:
        assert await gw.prerender() == 0 and gw.start_prerender() is None
