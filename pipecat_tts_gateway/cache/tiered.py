"""The tiered front: memory → files → Redis, read-through and write-back, single-flight.

A lookup walks the tiers from the fastest; a hit in a lower tier fills the ones above it, so
the next request for it is a memory hit. A fresh render is stored in every tier: in memory at
once (so requests waiting on it find it), in files and Redis in the background, so a slow disk
or Redis never delays audio. Every entry read from bytes is verified; a corrupt or expired one
is deleted from its tier and the lookup goes on as if it was never there. No tier's failure
ever reaches a request: the cost of a broken tier is a miss.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from loguru import logger

from pipecat_tts_gateway.cache.entry import CacheEntry, CacheEntryError, decode_entry, encode_entry
from pipecat_tts_gateway.cache.files import FileTier
from pipecat_tts_gateway.cache.memory import MemoryTier
from pipecat_tts_gateway.cache.redis_tier import RedisTier
from pipecat_tts_gateway.config import GatewayConfig

T = TypeVar("T")


class AudioCache:
    """Segment audio by cache key across the configured tiers.

    Args:
        config: `cache` sizes the tiers and names Redis; `prerender.cache_dir` is the file
            tier's directory and `prerender.ttl_seconds` the lifetime of entries in every tier.
            `streaming.engine_timeout_s` bounds how long a request waits for another one
            rendering the same segment.
    """

    def __init__(self, config: GatewayConfig) -> None:
        settings = config.cache
        self.ttl_s = float(config.prerender.ttl_seconds)
        self.wait_s = config.streaming.engine_timeout_s
        self.memory = MemoryTier(settings.memory_max_bytes)
        self.files = (
            FileTier(Path(config.prerender.cache_dir), settings.file_max_bytes)
            if settings.file_max_bytes > 0
            else None
        )
        self.redis = (
            RedisTier(
                settings.redis_url,
                timeout_s=settings.redis_timeout_s,
                retry_s=settings.redis_retry_s,
            )
            if settings.redis_url
            else None
        )
        self._flights: dict[str, asyncio.Event] = {}
        self._writes: set[asyncio.Task[None]] = set()
        self._files_warned = False

    def describe(self) -> dict[str, Any]:
        """Tier sizes and Redis state, for /health."""
        return {
            "memory": {"entries": len(self.memory), "bytes": self.memory.nbytes},
            "files": None if self.files is None else {"bytes": self.files.nbytes},
            "redis": None if self.redis is None else ("up" if self.redis.available else "down"),
        }

    async def get(self, key: str) -> CacheEntry | None:
        """The valid, unexpired entry under `key` from the first tier that has it."""
        entry = self.memory.get(key)
        if entry is not None:
            if not entry.expired(self.ttl_s, time.time()):
                return entry
            self.memory.delete(key)
        if self.files is not None:
            entry = await self._files(self._read_file, key)
            if entry is not None:
                self.memory.put(key, entry)
                return entry
        if self.redis is not None:
            data = await self.redis.get(key)
            if data is not None:
                entry = await asyncio.to_thread(self._verified, key, data, "Redis")
                if entry is None:
                    await self.redis.delete(key)
                    return None
                self.memory.put(key, entry)
                self._spawn(self._write_back(key, entry, data, to_redis=False))
                return entry
        return None

    async def find(self, keys: Sequence[str]) -> tuple[int, CacheEntry] | None:
        """(index, entry) of the first of `keys` that is cached, in the given order."""
        for index, key in enumerate(keys):
            entry = await self.get(key)
            if entry is not None:
                return index, entry
        return None

    @contextlib.asynccontextmanager
    async def lookup_or_lead(
        self, keys: Sequence[str]
    ) -> AsyncIterator[tuple[int, CacheEntry] | None]:
        """Find a cached entry, or become the one caller that renders it (single-flight).

        Yields (index, entry) for a hit. Yields None on a miss: the caller then renders and
        `put`s the result inside the block, while concurrent callers with the same first key
        wait at the door and look again when the block exits (finding the entry, or leading
        themselves if the render failed or was cancelled).

        The leader renders at its own consumer's pace, so a waiter gives up after `wait_s`
        and renders alongside: a stalled or slow reader must not hold other requests hostage.
        """
        lead = keys[0]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.wait_s
        while True:
            flight = self._flights.get(lead)
            if flight is not None:
                if not await _wait(flight, deadline - loop.time()):
                    logger.warning(
                        "Gave up waiting {:g} s for a concurrent render of the same segment; "
                        "rendering it again",
                        self.wait_s,
                    )
                    yield None
                    return
                continue
            found = await self.find(keys)
            if found is not None:
                yield found
                return
            if lead not in self._flights:  # nobody took the lead during our lookup
                break
        flight = asyncio.Event()
        self._flights[lead] = flight
        try:
            yield None
        finally:
            del self._flights[lead]
            flight.set()

    def put(self, key: str, entry: CacheEntry) -> None:
        """Store a fresh render: in memory now, in files and Redis in the background."""
        self.memory.put(key, entry)
        self._spawn(self._write_back(key, entry, None, to_redis=True))

    async def flush(self) -> None:
        """Wait for background writes (before exit, and in tests)."""
        while self._writes:
            await asyncio.gather(*self._writes, return_exceptions=True)

    async def close(self) -> None:
        await self.flush()
        if self.redis is not None:
            await self.redis.close()

    async def _write_back(
        self, key: str, entry: CacheEntry, data: bytes | None, *, to_redis: bool
    ) -> None:
        if data is None:
            data = await asyncio.to_thread(encode_entry, key, entry)
        if self.files is not None:
            await self._files(self.files.put, key, data)
        if to_redis and self.redis is not None:
            remaining = self.ttl_s - (time.time() - entry.created)
            if self.ttl_s <= 0 or remaining > 0:
                await self.redis.put(key, data, remaining if self.ttl_s > 0 else 0)

    def _read_file(self, key: str) -> CacheEntry | None:
        """Blocking: read and verify one file, deleting it when it must not be served."""
        assert self.files is not None
        data = self.files.get(key)
        if data is None:
            return None
        entry = self._verified(key, data, "file")
        if entry is None:
            self.files.delete(key)
        return entry

    def _verified(self, key: str, data: bytes, tier: str) -> CacheEntry | None:
        try:
            entry = decode_entry(key, data)
        except CacheEntryError as exc:
            logger.warning("Dropped a corrupt {} cache entry {}: {}", tier, key[:16], exc)
            return None
        if entry.expired(self.ttl_s, time.time()):
            logger.debug("Dropped an expired {} cache entry {}", tier, key[:16])
            return None
        return entry

    async def _files(self, call: Callable[..., T], *args: Any) -> T | None:
        """Run a file-tier call in a thread; an OSError is a miss (warned about once)."""
        try:
            return await asyncio.to_thread(call, *args)
        except OSError as exc:
            log = logger.debug if self._files_warned else logger.warning
            self._files_warned = True
            log("File cache in {} failed, skipping it: {}", self.files.directory, exc)
            return None

    def _spawn(self, job: Any) -> None:
        task = asyncio.get_running_loop().create_task(job)
        self._writes.add(task)
        task.add_done_callback(self._written)

    def _written(self, task: asyncio.Task[None]) -> None:
        self._writes.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.opt(exception=task.exception()).error("cache write-back failed")


async def _wait(event: asyncio.Event, timeout_s: float) -> bool:
    """Wait for `event`; False when `timeout_s` passed first."""
    try:
        await asyncio.wait_for(event.wait(), max(0.0, timeout_s))
    except TimeoutError:
        return False
    return True
