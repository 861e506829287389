"""What GET /health and GET /voices report, read from the gateway (never computed here)."""

from __future__ import annotations

from typing import Any

from pipecat_tts_gateway.gateway import Gateway
from pipecat_tts_gateway.server.admission import Admission
from pipecat_tts_gateway.server.openai_compat import OPENAI_VOICES, resolve_voice


def health(gateway: Gateway, admission: Admission) -> dict[str, Any]:
    """Engines with their models, cache tiers, prerender progress, load and real-time margin.

    Stand-in voices are flagged by the engine's own description; the cache's "redis" is "up",
    "down" or None when none is configured.
    """
    unhealthy = gateway.health.unhealthy
    engines: dict[str, Any] = {}
    for name, engine in gateway.engines.items():
        info = engine.describe()
        info["models"] = sorted({engine.model_id(voice) for voice in engine.voices()})
        info["healthy"] = name not in unhealthy
        if name in unhealthy:
            info["error"] = unhealthy[name]
        engines[name] = info
    return {
        "status": "ok" if not unhealthy else "degraded",
        "engines": engines,
        "languages": list(gateway.router.languages),
        "cache": gateway.cache.describe() if gateway.cache is not None else {"enabled": False},
        "prerender": gateway.prerender_state,
        "load": {
            "active": admission.active,
            "queued": admission.queued,
            "max_concurrent": admission.max_concurrent,
            "max_queue": admission.max_queue,
        },
        "realtime": realtime(gateway, admission),
    }


def realtime(gateway: Gateway, admission: Admission) -> dict[str, Any]:
    """Whether the machine keeps up: streams it can carry in real time against those running,
    and how often a listener ran dry (`underruns`, with the silence they caused)."""
    capacity = gateway.realtime_capacity_streams()
    return {
        "realtime_capacity_streams": capacity,
        "keeping_up": capacity is None or admission.active <= capacity,
        "underruns": gateway.pacing.underruns,
        "stall_s": round(gateway.pacing.stall_s, 3),
    }


def voices(gateway: Gateway) -> dict[str, Any]:
    """Voices per engine and language, profiles, and what each OpenAI voice name maps to."""
    by_engine: dict[str, dict[str, list[str]]] = {}
    for name, engine in gateway.engines.items():
        per_language: dict[str, list[str]] = {}
        for voice in engine.voices():
            per_language.setdefault(engine.voice_language(voice), []).append(voice)
        by_engine[name] = per_language
    return {
        "engines": by_engine,
        "languages": list(gateway.router.languages),
        "profiles": list(gateway.router.profiles),
        "openai_voices": {
            name: resolve_voice(name, gateway.router) or "default" for name in OPENAI_VOICES
        },
    }
