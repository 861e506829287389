"""Shared fixtures: one real gateway (real Kokoro and Piper models) for the whole session."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from loguru import logger

from pipecat_tts_gateway import Gateway, GatewayConfig
from tests.redis_server import RedisServer

ROOT = Path(__file__).resolve().parent.parent
os.chdir(ROOT)  # config.yaml's relative model paths are relative to the repo root


@pytest.fixture(scope="session")
def config() -> GatewayConfig:
    # Memory-only cache: every Gateway built from this config starts with an empty cache of
    # its own (a fault-injected gateway must not be served its healthy twin's audio), and
    # nothing is written to the repository's cache/tts.
    return GatewayConfig.load(
        ROOT / "config.yaml", environ={"TTS_GATEWAY_CACHE__FILE_MAX_BYTES": "0"}
    )


@pytest.fixture(scope="session")
async def gateway(config: GatewayConfig) -> AsyncIterator[Gateway]:
    gw = Gateway(config)
    await gw.start()
    yield gw
    await gw.close()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A real redis-server for the session; tests may `stop()` (kill) and `start()` it."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (scripts/test installs it)")
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def log_messages() -> Iterator[list[str]]:
    """Everything loguru logs during the test, as "LEVEL message" strings."""
    messages: list[str] = []
    sink = logger.add(
        lambda m: messages.append(f"{m.record['level'].name} {m.record['message']}"),
        level="DEBUG",
    )
    yield messages
    logger.remove(sink)
