"""Giving memory back once inference goes quiet.

An inference's intermediate tensors are large (tens of MB for a long chunk) and freed at its
end, but glibc keeps freed heap pages mapped: measured here, the resident set of the whole
gateway settled about 600 MB above its loaded size after a few dozen varied texts. Trimming
after every call would put the work on the path of the next chunk, so an engine's
`IdleReclaimer` trims the heap once the engine has been idle a moment; and blocks of 1 MiB or
more get pages of their own, so a big tensor's memory goes back the moment it is freed
(README, Performance: Memory).

OpenVINO's `CompiledModel.release_memory()` (its infer requests' buffers) was tried here too
and left out: the first call after it re-allocates them, and a turn's first chunk after a
pause came 20-40 ms later. What it does instead is let go of the pages of the weights file
OpenVINO maps (`release_file_pages`): the CPU plugin reads them once, into weights of its own.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

# Long enough that the next chunk of a stream being rendered has normally started by then.
IDLE_DELAY_S = 0.5
# glibc's mallopt parameter, and the size from which blocks get pages of their own.
_M_MMAP_THRESHOLD = -3
_MMAP_THRESHOLD_BYTES = 2**20
_MADV_DONTNEED = 4


def _libc_function(name: str) -> Callable[..., int] | None:
    library = ctypes.util.find_library("c")
    if library is None:
        return None
    try:
        return getattr(ctypes.CDLL(library), name)  # type: ignore[no-any-return]
    except (OSError, AttributeError):  # not glibc (musl, macOS): the allocator's own policy
        return None


_MALLOC_TRIM = _libc_function("malloc_trim")
_MALLOPT = _libc_function("mallopt")
_MADVISE = _libc_function("madvise")
if _MADVISE is not None:
    _MADVISE.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]


def map_large_blocks() -> None:
    """Give every block of 1 MiB or more pages of its own, unmapped the moment it is freed.

    glibc raises this threshold each time it frees a mapped block (up to 32 MB), after which an
    inference's big tensors come from the heap and stay resident after it. Fixing it lowered
    the whole gateway's peak by about 400 MB here, no slower (README, Performance: Memory).
    Process-wide; a no-op outside glibc.
    """
    if _MALLOPT is not None:
        _MALLOPT(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_BYTES)


def trim_heap() -> None:
    """Return the heap's free pages to the system (glibc; a no-op elsewhere)."""
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)


def release_file_pages(path: Path) -> int:
    """Drop this process's resident pages of every read-only mapping of `path`.

    Pages of a read-only file mapping are clean copies of the file: dropped, they leave the
    resident set (they stay in the page cache, reclaimable) and a later read faults them back
    in unchanged. Writable mappings are left alone, as dropping their pages could lose data.

    Returns:
        Bytes of mappings released (0 outside Linux with glibc, or where nothing maps `path`).
    """
    if _MADVISE is None:
        return 0
    target = os.path.realpath(path)
    released = 0
    try:
        with open("/proc/self/maps", encoding="utf-8") as maps:
            lines = maps.readlines()
    except OSError:
        return 0
    for line in lines:
        fields = line.split(maxsplit=5)
        if len(fields) < 6 or fields[5].rstrip("\n") != target or "w" in fields[1]:
            continue
        start, end = (int(bound, 16) for bound in fields[0].split("-"))
        if _MADVISE(start, end - start, _MADV_DONTNEED) == 0:
            released += end - start
    return released


class IdleReclaimer:
    """Trims the heap once no run has been in flight for `delay_s`.

    Args:
        delay_s: Idle time before the trim.
        trim: What gives memory back (`trim_heap`; a test may count calls instead).

    Attributes:
        reclaims: How many times memory was given back, counted once `trim` has returned
            (for tests and debugging).
    """

    def __init__(
        self, *, delay_s: float = IDLE_DELAY_S, trim: Callable[[], None] = trim_heap
    ) -> None:
        self._trim = trim
        self._delay_s = delay_s
        self._lock = threading.Lock()
        self._active = 0
        self._timer: threading.Timer | None = None
        self.reclaims = 0

    @contextlib.contextmanager
    def running(self) -> Iterator[None]:
        """Wrap one inference run."""
        with self._lock:
            self._active += 1
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
        try:
            yield
        finally:
            with self._lock:
                self._active -= 1
                if self._active == 0:
                    self._timer = threading.Timer(self._delay_s, self._reclaim)
                    self._timer.daemon = True
                    self._timer.start()

    def _reclaim(self) -> None:
        with self._lock:
            # A run that started meanwhile cancelled this timer, but cancel() cannot stop one
            # already firing: only the current timer of an idle engine may trim.
            if self._active or self._timer is not threading.current_thread():
                return
            self._timer = None
        self._trim()
        with self._lock:
            self.reclaims += 1
