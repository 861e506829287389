"""Phrases into the cache before anyone asks for them: at start, or on demand.

An agent's stock lines (greetings, "one moment please") are the first thing a caller hears, so
they should never wait for a model. Each phrase is rendered through the ordinary request path
with the default routing, so what lands in the cache is exactly what a plain request for the
phrase looks up; a phrase already cached costs a lookup, not a synthesis.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from loguru import logger

if TYPE_CHECKING:
    from pipecat_tts_gateway.gateway import Gateway


class Prerenderer:
    """Renders phrases into a gateway's cache and reports how far it got.

    Attributes:
        state: "idle", "running", "completed" or "failed" (a phrase failed, or the run was
            cancelled).
        done: Phrases handled so far in the current or last run.
        total: Phrases in the current or last run.
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
        progress: Callable[[str], None] | None = None,
    ) -> int:
        """Render phrases (default: `prerender.common_phrases`) into the cache.

        A phrase that fails is logged and skipped; the others still render.

        Args:
            phrases: The phrases; None uses the configured ones.
            progress: Called with each phrase once it is handled (the CLI's progress bar).

        Returns:
            How many phrases are now cached.
        """
        from pipecat_tts_gateway.gateway import SynthesisRequest

        gateway = self._gateway
        todo = list(gateway.config.prerender.common_phrases if phrases is None else phrases)
        if gateway.cache is None:
            logger.warning("The cache is disabled (cache.enabled: false); nothing to prerender")
            return 0
        self._begin(len(todo))
        logger.info("Prerendering {} phrases...", len(todo))
        failed = 0
        try:
            for i, phrase in enumerate(todo, 1):
                try:
                    _, stream = await gateway.synthesize_all(SynthesisRequest(text=phrase))
                except Exception as exc:
                    failed += 1
                    logger.error("Prerendering failed for {!r}: {}", phrase, exc)
                else:
                    if stream.cache == "hit":
                        logger.debug("{!r} was already cached", phrase)
                    logger.info("Prerendered ({}/{}): {}", i, len(todo), phrase)
                self.done = i
                if progress is not None:
                    progress(phrase)
        finally:  # also when cancelled part-way
            self.state = "failed" if failed or self.done < self.total else "completed"
        logger.info("Prerendering completed")
        if failed:
            logger.warning("{} of {} phrases could not be prerendered", failed, len(todo))
        return len(todo) - failed

    def start(self) -> asyncio.Task[int] | None:
        """Run the configured phrases in the background, if `prerender.enabled` and any.

        Returns:
            The task (the running one if already started), or None when there is nothing to
            do: prerender disabled, no phrases, or the cache disabled.
        """
        if self._task is not None and not self._task.done():
            return self._task
        settings = self._gateway.config.prerender
        if not settings.enabled or not settings.common_phrases or self._gateway.cache is None:
            return None
        self._begin(len(settings.common_phrases))  # /health says "running" from now on
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
