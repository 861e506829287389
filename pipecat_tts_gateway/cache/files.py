"""The file tier: one file per entry in a directory, bounded in bytes, LRU eviction.

Embedded and serverless: a restarted gateway (or `tts-gateway say` run twice) finds what it
rendered before. File names are cache keys (64 hex characters) and nothing else, so no part of
a request ever reaches a path. Writes go to a temp file that is renamed into place, so a reader
never sees half an entry; a crash leaves at worst a stray temp file, removed at the next start.
Recency is the file's mtime (touched on every hit), so LRU order survives restarts; atime is
not used because most filesystems are mounted relatime or noatime.

Methods block; the tiered front calls them off the event loop.
"""

from __future__ import annotations

import os
import secrets
import threading
import time
from collections import OrderedDict
from pathlib import Path

from pipecat_tts_gateway.cache.keys import is_key

# A temp file older than this is a leftover of a crashed write, not one in progress.
_STALE_TMP_S = 600.0


class FileTier:
    """Entries as files under `directory`, least recently used removed past `max_bytes`.

    Args:
        directory: Where entries live (created on the first write).
        max_bytes: Budget for all entries together.
    """

    def __init__(self, directory: Path, max_bytes: int) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._index: OrderedDict[str, int] = OrderedDict()  # key → size, oldest first
        self._bytes = 0
        self._scan()

    @property
    def nbytes(self) -> int:
        return self._bytes

    def path(self, key: str) -> Path:
        if not is_key(key):
            raise ValueError(f"not a cache key: {key!r}")
        return self.directory / key

    def get(self, key: str) -> bytes | None:
        path = self.path(key)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            with self._lock:
                self._forget(key)  # evicted by another process sharing the directory
            return None
        with self._lock:
            if key not in self._index:  # written by another process
                self._bytes += len(data)
            self._index[key] = len(data)
            self._index.move_to_end(key)
        try:
            os.utime(path)
        except OSError:
            pass  # recency is a hint; a read-only directory still serves
        return data

    def put(self, key: str, data: bytes) -> None:
        path = self.path(key)
        if len(data) > self.max_bytes:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        tmp = self.directory / f".{key}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
        try:
            tmp.write_bytes(data)
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        with self._lock:
            self._forget(key)
            self._index[key] = len(data)
            self._bytes += len(data)
            self._evict()

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)
        with self._lock:
            self._forget(key)

    def _forget(self, key: str) -> None:
        size = self._index.pop(key, None)
        if size is not None:
            self._bytes -= size

    def _evict(self) -> None:
        while self._bytes > self.max_bytes and self._index:
            key, size = self._index.popitem(last=False)
            self._bytes -= size
            (self.directory / key).unlink(missing_ok=True)

    def _scan(self) -> None:
        """Index what earlier runs left, oldest first, and drop stale temp files."""
        if not self.directory.is_dir():
            return
        found: list[tuple[float, str, int]] = []
        now = time.time()
        with os.scandir(self.directory) as items:
            for item in items:
                if not item.is_file(follow_symlinks=False):
                    continue
                stat = item.stat(follow_symlinks=False)
                if is_key(item.name):
                    found.append((stat.st_mtime, item.name, stat.st_size))
                elif item.name.endswith(".tmp") and now - stat.st_mtime > _STALE_TMP_S:
                    Path(item.path).unlink(missing_ok=True)
        with self._lock:
            for _, key, size in sorted(found):
                self._index[key] = size
                self._bytes += size
            self._evict()
