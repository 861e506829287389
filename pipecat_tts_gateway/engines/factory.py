"""Build the engines a configuration asks for, resolving model files and the Russian stand-in."""

from __future__ import annotations

from pathlib import Path

from loguru import logger

from pipecat_tts_gateway.config import GatewayConfig
from pipecat_tts_gateway.engines.base import Engine
from pipecat_tts_gateway.engines.kokoro import KokoroEngine, KokoroFiles
from pipecat_tts_gateway.engines.piper import PiperEngine, PiperVoiceSpec
from pipecat_tts_gateway.errors import ConfigError, GatewayError
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
    """Construct and load every enabled engine.

    An engine whose files are missing is left out with one clear error in the log (naming the
    file and `tts-gateway models fetch`); the languages it served fall to the next route.
    """
    for section, known in ((config.primary_tts, "kokoro"), (config.fallback_tts, "piper")):
        if section.model_name != known:
            raise ConfigError(f"model_name {section.model_name!r} is unknown; use {known!r}")
    engines: dict[str, Engine] = {}
    if config.primary_tts.enabled:
        p = config.primary_tts
        kokoro = KokoroEngine(
            KokoroFiles(
                model_path=Path(p.model_path),
                duration_model_path=Path(p.duration_model_path),
                vocab_path=Path(p.vocab_path),
                voices_dir=Path(p.voices_dir),
                fp32_model_path=Path(p.fp32_model_path),
            ),
            default_voice=p.voice,
            threads=p.threads,
            backend=config.kokoro.backend,
        )
        _load_into(engines, kokoro)
    if config.fallback_tts.enabled:
        try:
            piper: Engine | None = PiperEngine(
                piper_voices(config), threads=config.fallback_tts.threads
            )
        except GatewayError as exc:
            logger.error("Piper is not available: {}", exc)
            piper = None
        if piper is not None:
            _load_into(engines, piper)
    return engines


def _load_into(engines: dict[str, Engine], engine: Engine) -> None:
    try:
        engine.load()
        engine.warm_up()
    except GatewayError as exc:
        logger.error("{} is not available: {}", engine.name, exc)
        return
    engines[engine.name] = engine
