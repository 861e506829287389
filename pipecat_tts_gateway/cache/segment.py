"""One language run through the cache: served from an entry, or rendered once and stored.

The unit of caching is a segment (one language run spoken by one route), so a mixed-language
text reuses the runs it shares with earlier texts, and an entry never mixes two voices.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Callable, Sequence

from pipecat_tts_gateway.cache.entry import CacheEntry
from pipecat_tts_gateway.cache.tiered import AudioCache
from pipecat_tts_gateway.engines.base import EngineAudio
from pipecat_tts_gateway.routing import Route, SegmentPlan

SegmentPieces = AsyncIterator[tuple[Route, EngineAudio, bool]]


class CachedSegment:
    """Async iterator of (route, piece, fallback) for one run, like `Gateway.segment_audio`.

    The `lookup` routes are asked in order, so a cached run is served even while its engine is
    down. On a full miss the run is rendered with fallback, streamed as it comes, and stored
    under the route that actually spoke, only once it completed: a stream closed or failed
    part-way stores nothing.

    Args:
        plan: The run.
        render: Renders a run with fallback (`Gateway.segment_audio`).
        cache: The cache; None (or no `key`) passes `render` through: caching off.
        lookup: Routes whose cached audio may serve the run, best first.
        key: The cache key of the run spoken by a route.

    Attributes:
        hit: Whether the run came from the cache; set before its first piece, None when
            caching is off.
    """

    def __init__(
        self,
        plan: SegmentPlan,
        render: Callable[[SegmentPlan], SegmentPieces],
        cache: AudioCache | None = None,
        *,
        lookup: Sequence[Route] = (),
        key: Callable[[Route], str] | None = None,
    ) -> None:
        self.hit: bool | None = None
        self._plan = plan
        self._render = render
        self._cache = cache
        self._lookup = list(lookup)
        self._key = key
        self._pieces = self._produce()

    def __aiter__(self) -> SegmentPieces:
        return self._pieces

    async def aclose(self) -> None:
        await self._pieces.aclose()  # type: ignore[attr-defined]

    async def _produce(self) -> SegmentPieces:
        if self._cache is None or self._key is None:
            async with contextlib.aclosing(self._render(self._plan)) as rendered:
                async for item in rendered:
                    yield item
            return
        async with self._cache.lookup_or_lead([self._key(r) for r in self._lookup]) as found:
            if found is not None:
                index, entry = found
                route = self._lookup[index]
                self.hit = True
                for piece in entry.audio():
                    yield route, piece, route != self._plan.chain[0]
                return
            self.hit = False
            spoken: list[EngineAudio] = []
            # Closed at once when our reader goes away, so the engine stops rendering too.
            async with contextlib.aclosing(self._render(self._plan)) as rendered:
                async for route, piece, fallback in rendered:
                    spoken.append(piece)
                    yield route, piece, fallback
            # Reached only when the render completed; `route` is the one that spoke it all.
            self._cache.put(self._key(route), CacheEntry.from_audio(spoken, time.time()))
