"""The inference queue serves the earliest deadline first; equal deadlines keep their order."""

from __future__ import annotations

import asyncio
import threading

import pytest

from pipecat_tts_gateway.scheduling import DEADLINE, PriorityExecutor


async def test_earliest_deadline_runs_first() -> None:
    executor = PriorityExecutor(1)
    gate = threading.Event()
    ran: list[str] = []
    loop = asyncio.get_running_loop()

    async def due(name: str, deadline: float) -> None:
        DEADLINE.set(deadline)  # a task's own context, as the gateway does it
        await loop.run_in_executor(executor, ran.append, name)

    try:
        blocker = loop.run_in_executor(executor, gate.wait)
        undated = [loop.run_in_executor(executor, ran.append, f"prerender-{i}") for i in range(2)]
        tasks = [
            asyncio.create_task(due(name, deadline))
            for name, deadline in [("follow-up", 20.0), ("first", 10.0), ("dry-soon", 5.0)]
        ]
        tasks.append(asyncio.create_task(due("first-2", 10.0)))
        await asyncio.sleep(0.05)
        gate.set()
        await asyncio.gather(blocker, *undated, *tasks)
        assert ran == ["dry-soon", "first", "first-2", "follow-up", "prerender-0", "prerender-1"]
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
