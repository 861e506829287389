"""The in-process tier: decoded entries in an LRU bounded in bytes.

A hit here costs a dict lookup, no I/O and no checksum, which is what makes a prerendered
phrase start in well under a millisecond. Entries are shared read-only arrays.
"""

from __future__ import annotations

from collections import OrderedDict

from pipecat_tts_gateway.cache.entry import CacheEntry


class MemoryTier:
    """Least recently used entries go first once `max_bytes` is exceeded.

    Args:
        max_bytes: Budget; an entry larger than the whole budget is not kept.
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[str, CacheEntry] = OrderedDict()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def nbytes(self) -> int:
        return self._bytes

    def get(self, key: str) -> CacheEntry | None:
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
        return entry

    def put(self, key: str, entry: CacheEntry) -> None:
        self.delete(key)
        if entry.nbytes > self.max_bytes:
            return
        self._entries[key] = entry
        self._bytes += entry.nbytes
        while self._bytes > self.max_bytes:
            _, evicted = self._entries.popitem(last=False)
            self._bytes -= evicted.nbytes

    def delete(self, key: str) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._bytes -= entry.nbytes
