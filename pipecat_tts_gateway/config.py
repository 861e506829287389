"""Typed configuration: `config.yaml` (the seed's keys plus ours) overridden by `TTS_GATEWAY_*`.

Every section is a frozen dataclass, so a typo in the file is an error that names the key rather
than a setting silently ignored. Environment overrides exist for containers and CI, where editing
the file is awkward: `TTS_GATEWAY_<SECTION>__<FIELD>` (e.g. `TTS_GATEWAY_STREAMING__LOOKAHEAD=3`)
for any scalar field, `TTS_GATEWAY_<FIELD>` for top-level ones, plus the short aliases in
`ENV_ALIASES`.
"""

from __future__ import annotations

import dataclasses
import os
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml

from pipecat_tts_gateway.errors import ConfigError

ENV_PREFIX = "TTS_GATEWAY_"
DEFAULT_CONFIG_PATH = Path("config.yaml")

# Short names for the settings people change most; the long form works for these too.
ENV_ALIASES: dict[str, tuple[str, ...]] = {
    "TTS_GATEWAY_REDIS_URL": ("cache", "redis_url"),
    "TTS_GATEWAY_MODELS_DIR": ("models_dir",),
    "TTS_GATEWAY_API_KEY": ("server", "api_key"),
}


@dataclass(frozen=True)
class PrimaryTTSConfig:
    """Kokoro-82M, the English engine.

    Attributes:
        enabled: Load Kokoro at all (off leaves English to Piper's English voice).
        model_name: Engine name; only "kokoro" is known.
        model_path: The int8 ONNX model.
        duration_model_path: The same model with a `duration` output, for word timestamps. Used
            instead of model_path when present (its audio is bit-identical).
        fp32_model_path: The duration model with its int8 weights dequantized to fp32, which
            the OpenVINO backend runs (in bf16 where the CPU has it).
        vocab_path: Phoneme symbol → token id map.
        voices_dir: Directory of `<voice>.bin` style tables.
        voice: Default English voice; a blend such as "af_heart:0.7+am_michael:0.3" is allowed.
        speed: Default speed, 0.5-2.0.
        threads: ONNX Runtime intra-op threads for this engine.
    """

    enabled: bool = True
    model_name: str = "kokoro"
    model_path: str = "models/kokoro-v1.0.int8.onnx"
    duration_model_path: str = "models/kokoro-v1.0.int8.duration.onnx"
    fp32_model_path: str = "models/kokoro-v1.0.fp32.duration.onnx"
    vocab_path: str = "models/kokoro-vocab.json"
    voices_dir: str = "models/kokoro-voices"
    voice: str = "af_heart"
    speed: float = 1.0
    threads: int = 2


KOKORO_BACKENDS = ("auto", "openvino", "onnxruntime")


@dataclass(frozen=True)
class KokoroConfig:
    """How Kokoro runs (its files and voice are in `primary_tts`, the seed's block).

    Attributes:
        backend: "openvino" runs the fp32 model in bf16 (1.35-1.5x faster than onnxruntime on
            a CPU with bf16, same intelligibility); "onnxruntime" runs the int8 model;
            "auto" picks OpenVINO where it is installed and the CPU has bf16, else
            onnxruntime (OpenVINO in f32 was measured no faster). A backend that cannot load
            falls back to onnxruntime with a warning.
    """

    backend: str = "auto"

    def __post_init__(self) -> None:
        if self.backend not in KOKORO_BACKENDS:
            known = ", ".join(KOKORO_BACKENDS)
            raise ConfigError(f"kokoro.backend {self.backend!r} is unknown; use one of {known}")


@dataclass(frozen=True)
class FallbackTTSConfig:
    """Piper: Russian (the seed's block) plus extra voices per language.

    Attributes:
        enabled: Load Piper at all.
        model_name: Engine name; only "piper" is known.
        model_path: The Russian voice (seed default: ru_RU-dmitri-medium). When it is absent the
            offline stand-in from `tts-gateway models fetch` is used instead, and logged as such.
        config_path: The voice's `.onnx.json`.
        sample_rate: The voice's native rate as the seed declared it; a mismatch with the voice's
            own config is logged (the voice config wins).
        speed: Default speed for Piper voices, 0.5-2.0.
        voices: More Piper voices as language → model path (config beside it, `.onnx.json`).
        threads: ONNX Runtime intra-op threads for this engine.
    """

    enabled: bool = True
    model_name: str = "piper"
    model_path: str = "models/ru_RU-dmitri-medium.onnx"
    config_path: str = "models/ru_RU-dmitri-medium.onnx.json"
    sample_rate: int = 22050
    speed: float = 1.0
    voices: dict[str, str] = field(default_factory=lambda: {"en": "models/en_US-joe-medium.onnx"})
    threads: int = 2


@dataclass(frozen=True)
class RouteConfig:
    """One step of a language's engine chain.

    Attributes:
        engine: "kokoro" or "piper".
        voice: A voice of that engine; empty means the engine's voice for the language.
        speed: Speed for this route; 0 means the engine's default.
    """

    engine: str
    voice: str = ""
    speed: float = 0.0


@dataclass(frozen=True)
class StreamingConfig:
    """How text becomes chunks and how far synthesis runs ahead of playback.

    Attributes:
        first_chunk_words: Most words in the first chunk (first audio comes sooner when short).
        max_chunk_chars: Longest later chunk; longer sentences split at clauses, then words.
            An engine's working memory grows with the longest audio it rendered in one call
            (OpenVINO Kokoro kept about 30 MB per second of it): 100 characters (about 6 s)
            held the gateway's peak 75 MB lower than 150 and 300 MB lower than 300, at the
            same real-time factor (flat from 80 to 150 characters).
        lookahead: Chunks synthesized ahead of the one being consumed.
        max_text_chars: Longest accepted text.
        engine_timeout_s: A chunk taking longer than this counts as an engine failure.
        retry_interval_s: How often an unhealthy engine is probed in the background.
        sample_rate: Default output rate when a request names none.
    """

    first_chunk_words: int = 6
    max_chunk_chars: int = 100
    lookahead: int = 2
    max_text_chars: int = 20000
    engine_timeout_s: float = 30.0
    retry_interval_s: float = 15.0
    sample_rate: int = 22050


DEFAULT_OPENERS = (
    "Sure,",
    "Of course,",
    "Of course.",
    "Okay,",
    "Certainly,",
    "Thank you for calling,",
    "Let me check that for you.",
    "One moment, please.",
    "Конечно,",
    "Хорошо,",
    "Одну минуту.",
    "Спасибо за звонок,",
)
"""Where answers of voice agents most often begin, in English and Russian."""


@dataclass(frozen=True)
class PrerenderConfig:
    """The seed's prerender block: phrases rendered into the cache at start.

    Attributes:
        enabled: Render `common_phrases` at start, in the background while requests are served
            (`Gateway.start_prerender()`, called by the long-running doors).
        cache_dir: Directory of the file cache tier.
        ttl_seconds: Lifetime of cache entries in every tier, counted from synthesis; 0 means
            they never expire.
        common_phrases: Phrases to render (with the default routing, as a plain request would).
        openers: Common first clauses of an answer ("Sure,", "One moment, please."), rendered
            at start as chunks for every default voice; a text that begins with one is cut
            right after it, so that chunk is a cache hit while the rest renders.
    """

    enabled: bool = True
    cache_dir: str = "cache/tts"
    ttl_seconds: int = 3600
    common_phrases: list[str] = field(default_factory=list)
    openers: list[str] = field(default_factory=lambda: list(DEFAULT_OPENERS))


@dataclass(frozen=True)
class CacheConfig:
    """The segment audio cache: memory → files → Redis (directory and TTL: `prerender`).

    Attributes:
        enabled: Cache at all; off makes every request synthesize (and prerender a no-op).
        memory_max_bytes: Budget of the in-process tier (LRU). 64 MiB holds about 11 minutes
            of 24 kHz audio, far more than an agent's stock phrases.
        file_max_bytes: Budget of the file tier in `prerender.cache_dir` (LRU); 0 turns the file
            tier off (memory and Redis only).
        redis_url: Redis shared by several gateway processes, e.g. `redis://localhost:6379/0`
            (also `TTS_GATEWAY_REDIS_URL`). Empty: no Redis tier.
        redis_timeout_s: Connect and read timeout of each Redis call; a slower Redis counts as
            down, so a sick Redis costs a request at most this once.
        redis_retry_s: How often a Redis that went down is probed to be used again.
    """

    enabled: bool = True
    memory_max_bytes: int = 64 * 2**20
    file_max_bytes: int = 512 * 2**20
    redis_url: str = ""
    redis_timeout_s: float = 1.0
    redis_retry_s: float = 5.0

    def __post_init__(self) -> None:
        for name in ("memory_max_bytes", "file_max_bytes"):
            if getattr(self, name) < 0:
                raise ConfigError(f"cache.{name} must not be negative")
        for name in ("redis_timeout_s", "redis_retry_s"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"cache.{name} must be positive")


@dataclass(frozen=True)
class ServerConfig:
    """The HTTP door (`tts-gateway serve`).

    Attributes:
        host: Interface to bind; loopback by default so nothing is exposed by accident.
        port: TCP port.
        api_key: When set, every endpoint but /health needs `Authorization: Bearer <key>`
            (also `TTS_GATEWAY_API_KEY`). Empty means no authentication.
        max_concurrent: Syntheses running at once; more only slice the same CPU cores thinner.
        max_queue: Requests waiting for a slot; past it a request gets 503 with Retry-After
            instead of queueing memory without bound.
        queue_timeout_s: Longest wait for a slot before 503.
        retry_after_s: The Retry-After a 503 suggests.
        max_body_bytes: Largest request body read (413 past it), before any JSON parsing.
    """

    host: str = "127.0.0.1"
    port: int = 8002
    api_key: str = ""
    max_concurrent: int = 4
    max_queue: int = 64
    queue_timeout_s: float = 60.0
    retry_after_s: int = 2
    max_body_bytes: int = 1_048_576

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"server.port: {self.port} is not a TCP port")
        for name in ("max_concurrent", "queue_timeout_s", "retry_after_s", "max_body_bytes"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"server.{name} must be positive")
        if self.max_queue < 0:
            raise ConfigError("server.max_queue must not be negative")


@dataclass(frozen=True)
class WyomingConfig:
    """The Wyoming door for Home Assistant (`tts-gateway serve --wyoming-port`).

    Attributes:
        port: TCP port; 0 (the default) leaves the door closed. 10200 is the convention of
            Wyoming TTS servers. It binds to `server.host`.
    """

    port: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"wyoming.port: {self.port} is not a TCP port")


def _default_routing() -> dict[str, list[RouteConfig]]:
    return {
        "en": [RouteConfig(engine="kokoro"), RouteConfig(engine="piper")],
        "ru": [RouteConfig(engine="piper")],
    }


@dataclass(frozen=True)
class GatewayConfig:
    """The whole configuration.

    Attributes:
        models_dir: Where `tts-gateway models fetch` puts model files.
        default_language: Language for text with no letters ("12:30") when none is requested.
        primary_tts: Kokoro settings.
        kokoro: Kokoro's inference backend.
        fallback_tts: Piper settings.
        routing: Language → ordered engine chain; the first healthy route speaks, the next ones
            take over when it fails.
        profiles: Named voice profiles: profile → language → route. A profile's route goes first
            in that language's chain; the configured chain stays behind it as fallback.
        streaming: Chunking and look-ahead.
        prerender: The seed's prerender block.
        cache: The segment audio cache.
        server: The HTTP door.
        wyoming: The Wyoming door.
    """

    models_dir: str = "models"
    default_language: str = "en"
    primary_tts: PrimaryTTSConfig = field(default_factory=PrimaryTTSConfig)
    kokoro: KokoroConfig = field(default_factory=KokoroConfig)
    fallback_tts: FallbackTTSConfig = field(default_factory=FallbackTTSConfig)
    routing: dict[str, list[RouteConfig]] = field(default_factory=_default_routing)
    profiles: dict[str, dict[str, RouteConfig]] = field(default_factory=dict)
    streaming: StreamingConfig = field(default_factory=StreamingConfig)
    prerender: PrerenderConfig = field(default_factory=PrerenderConfig)
    cache: CacheConfig = field(default_factory=CacheConfig)
    server: ServerConfig = field(default_factory=ServerConfig)
    wyoming: WyomingConfig = field(default_factory=WyomingConfig)

    @classmethod
    def load(
        cls, path: str | Path | None = None, *, environ: Mapping[str, str] | None = None
    ) -> GatewayConfig:
        """Load a YAML file (or defaults when there is none) and apply env overrides.

        Args:
            path: YAML file. None means `TTS_GATEWAY_CONFIG`, else `config.yaml` if it exists.
            environ: Environment to read overrides from (default: os.environ).

        Raises:
            ConfigError: The file is unreadable, or a key is unknown or has the wrong type.
        """
        env = os.environ if environ is None else environ
        if path is None:
            path = env.get(f"{ENV_PREFIX}CONFIG") or (
                DEFAULT_CONFIG_PATH if DEFAULT_CONFIG_PATH.exists() else None
            )
        data: dict[str, Any] = {}
        if path is not None:
            try:
                loaded = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
            except (OSError, yaml.YAMLError) as exc:
                raise ConfigError(f"cannot read config {path}: {exc}") from exc
            if loaded is not None and not isinstance(loaded, dict):
                raise ConfigError(f"config {path}: the top level must be a mapping")
            data = loaded or {}
        _apply_env(data, env)
        return _build(cls, data, "")


T = TypeVar("T")


def _apply_env(data: dict[str, Any], env: Mapping[str, str]) -> None:
    for name, value in env.items():
        if not name.startswith(ENV_PREFIX) or name == f"{ENV_PREFIX}CONFIG":
            continue
        if name in ENV_ALIASES:
            keys = ENV_ALIASES[name]
        else:
            keys = tuple(k.lower() for k in name[len(ENV_PREFIX) :].split("__"))
        node = data
        for key in keys[:-1]:
            child = node.setdefault(key, {})
            if not isinstance(child, dict):
                raise ConfigError(f"{name}: {'.'.join(keys)} does not name a setting")
            node = child
        node[keys[-1]] = _EnvValue(value)


class _EnvValue(str):
    """An environment string: typed like YAML ("3" → 3, "true" → True) unless a str is wanted,
    so TTS_GATEWAY_API_KEY=12345 stays the string "12345"."""

    def parsed(self) -> Any:
        try:
            return yaml.safe_load(self) if self.strip() else ""
        except yaml.YAMLError:
            return str(self)  # reported as a wrong type by the caller


def _build(cls: type[T], data: Any, where: str) -> T:
    if not isinstance(data, dict):
        raise ConfigError(f"{where or 'config'}: expected a mapping, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - names)
    if unknown:
        key = f"{where}.{unknown[0]}" if where else unknown[0]
        raise ConfigError(f"unknown config key: {key} (known: {', '.join(sorted(names))})")
    values = {k: _coerce(hints[k], v, f"{where}.{k}" if where else k) for k, v in data.items()}
    try:
        return cls(**values)
    except TypeError as exc:  # a required field is missing
        raise ConfigError(f"{where or 'config'}: {exc}") from exc


def _coerce(tp: Any, value: Any, where: str) -> Any:
    if isinstance(value, _EnvValue):
        value = str(value) if tp is str else value.parsed()
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, where)
    if origin is dict:
        key_tp, val_tp = typing.get_args(tp)
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {type(value).__name__}")
        return {
            _coerce(key_tp, k, where): _coerce(val_tp, v, f"{where}.{k}") for k, v in value.items()
        }
    if origin is list:
        (item_tp,) = typing.get_args(tp)
        if not isinstance(value, list):
            raise ConfigError(f"{where}: expected a list, got {type(value).__name__}")
        return [_coerce(item_tp, v, f"{where}[{i}]") for i, v in enumerate(value)]
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp is bool and not isinstance(value, bool):
        raise ConfigError(f"{where}: expected true or false, got {value!r}")
    if tp in (int, float) and isinstance(value, bool):
        raise ConfigError(f"{where}: expected a number, got {value!r}")
    if not isinstance(value, tp):
        raise ConfigError(f"{where}: expected {tp.__name__}, got {type(value).__name__} {value!r}")
    return value
