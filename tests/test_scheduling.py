"""First-audio work jumps the inference queue; everything else keeps its order."""

from __future__ import annotations

import asyncio
import threading

import pytest

from pipecat_tts_gateway.scheduling import FIRST_AUDIO, PriorityExecutor


async def test_first_audio_work_runs_before_queued_follow_ups() -> None:
    executor = PriorityExecutor(1)
    gate = threading.Event()
    ran: list[str] = []
    loop = asyncio.get_running_loop()
    try:
        blocker = loop.run_in_executor(executor, gate.wait)
        follow_ups = [loop.run_in_executor(executor, ran.append, f"later-{i}") for i in range(3)]

        async def first() -> None:
            FIRST_AUDIO.set(True)  # a task's own context, as the gateway does it
            await loop.run_in_executor(executor, ran.append, "first")

        urgent = asyncio.create_task(first())
        await asyncio.sleep(0.05)
        gate.set()
        await asyncio.gather(blocker, urgent, *follow_ups)
        assert ran == ["first", "later-0", "later-1", "later-2"]
    finally:
        executor.shutdown()


def test_exceptions_reach_the_caller_and_shutdown_refuses_work() -> None:
    executor = PriorityExecutor(2)
    future = executor.submit(int, "not a number")
    with pytest.raises(ValueError):
        future.result(timeout=5)
    assert executor.submit(sum, [1, 2]).result(timeout=5) == 3
    executor.shutdown(wait=True)
    with pytest.raises(RuntimeError):
        executor.submit(sum, [1])
