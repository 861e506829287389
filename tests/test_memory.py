"""The idle reclaimer: memory goes back only while no inference runs."""

from __future__ import annotations

import threading
import time

from pipecat_tts_gateway.memory import IdleReclaimer


def wait_for(condition: object, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "not reached in time"
        time.sleep(0.01)


def test_releases_once_idle_and_not_before() -> None:
    released = threading.Event()
    reclaimer = IdleReclaimer(released.set, delay_s=0.05)
    with reclaimer.running():
        # Inside a run nothing is released, however long it takes.
        assert not released.wait(0.3)
    assert released.wait(10)
    assert reclaimer.reclaims == 1


def test_a_run_in_the_delay_postpones_the_release() -> None:
    calls: list[float] = []
    reclaimer = IdleReclaimer(lambda: calls.append(time.monotonic()), delay_s=0.2)
    with reclaimer.running():
        pass
    with reclaimer.running():  # starts inside the first run's delay: that timer is void
        time.sleep(0.4)
        assert calls == []
        ended = time.monotonic()
    wait_for(lambda: calls)
    assert calls[0] >= ended
    time.sleep(0.3)
    assert len(calls) == 1  # the void timer released nothing on its own


def test_never_releases_during_a_run_of_many_threads() -> None:
    active = 0
    lock = threading.Lock()
    overlaps: list[int] = []

    def release() -> None:
        with lock:
            if active:
                overlaps.append(active)

    reclaimer = IdleReclaimer(release, delay_s=0.0)

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


def test_a_failing_release_still_trims_and_counts(log_messages: list[str]) -> None:
    def release() -> None:
        raise RuntimeError("device busy")

    reclaimer = IdleReclaimer(release, delay_s=0.0)
    with reclaimer.running():
        pass
    wait_for(lambda: reclaimer.reclaims == 1)
    assert any("releasing inference buffers failed: device busy" in m for m in log_messages)
