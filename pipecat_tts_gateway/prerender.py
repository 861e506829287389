"""Phrases and openers into the cache before anyone asks for them: at start, or on demand.

An agent's stock lines (greetings, "one moment please") are the first thing a caller hears, so
they should never wait for a model. Each phrase is rendered through the ordinary request path
with the default routing, so what lands in the cache is exactly what a plain request for the
phrase looks up; a phrase already cached costs a lookup, not a synthesis.

Openers ("Sure,", "Of course.") are where answers begin, so they are rendered as chunks: the
chunker cuts a text that begins with one right after it, and that first chunk is a hit while
the rest renders. Each is rendered for its language's default route and for every profile's
route of that language, so a request with a profile finds its voice's opener too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from loguru import logger

from pipecat_tts_gateway.text import detect_language

if TYPE_CHECKING:
    from pipecat_tts_gateway.gateway import Gateway
    from pipecat_tts_gateway.routing import Route


class Prerenderer:
    """Renders phrases and openers into a gateway's cache and reports how far it got.

    Attributes:
        state: "idle", "running", "completed" or "failed" (a phrase or opener failed, or the
            run was cancelled).
        done: Phrases and openers handled so far in the current or last run.
        total: Phrases and openers in the current or last run.
    """

    def __init__(self, gateway: Gateway) -> None:
        self._gateway = gateway
        self._task: asyncio.Task[int] | None = None
        self.state = "idle"
        self.done = 0
        self.total = 0

    @property
    def status(self) -> dict[str, Any]:
        """{"state", "done", "total"}: what /health shows."""
        return {"state": self.state, "done": self.done, "total": self.total}

    async def run(
        self,
        phrases: Sequence[str] | None = None,
        *,
        openers: Sequence[str] | None = None,
        progress: Callable[[str], None] | None = None,
    ) -> int:
        """Render phrases and openers into the cache.

        With neither given, the configured `prerender.common_phrases` and `prerender.openers`
        are rendered; with either given, only what is given. Each phrase or opener counts once
        in the progress and the status, whatever number of voices an opener is rendered for. One
        that fails is logged and skipped; the others still render.

        Args:
            phrases: Whole phrases, rendered as a plain request for each would be.
            openers: First clauses, rendered as chunks (see the module docstring).
            progress: Called with each phrase or opener once it is handled (the CLI's bar).

        Returns:
            How many phrases and openers are now cached.
        """
        gateway = self._gateway
        if phrases is None and openers is None:
            phrases = gateway.config.prerender.common_phrases
            openers = gateway.config.prerender.openers
        jobs: list[tuple[str, Callable[[str], Awaitable[bool]]]] = [
            *((phrase, self._phrase) for phrase in phrases or ()),
            *((opener, self._opener) for opener in openers or ()),
        ]
        if gateway.cache is None:
            logger.warning("The cache is disabled (cache.enabled: false); nothing to prerender")
            return 0
        self._begin(len(jobs))
        logger.info("Prerendering {} phrases...", len(jobs))
        failed = 0
        try:
            for i, (text, render) in enumerate(jobs, 1):
                try:
                    cached = await render(text)
                except Exception as exc:
                    failed += 1
                    logger.error("Prerendering failed for {!r}: {}", text, exc)
                else:
                    if cached:
                        logger.debug("{!r} was already cached", text)
                    logger.info("Prerendered ({}/{}): {}", i, len(jobs), text)
                self.done = i
                if progress is not None:
                    progress(text)
        finally:  # also when cancelled part-way
            self.state = "failed" if failed or self.done < self.total else "completed"
        logger.info("Prerendering completed")
        if failed:
            logger.warning("{} of {} phrases could not be prerendered", failed, len(jobs))
        return len(jobs) - failed

    def start(self) -> asyncio.Task[int] | None:
        """Run the configured phrases and openers in the background, if `prerender.enabled`.

        Returns:
            The task (the running one if already started), or None when there is nothing to
            do: prerender disabled, no phrases or openers, or the cache disabled.
        """
        if self._task is not None and not self._task.done():
            return self._task
        settings = self._gateway.config.prerender
        total = len(settings.common_phrases) + len(settings.openers)
        if not settings.enabled or not total or self._gateway.cache is None:
            return None
        self._begin(total)  # /health says "running" from now on
        self._task = asyncio.get_running_loop().create_task(self.run())
        return self._task

    async def close(self) -> None:
        """Cancel a background run."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            if self.state == "running":  # cancelled before it began
                self.state = "failed"

    def _begin(self, total: int) -> None:
        self.state, self.done, self.total = "running", 0, total

    async def _phrase(self, phrase: str) -> bool:
        """Render one phrase as a plain request; True when it was a cache hit."""
        from pipecat_tts_gateway.gateway import SynthesisRequest

        _, stream = await self._gateway.synthesize_all(SynthesisRequest(text=phrase))
        return stream.cache == "hit"

    async def _opener(self, opener: str) -> bool:
        """Render one opener as a chunk for each of its routes; True when all were cached."""
        language = detect_language(opener) or self._gateway.config.default_language
        text = " ".join(opener.split())  # the chunk the chunker cuts off a text
        found = [
            await self._gateway.cache_chunk(route, language, text)
            for route in self._opener_routes(text, language)
        ]
        return all(found)

    def _opener_routes(self, text: str, language: str) -> list[Route]:
        """The routes a plain request in `language` and one per profile speaking it would take.

        Health decides, as for a request: with an engine down, its fallback's opener is what
        requests will look up meanwhile.

        Raises:
            GatewayError: No loaded engine speaks `language`.
        """
        gateway = self._gateway
        profiles = [name for name, routes in gateway.config.profiles.items() if language in routes]
        routes: dict[Route, None] = {}
        for profile in (None, *profiles):
            (plan,) = gateway.router.plan(text, language=language, profile=profile)
            routes[gateway.health.order(plan.chain)[0]] = None
        return list(routes)
