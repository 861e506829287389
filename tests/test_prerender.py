"""Prerendered phrases and openers: the seed's log lines, the cache filled, requests served
meanwhile."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

from pipecat_tts_gateway import Gateway, GatewayConfig, SynthesisRequest
from tests.test_cache import RecordingEngine, cache_files, cached_config, say
from tests.wrapped_engines import WrappedEngine

PHRASES = ["Good morning!", "Добрый день!"]


def with_phrases(
    config: GatewayConfig, tmp_path: Path, phrases: list[str], openers: list[str] | None = None
) -> GatewayConfig:
    """A file-cached config that prerenders `phrases` and `openers` (none unless given)."""
    cfg = cached_config(config, tmp_path)
    return replace(
        cfg, prerender=replace(cfg.prerender, common_phrases=phrases, openers=openers or [])
    )


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


async def test_openers_render_for_every_default_voice_and_are_counted(
    gateway: Gateway, config: GatewayConfig, tmp_path: Path, log_messages: list[str]
) -> None:
    engines = {name: RecordingEngine(engine) for name, engine in gateway.engines.items()}
    cfg = with_phrases(config, tmp_path, ["Good morning!"], openers=["Sure,", "Конечно,"])
    async with Gateway(cfg, engines=engines) as gw:
        handled: list[str] = []
        assert await gw.prerender(progress=handled.append) == 3
        assert handled == ["Good morning!", "Sure,", "Конечно,"]
        assert [m for m in log_messages if m.startswith("INFO Prerender")] == [
            "INFO Prerendering 3 phrases...",
            "INFO Prerendered (1/3): Good morning!",
            "INFO Prerendered (2/3): Sure,",
            "INFO Prerendered (3/3): Конечно,",
            "INFO Prerendering completed",
        ]
        assert gw.prerender_state == {"state": "completed", "done": 3, "total": 3}
        # English: the default voice, the receptionist's and the narrator's; Russian: Piper at
        # the default speed and at the receptionist's.
        assert engines["kokoro"].texts == ["Good morning!"] + ["Sure,"] * 3
        assert engines["piper"].texts == ["Конечно,"] * 2
        await gw.cache.flush()
        assert len(cache_files(tmp_path)) == 1 + 3 + 2
        task = gw.start_prerender()  # at start, openers count too; all cached by now
        assert task is not None and gw.prerender_state["total"] == 3
        assert await task == 3
        assert len(engines["kokoro"].texts) == 4 and len(engines["piper"].texts) == 2
        # A profile's request starts from its own voice's opener.
        _, stream = await say(gw, "Конечно, ваш столик забронирован.", profile="receptionist")
        assert engines["piper"].texts[2:] == ["ваш столик забронирован."]
        assert stream.segments[0].engine == "piper"


async def test_an_opener_no_engine_speaks_fails_alone(
    gateway: Gateway, config: GatewayConfig, tmp_path: Path, log_messages: list[str]
) -> None:
    english = {"kokoro": gateway.engines["kokoro"]}
    async with Gateway(with_phrases(config, tmp_path, []), engines=english) as gw:
        assert await gw.prerender(openers=["Sure,", "Конечно,"]) == 1
        assert gw.prerender_state == {"state": "failed", "done": 2, "total": 2}
    assert any(m.startswith("ERROR Prerendering failed for 'Конечно,'") for m in log_messages)
