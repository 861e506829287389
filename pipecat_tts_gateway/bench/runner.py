"""The bench run: phases in an order that keeps each measurement clean.

Our engines load once and are shared by two gateways, one with the cache off (every request
really synthesizes) and one with a memory-only cache. Memory is measured before any peer model
is loaded, so the process then holds exactly our two engines. The peers and the HTTP server
come last. Everything speaks at one output rate (24 kHz, Pipecat's default), so no door pays
for resampling that another skips (Piper's 22.05 kHz is resampled in every door alike).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import platform
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import httpx
import psutil
import yaml
from loguru import logger
from tqdm import tqdm

from pipecat_tts_gateway.bench.http_door import ServerProcess, http_sample
from pipecat_tts_gateway.bench.results import (
    ConcurrencyRow,
    FloorRow,
    Results,
    Sample,
    TimingRow,
)
from pipecat_tts_gateway.bench.scenarios import SCENARIO_NAMES, scenario, varied_texts
from pipecat_tts_gateway.config import DEFAULT_CONFIG_PATH, GatewayConfig
from pipecat_tts_gateway.engines.base import CancelToken, Engine
from pipecat_tts_gateway.gateway import Gateway, SynthesisRequest
from pipecat_tts_gateway.text import chunk_text, clean_text

SAMPLE_RATE = 24000
# A chunk may arrive this late against real time before it counts as an underrun (scheduler
# jitter of the measuring loop itself, far below anything a listener hears).
UNDERRUN_TOLERANCE_S = 0.01
ENGINES = ("kokoro", "piper")


@dataclass(frozen=True)
class BenchOptions:
    """How much to measure.

    Attributes:
        out: Directory for RESULTS.md, results.json and the plots.
        reps: Measured requests per row (each row also gets one unmeasured warm request).
        requests: Requests in the memory trend.
        concurrency: Stream counts to run at once.
        scenarios: Scenario names to run.
        skip_peers: Leave out pipecat's KokoroTTSService and PiperTTSService.
        skip_http: Leave out the HTTP server.
        sweep: first_chunk_words values to compare (empty: no sweep).
        config: Base config file (default: config.yaml when present).
        command: The command line, for the report.
    """

    out: Path = Path("bench")
    reps: int = 5
    requests: int = 1000
    concurrency: tuple[int, ...] = (1, 2, 4, 8)
    scenarios: tuple[str, ...] = SCENARIO_NAMES
    skip_peers: bool = False
    skip_http: bool = False
    sweep: tuple[int, ...] = ()
    config: Path | None = None
    command: str = "tts-gateway bench"


def machine() -> dict[str, Any]:
    """CPU, cores, memory and library versions: what the numbers depend on."""
    cpu = platform.processor() or "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break

    def version(package: str) -> str:
        try:
            return metadata.version(package)
        except metadata.PackageNotFoundError:
            return "not installed"

    return {
        "cpu": cpu,
        "cores": psutil.cpu_count(logical=True),
        "physical_cores": psutil.cpu_count(logical=False),
        "ram_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "onnxruntime": version("onnxruntime"),
        "pipecat-ai": version("pipecat-ai"),
        "kokoro-onnx": version("kokoro-onnx"),
        "piper-tts": version("piper-tts"),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def rss_mb() -> float:
    """This process's resident memory."""
    return psutil.Process().memory_info().rss / 2**20


class PeakRss:
    """Samples RSS in a thread while active and keeps the highest value."""

    def __init__(self, interval_s: float = 0.05) -> None:
        self.peak_mb = 0.0
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(self._interval_s):
            self.peak_mb = max(self.peak_mb, rss_mb())

    def __enter__(self) -> PeakRss:
        self.peak_mb = rss_mb()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def write_config(base: Path | None, scratch: Path, name: str, **sections: dict[str, Any]) -> Path:
    """The base config with `sections` merged in, written to `scratch/name`.

    Every variant keeps the cache away from the user's cache directory and Redis, and turns
    prerendering off, so nothing but the bench's own requests fills the cache.
    """
    path = base if base is not None else DEFAULT_CONFIG_PATH
    data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else {}
    overrides: dict[str, dict[str, Any]] = {
        "prerender": {"enabled": False, "cache_dir": str(scratch / f"{name}-cache")},
        "cache": {"file_max_bytes": 0, "redis_url": ""},
        "streaming": {"sample_rate": SAMPLE_RATE},
        "server": {"max_concurrent": 8},
    }
    for section, values in sections.items():
        overrides.setdefault(section, {}).update(values)
    for section, values in overrides.items():
        data[section] = {**(data.get(section) or {}), **values}
    target = scratch / f"{name}.yaml"
    target.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return target


def load_config(path: Path) -> GatewayConfig:
    # Environment overrides are ignored: the report's config must be the one that ran.
    return GatewayConfig.load(path, environ={})


async def _fill(row: TimingRow, reps: int, measure: Callable[[], Awaitable[Sample]]) -> None:
    """One unmeasured request (warms code paths; fills the cache for cached rows), then reps."""
    label = f"{row.door} {row.system} {row.engine} {row.scenario}" + (
        " cached" if row.cached else ""
    )
    for i in tqdm(range(reps + 1), desc=label, leave=False):
        try:
            sample = await measure()
        except Exception as exc:
            row.errors += 1
            logger.warning("{}: {}: {}", label, type(exc).__name__, exc)
            continue
        if i:
            row.samples.append(sample)


async def inprocess_sample(gateway: Gateway, text: str) -> Sample:
    """Time one request through `Gateway.synthesize`, from the call to the last chunk."""
    start = time.perf_counter()
    first: float | None = None
    audio = 0.0
    async with gateway.synthesize(SynthesisRequest(text=text, sample_rate=SAMPLE_RATE)) as stream:
        async for chunk in stream:
            if first is None:
                first = time.perf_counter()
            audio += chunk.duration_s
    end = time.perf_counter()
    assert first is not None, "no audio"
    return Sample((first - start) * 1000.0, (end - start) * 1000.0, audio)


def first_chunk(config: GatewayConfig, text: str) -> str:
    """The first chunk the gateway would hand its engine for `text`."""
    streaming = config.streaming
    return chunk_text(
        clean_text(text, max_chars=streaming.max_text_chars),
        first_chunk_words=streaming.first_chunk_words,
        max_chunk_chars=streaming.max_chunk_chars,
    )[0]


def floor_ms(engine: Engine, text: str, language: str) -> float:
    """Bare inference: `Engine.pieces` up to its first piece, no gateway around it."""
    start = time.perf_counter()
    pieces = engine.pieces(text, engine.default_voice(language), 1.0, CancelToken())
    next(iter(pieces))
    elapsed = (time.perf_counter() - start) * 1000.0
    pieces.close()  # type: ignore[attr-defined]
    return elapsed


async def _stream_for_concurrency(gateway: Gateway, text: str) -> tuple[float, float, bool, float]:
    """(first audio ms, audio s, underrun, end time) of one of several simultaneous streams.

    An underrun: at some chunk's arrival, the audio received before it is shorter than the
    time since the first chunk arrived, so a player started at the first chunk ran dry.
    """
    start = time.perf_counter()
    first: float | None = None
    audio = 0.0
    underrun = False
    async with gateway.synthesize(SynthesisRequest(text=text, sample_rate=SAMPLE_RATE)) as stream:
        async for chunk in stream:
            now = time.perf_counter()
            if first is None:
                first = now
            elif audio < now - first - UNDERRUN_TOLERANCE_S:
                underrun = True
            audio += chunk.duration_s
    assert first is not None, "no audio"
    return (first - start) * 1000.0, audio, underrun, time.perf_counter()


class Bench:
    """One run; `run()` measures every phase and returns the results."""

    def __init__(self, options: BenchOptions, scratch: Path) -> None:
        self.options = options
        self.scratch = scratch
        self.results = Results(
            command=options.command,
            machine=machine(),
            options={k: str(v) for k, v in asdict(options).items()},
        )
        self.off_path = write_config(options.config, scratch, "uncached", cache={"enabled": False})
        self.on_path = write_config(options.config, scratch, "cached", cache={"enabled": True})
        self.off_config = load_config(self.off_path)
        self.on_config = load_config(self.on_path)
        self.engines: dict[str, Engine] = {}

    def _scenarios(self, engine: str) -> Iterator[tuple[str, str]]:
        for name in self.options.scenarios:
            yield name, scenario(engine, name).text

    async def run(self) -> Results:
        started = time.perf_counter()
        from pipecat_tts_gateway.engines.factory import build_engines

        logger.info("loading engines")
        self.engines = await asyncio.to_thread(build_engines, self.off_config)
        missing = [e for e in ENGINES if e not in self.engines]
        if missing:
            raise RuntimeError(f"engines not loaded: {missing}; run `tts-gateway models fetch`")
        off = Gateway(self.off_config, engines=self.engines)
        on = Gateway(self.on_config, engines=self.engines)
        async with off, on:
            gc.collect()
            self.results.memory.idle_mb = rss_mb()
            await self._inprocess(off, on)
            self._floors()
            await self._concurrency(off)
            await self._memory_trend(off)
            await self._pipecat_ours(off, on)
            if self.options.sweep:
                from pipecat_tts_gateway.bench.sweep import first_chunk_sweep

                self.results.sweep = await first_chunk_sweep(
                    self.engines, self.off_path, self.options.sweep, self.options.reps
                )
        if not self.options.skip_peers:
            await self._peers()
        if not self.options.skip_http:
            await self._http()
        self.results.duration_s = time.perf_counter() - started
        return self.results

    async def _inprocess(self, off: Gateway, on: Gateway) -> None:
        logger.info("in-process first audio and real-time factor")
        for engine in ENGINES:
            for name, text in self._scenarios(engine):
                for gateway, cached in ((off, False), (on, True)):
                    row = self.results.row("in-process", "ours", engine, name, cached)
                    await _fill(
                        row, self.options.reps, lambda g=gateway, t=text: inprocess_sample(g, t)
                    )

    def _floors(self) -> None:
        logger.info("compute floor: bare inference of each first chunk")
        for engine_name in ENGINES:
            engine = self.engines[engine_name]
            for name, text in self._scenarios(engine_name):
                chunk = first_chunk(self.off_config, text)
                language = "en" if engine_name == "kokoro" else "ru"
                floor_ms(engine, chunk, language)  # warm, as the gateway rows were
                row = FloorRow(engine_name, name, chunk)
                row.floor_ms = [floor_ms(engine, chunk, language) for _ in range(self.options.reps)]
                self.results.floors.append(row)

    async def _concurrency(self, off: Gateway) -> None:
        logger.info("concurrent Kokoro streams (LLM turn, cache off)")
        text = scenario("kokoro", "turn").text
        rounds = self.options.reps
        with PeakRss() as peak:
            for streams in self.options.concurrency:
                row = ConcurrencyRow(streams, rounds)
                for _ in tqdm(range(rounds), desc=f"{streams} streams", leave=False):
                    start = time.perf_counter()
                    outcomes = await asyncio.gather(
                        *(_stream_for_concurrency(off, text) for _ in range(streams)),
                        return_exceptions=True,
                    )
                    ends = [start]
                    for outcome in outcomes:
                        if isinstance(outcome, BaseException):
                            row.errors += 1
                            logger.warning("concurrent stream failed: {}", outcome)
                            continue
                        first_ms, audio, underrun, end = outcome
                        row.first_audio_ms.append(first_ms)
                        row.audio_s += audio
                        row.underruns += underrun
                        ends.append(end)
                    row.wall_s += max(ends) - start
                self.results.concurrency.append(row)
        self.results.memory.load_peak_mb = peak.peak_mb

    async def _memory_trend(self, off: Gateway) -> None:
        n = self.options.requests
        memory = self.results.memory
        every = max(1, min(100, n // 10))
        logger.info("memory trend over {} varied requests (cache off)", n)
        memory.requests = n
        memory.trend = [(0, rss_mb())]
        texts = varied_texts()
        for i in tqdm(range(1, n + 1), desc="memory trend", leave=False):
            try:
                await off.synthesize_all(SynthesisRequest(text=next(texts)))
            except Exception as exc:
                memory.errors += 1
                logger.warning("memory trend request failed: {}", exc)
            if i % every == 0:
                memory.trend.append((i, rss_mb()))

    async def _pipecat_ours(self, off: Gateway, on: Gateway) -> None:
        from pipecat_tts_gateway.bench.pipeline import PipecatHarness
        from pipecat_tts_gateway.pipecat import GatewayTTSService

        logger.info("our GatewayTTSService in a Pipecat pipeline")
        greeting = scenario("kokoro", "greeting").text
        for gateway, cached in ((off, False), (on, True)):
            service = GatewayTTSService(gateway=gateway, greeting=greeting if cached else None)
            async with PipecatHarness(
                service, sample_rate=SAMPLE_RATE, expect_greeting=cached
            ) as harness:
                if harness.greeting_ms is not None:
                    self.results.greeting_after_start_ms.append(harness.greeting_ms)
                for engine in ENGINES:
                    for name, text in self._scenarios(engine):
                        row = self.results.row("pipecat", "ours", engine, name, cached)
                        await _fill(row, self.options.reps, lambda t=text: harness.speak(t))

    async def _peers(self) -> None:
        from pipecat_tts_gateway.bench.peers import kokoro_peer, piper_peer
        from pipecat_tts_gateway.bench.pipeline import PipecatHarness

        logger.info("pipecat's own KokoroTTSService and PiperTTSService, same weights and voices")
        builders = {
            "kokoro": (
                "KokoroTTSService",
                lambda: kokoro_peer(
                    self.off_config, self.scratch, self.off_config.primary_tts.voice
                ),
            ),
            "piper": ("PiperTTSService", lambda: piper_peer(self.off_config, self.scratch, "ru")),
        }
        for engine, (system, build) in builders.items():
            service = await asyncio.to_thread(build)
            async with PipecatHarness(service, sample_rate=SAMPLE_RATE) as harness:
                for name, text in self._scenarios(engine):
                    row = self.results.row("pipecat", system, engine, name, False)
                    await _fill(row, self.options.reps, lambda t=text: harness.speak(t))

    async def _http(self) -> None:
        logger.info("HTTP: a `tts-gateway serve` subprocess, streaming s16le")
        root = Path.cwd()
        for path, cached in ((self.off_path, False), (self.on_path, True)):
            log = self.scratch / f"server-{'cached' if cached else 'uncached'}.log"
            with ServerProcess(path, log, root) as server:
                if not cached:
                    self.results.memory.server_idle_mb = server.rss_mb()
                async with httpx.AsyncClient(base_url=server.url, timeout=300.0) as client:
                    for engine in ENGINES:
                        for name, text in self._scenarios(engine):
                            row = self.results.row("http", "ours", engine, name, cached)
                            await _fill(
                                row,
                                self.options.reps,
                                lambda t=text: http_sample(client, t, SAMPLE_RATE),
                            )
                if not cached:
                    self.results.memory.server_after_mb = server.rss_mb()


async def run_bench(options: BenchOptions) -> Results:
    """Measure everything, write RESULTS.md, results.json and the plots into `options.out`."""
    from pipecat_tts_gateway.bench.report import write_report

    with tempfile.TemporaryDirectory(prefix="tts-bench-") as scratch:
        results = await Bench(options, Path(scratch)).run()
    options.out.mkdir(parents=True, exist_ok=True)
    (options.out / "results.json").write_text(
        json.dumps(asdict(results), indent=1, ensure_ascii=False), encoding="utf-8"
    )
    write_report(results, options.out)
    return results
