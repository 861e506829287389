"""One language run through the cache: served from an entry, or rendered once and stored.

The first unit of caching is a segment (one language run spoken by one route), so a
mixed-language text reuses the runs it shares with earlier texts, and an entry never mixes two
voices. A run that misses is rendered chunk by chunk, and each chunk goes through the cache on
its own (`Gateway.segment_audio`), so a text also reuses the chunks it shares with earlier ones.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Callable, Sequence
from typing import NamedTuple

from pipecat_tts_gateway.cache.entry import CacheEntry
from pipecat_tts_gateway.cache.tiered import AudioCache
from pipecat_tts_gateway.engines.base import EngineAudio
from pipecat_tts_gateway.routing import Route, SegmentPlan


class SegmentPiece(NamedTuple):
    """One piece of a run's audio and where it came from.

    Attributes:
        route: The route that speaks the run.
        audio: The piece at the engine's native rate.
        fallback: True when `route` is not the run's first choice.
        cached: Whether the piece came from the cache (a run's or a chunk's entry) rather than
            from the engine just now; None when caching is off.
    """

    route: Route
    audio: EngineAudio
    fallback: bool
    cached: bool | None


SegmentPieces = AsyncIterator[SegmentPiece]


class CachedSegment:
    """Async iterator of `SegmentPiece`s for one run, like `Gateway.segment_audio`.

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
                for piece in entry.audio():
                    yield SegmentPiece(route, piece, route != self._plan.chain[0], True)
                return
            spoken: list[EngineAudio] = []
            # Closed at once when our reader goes away, so the engine stops rendering too.
            async with contextlib.aclosing(self._render(self._plan)) as rendered:
                async for item in rendered:
                    spoken.append(item.audio)
                    yield item
            # Reached only when the render completed; its route is the one that spoke it all.
            self._cache.put(self._key(item.route), CacheEntry.from_audio(spoken, time.time()))
