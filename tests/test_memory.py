"""The idle reclaimer (the heap is trimmed only once no inference runs) and mapped file pages."""

from __future__ import annotations

import mmap
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from pipecat_tts_gateway.memory import IdleReclaimer, release_file_pages
from tests.residency import resident_kib


def wait_for(condition: Callable[[], object], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "not reached in time"
        time.sleep(0.01)


def test_trims_once_idle_and_not_before() -> None:
    trimmed = threading.Event()
    reclaimer = IdleReclaimer(delay_s=0.05, trim=trimmed.set)
    with reclaimer.running():
        # Inside a run nothing is trimmed, however long it takes.
        assert not trimmed.wait(0.3)
    assert trimmed.wait(10)
    assert reclaimer.reclaims == 1


def test_a_run_in_the_delay_postpones_the_trim() -> None:
    calls: list[float] = []
    reclaimer = IdleReclaimer(delay_s=0.2, trim=lambda: calls.append(time.monotonic()))
    with reclaimer.running():
        pass
    with reclaimer.running():  # starts inside the first run's delay: that timer is void
        time.sleep(0.4)
        assert calls == []
        ended = time.monotonic()
    wait_for(lambda: calls)
    assert calls[0] >= ended
    time.sleep(0.3)
    assert len(calls) == 1  # the void timer trimmed nothing on its own


def test_never_trims_during_a_run_of_many_threads() -> None:
    active = 0
    lock = threading.Lock()
    overlaps: list[int] = []

    def trim() -> None:
        with lock:
            if active:
                overlaps.append(active)

    reclaimer = IdleReclaimer(delay_s=0.0, trim=trim)

    def work() -> None:
        nonlocal active
        for i in range(200):
            with reclaimer.running():
                with lock:
                    active += 1
                time.sleep(0.0005 * (i % 3))
                with lock:
                    active -= 1

    threads = [threading.Thread(target=work) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wait_for(lambda: reclaimer.reclaims > 0)
    assert overlaps == []


@pytest.mark.skipif(not Path("/proc/self/smaps").exists(), reason="needs Linux /proc")
def test_releases_read_only_file_pages_and_leaves_writable_ones(tmp_path: Path) -> None:
    data = np.random.default_rng(7).integers(0, 256, 4 << 20, dtype=np.uint8).tobytes()
    path = tmp_path / "weights.bin"
    path.write_bytes(data)
    with path.open("rb") as read_only, path.open("r+b") as writable:
        mapped = mmap.mmap(read_only.fileno(), 0, access=mmap.ACCESS_READ)
        assert mapped[:] == data  # every page touched
        assert resident_kib(path) >= 4096

        assert release_file_pages(path) >= 4 << 20
        assert resident_kib(path) < 64
        assert mapped[:] == data  # faulted back in, unchanged

        edited = mmap.mmap(writable.fileno(), 0, access=mmap.ACCESS_WRITE)
        edited[:4] = b"edit"
        release_file_pages(path)
        assert resident_kib(path) >= 4  # the writable mapping's page stays
        assert mapped[:4] == b"edit"  # the same file, seen through both
        edited.close()
        mapped.close()


def test_release_of_an_unmapped_file_is_a_no_op(tmp_path: Path) -> None:
    path = tmp_path / "never-mapped.bin"
    path.write_bytes(b"\0" * 4096)
    assert release_file_pages(path) == 0
