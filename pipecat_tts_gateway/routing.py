"""Which engine and voice speak each part of a text, and what takes over when one fails.

A request becomes a list of segments (language runs). Each segment carries an ordered chain of
routes: the profile's or forced voice first, then the configured chain for its language. Engine
health decides the order at run time: a failed engine goes to the back of every chain until a
background probe finds it working again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass

from loguru import logger

from pipecat_tts_gateway.config import GatewayConfig, RouteConfig
from pipecat_tts_gateway.engines.base import Engine
from pipecat_tts_gateway.errors import (
    GatewayError,
    InvalidSpeedError,
    NoEngineAvailableError,
    UnknownProfileError,
    UnknownVoiceError,
    UnsupportedLanguageError,
)
from pipecat_tts_gateway.text import split_language_runs

MIN_SPEED = 0.5
MAX_SPEED = 2.0


@dataclass(frozen=True)
class Route:
    """An engine, a voice of it, and the speed to speak at."""

    engine: str
    voice: str
    speed: float


@dataclass(frozen=True)
class SegmentPlan:
    """A language run of the request and the routes that may speak it, best first."""

    index: int
    language: str
    text: str
    chain: tuple[Route, ...]


def check_speed(speed: object) -> float:
    """Return speed as a float, or raise InvalidSpeedError."""
    if isinstance(speed, bool) or not isinstance(speed, int | float):
        raise InvalidSpeedError(f"speed must be a number from {MIN_SPEED} to {MAX_SPEED}")
    if not MIN_SPEED <= float(speed) <= MAX_SPEED:
        raise InvalidSpeedError(f"speed {speed} is out of range {MIN_SPEED}-{MAX_SPEED}")
    return float(speed)


class Router:
    """Turns (text, language, voice, speed, profile) into segment plans."""

    def __init__(self, config: GatewayConfig, engines: Mapping[str, Engine]) -> None:
        self._config = config
        self._engines = engines
        self._default_speed = {
            "kokoro": config.primary_tts.speed,
            "piper": config.fallback_tts.speed,
        }

    @property
    def languages(self) -> tuple[str, ...]:
        """Languages with at least one loaded engine."""
        return tuple(
            lang
            for lang, routes in self._config.routing.items()
            if any(r.engine in self._engines for r in routes)
        )

    @property
    def profiles(self) -> tuple[str, ...]:
        return tuple(self._config.profiles)

    def voice_owner(self, voice: str) -> tuple[str, str]:
        """(engine name, language) of a voice, or UnknownVoiceError listing every voice."""
        for name, engine in self._engines.items():
            try:
                return name, engine.voice_language(voice)
            except UnknownVoiceError:
                continue
        known = [v for e in self._engines.values() for v in e.voices()]
        raise UnknownVoiceError(f"unknown voice {voice!r}; valid voices: {', '.join(known)}")

    def check(
        self,
        *,
        language: str | None = None,
        voice: str | None = None,
        speed: float | None = None,
        profile: str | None = None,
    ) -> tuple[str, str] | None:
        """Validate a request's options without any text (a door that takes the options first,
        like the websocket, answers a mistake at once); returns the forced voice's owner.

        Raises:
            InvalidRequestError: unknown voice, profile or language, or speed out of range.
        """
        if speed is not None:
            check_speed(speed)
        if profile is not None and profile not in self._config.profiles:
            raise UnknownProfileError(
                f"unknown profile {profile!r}; profiles: {', '.join(self.profiles) or 'none'}"
            )
        if language is not None and language not in self.languages:
            raise UnsupportedLanguageError(
                f"unsupported language {language!r}; supported: {', '.join(self.languages)}"
            )
        forced = self.voice_owner(voice) if voice else None
        if forced and language and forced[1] != language:
            raise UnknownVoiceError(f"voice {voice!r} speaks {forced[1]!r}, not {language!r}")
        return forced

    def plan(
        self,
        text: str,
        *,
        language: str | None = None,
        voice: str | None = None,
        speed: float | None = None,
        profile: str | None = None,
    ) -> list[SegmentPlan]:
        """Split text into language runs and give each its route chain.

        Raises:
            InvalidRequestError: unknown voice, profile or language, or speed out of range.
            NoEngineAvailableError: no loaded engine serves a language of the text.
        """
        forced = self.check(language=language, voice=voice, speed=speed, profile=profile)
        speed = None if speed is None else float(speed)
        if language is not None:
            runs = [(language, text)]
        else:
            default = forced[1] if forced else self._config.default_language
            runs = [(r.language, r.text) for r in split_language_runs(text, default)]
        return [
            SegmentPlan(
                index=i,
                language=lang,
                text=run_text,
                chain=self._chain(
                    lang,
                    voice if forced and forced[1] == lang else None,
                    forced[0] if forced else None,
                    speed,
                    profile,
                ),
            )
            for i, (lang, run_text) in enumerate(runs)
        ]

    def _chain(
        self,
        language: str,
        voice: str | None,
        voice_engine: str | None,
        speed: float | None,
        profile: str | None,
    ) -> tuple[Route, ...]:
        configured: list[RouteConfig] = list(self._config.routing.get(language, ()))
        head: list[RouteConfig] = []
        if profile is not None and language in self._config.profiles[profile]:
            head.append(self._config.profiles[profile][language])
        if voice is not None and voice_engine is not None:
            base_speed = head[0].speed if head else 0.0
            head = [RouteConfig(engine=voice_engine, voice=voice, speed=base_speed)]
        chain: list[Route] = []
        for rc in [*head, *configured]:
            engine = self._engines.get(rc.engine)
            if engine is None or language not in engine.languages:
                continue
            route = Route(
                engine=rc.engine,
                voice=rc.voice or engine.default_voice(language),
                speed=speed or rc.speed or self._default_speed.get(rc.engine, 1.0),
            )
            if all((r.engine, r.voice) != (route.engine, route.voice) for r in chain):
                chain.append(route)
        if not chain:
            raise NoEngineAvailableError(f"no loaded engine speaks {language!r}")
        return tuple(chain)


class EngineHealth:
    """Tracks failed engines and probes them back in the background.

    A failed engine keeps its place in no chain until a probe (one short synthesis) succeeds,
    so one broken model costs one failed attempt, not one per request.
    """

    def __init__(
        self,
        engines: Mapping[str, Engine],
        *,
        retry_interval_s: float,
        executor: Executor | None = None,
    ) -> None:
        self._engines = engines
        self._interval = retry_interval_s
        self._executor = executor
        self._unhealthy: dict[str, str] = {}
        self._probes: dict[str, asyncio.Task[None]] = {}

    def is_healthy(self, engine: str) -> bool:
        return engine not in self._unhealthy

    @property
    def unhealthy(self) -> Mapping[str, str]:
        """Engine name → the error that took it down."""
        return dict(self._unhealthy)

    def order(self, chain: Sequence[Route]) -> list[Route]:
        """Healthy routes first, in configured order; unhealthy ones still as a last resort."""
        return sorted(chain, key=lambda r: not self.is_healthy(r.engine))

    def mark_failed(self, engine: str, error: BaseException) -> None:
        message = (
            str(error) if isinstance(error, GatewayError) else f"{type(error).__name__}: {error}"
        )
        if engine not in self._unhealthy:
            logger.warning(
                "Engine {} failed, using fallback until it recovers: {}", engine, message
            )
        self._unhealthy[engine] = message
        if engine not in self._probes or self._probes[engine].done():
            self._probes[engine] = asyncio.get_running_loop().create_task(self._probe(engine))

    def mark_ok(self, engine: str) -> None:
        if self._unhealthy.pop(engine, None) is not None:
            logger.info("Engine {} is healthy again", engine)

    async def _probe(self, engine: str) -> None:
        loop = asyncio.get_running_loop()
        while engine in self._unhealthy:
            await asyncio.sleep(self._interval)
            try:
                await loop.run_in_executor(self._executor, self._engines[engine].warm_up)
            except Exception as exc:
                logger.debug("Engine {} still failing: {}", engine, exc)
            else:
                self.mark_ok(engine)

    async def close(self) -> None:
        for task in self._probes.values():
            task.cancel()
        await asyncio.gather(*self._probes.values(), return_exceptions=True)
        self._probes.clear()
