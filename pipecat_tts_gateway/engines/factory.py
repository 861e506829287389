"""Build the engines a configuration asks for, resolving model files and the Russian stand-in."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Hashable
from pathlib import Path

from loguru import logger

from pipecat_tts_gateway.config import GatewayConfig
from pipecat_tts_gateway.engines.base import Engine
from pipecat_tts_gateway.engines.kokoro import KokoroEngine, KokoroFiles
from pipecat_tts_gateway.engines.piper import PiperEngine, PiperVoiceSpec
from pipecat_tts_gateway.engines.registry import REGISTRY, EngineLease, EngineRegistry
from pipecat_tts_gateway.errors import ConfigError, GatewayError
from pipecat_tts_gateway.memory import map_large_blocks
from pipecat_tts_gateway.models import russian_piper_voice


def piper_voices(config: GatewayConfig) -> list[PiperVoiceSpec]:
    """The seed's Russian voice (or its offline stand-in) plus `fallback_tts.voices`."""
    fb = config.fallback_tts
    model, conf = Path(fb.model_path), Path(fb.config_path)
    standin = False
    if not (model.exists() and conf.exists()):
        model, conf, standin = russian_piper_voice(Path(config.models_dir))
        logger.warning(
            "{} is absent: Russian is spoken by the offline stand-in {} (see README)",
            fb.model_path,
            conf.name,
        )
    specs = [PiperVoiceSpec(_voice_name(conf), "ru", model, conf, standin)]
    for language, path in fb.voices.items():
        voice_model = Path(path)
        specs.append(
            PiperVoiceSpec(_voice_name(voice_model), language, voice_model, Path(f"{path}.json"))
        )
    return specs


def _voice_name(path: Path) -> str:
    """`models/en_US-joe-medium.onnx(.json)` → `en_US-joe-medium`."""
    return path.name.removesuffix(".json").removesuffix(".onnx")


def build_engines(config: GatewayConfig) -> dict[str, Engine]:
    """Construct and load every enabled engine, private to the caller (not shared).

    An engine whose files are missing is left out with one clear error in the log (naming the
    file and `tts-gateway models fetch`); the languages it served fall to the next route.
    """
    engines: dict[str, Engine] = {}
    for _, make in _recipes(config):
        engine = _loaded(make)
        if engine is not None:
            engines[engine.name] = engine
    return engines


def acquire_engines(config: GatewayConfig, registry: EngineRegistry = REGISTRY) -> EngineLease:
    """Every enabled engine, loaded once per process: a gateway over the same model files and
    backend settings as one already holding them gets the same objects (see `registry`).

    Engines that cannot load are left out as in `build_engines`.
    """
    engines: dict[str, Engine] = {}
    keys: list[Hashable] = []
    for key, make in _recipes(config):
        try:
            engine = registry.acquire(key, lambda make=make: _load(make()))
        except GatewayError as exc:
            logger.error("{} is not available: {}", key[0], exc)
            continue
        engines[engine.name] = engine
        keys.append(key)
    return EngineLease(engines, tuple(keys), registry)


def _recipes(config: GatewayConfig) -> list[tuple[tuple[Hashable, ...], Callable[[], Engine]]]:
    """(registry key, constructor) of each enabled engine; the key holds every argument."""
    for section, known in ((config.primary_tts, "kokoro"), (config.fallback_tts, "piper")):
        if section.model_name != known:
            raise ConfigError(f"model_name {section.model_name!r} is unknown; use {known!r}")
    recipes: list[tuple[tuple[Hashable, ...], Callable[[], Engine]]] = []
    if config.primary_tts.enabled:
        p = config.primary_tts
        files = KokoroFiles(
            model_path=Path(p.model_path),
            duration_model_path=Path(p.duration_model_path),
            vocab_path=Path(p.vocab_path),
            voices_dir=Path(p.voices_dir),
            fp32_model_path=Path(p.fp32_model_path),
        )
        backend = config.kokoro.backend
        recipes.append(
            (
                ("kokoro", _absolute(files), p.voice, p.threads, backend),
                lambda: KokoroEngine(
                    files, default_voice=p.voice, threads=p.threads, backend=backend
                ),
            )
        )
    if config.fallback_tts.enabled:
        threads = config.fallback_tts.threads
        try:
            voices = tuple(piper_voices(config))
        except GatewayError as exc:
            logger.error("Piper is not available: {}", exc)
        else:
            recipes.append(
                (
                    ("piper", tuple(_absolute(v) for v in voices), threads),
                    lambda: PiperEngine(list(voices), threads=threads),
                )
            )
    return recipes


def _absolute(spec: KokoroFiles | PiperVoiceSpec) -> tuple[object, ...]:
    """A spec's fields with paths made absolute: config paths are relative to the cwd."""
    return tuple(v.resolve() if isinstance(v, Path) else v for v in dataclasses.astuple(spec))


def _load(engine: Engine) -> Engine:
    map_large_blocks()
    engine.load()
    engine.warm_up()
    return engine


def _loaded(make: Callable[[], Engine]) -> Engine | None:
    engine = make()
    try:
        return _load(engine)
    except GatewayError as exc:
        logger.error("{} is not available: {}", engine.name, exc)
        return None
