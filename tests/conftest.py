"""Shared fixtures: one real gateway (real Kokoro and Piper models) for the whole session."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from pipecat_tts_gateway import Gateway, GatewayConfig

ROOT = Path(__file__).resolve().parent.parent
os.chdir(ROOT)  # config.yaml's relative model paths are relative to the repo root


@pytest.fixture(scope="session")
def config() -> GatewayConfig:
    return GatewayConfig.load(ROOT / "config.yaml", environ={})


@pytest.fixture(scope="session")
async def gateway(config: GatewayConfig) -> AsyncIterator[Gateway]:
    gw = Gateway(config)
    await gw.start()
    yield gw
    await gw.close()
