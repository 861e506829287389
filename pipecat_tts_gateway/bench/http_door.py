"""A real `tts-gateway serve` subprocess and a streaming client timing the first body byte."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil

from pipecat_tts_gateway.bench.results import Sample

START_TIMEOUT_S = 180.0


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerProcess:
    """`python -m pipecat_tts_gateway serve` on a free port, stopped on exit.

    Args:
        config_path: The config file it serves with.
        log_path: Where its output goes (read back when it fails to start).
        cwd: Its working directory; relative model paths in the config resolve from here.
    """

    def __init__(self, config_path: Path, log_path: Path, cwd: Path) -> None:
        self._config_path = config_path
        self._log_path = log_path
        self._cwd = cwd
        self.url = ""
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> ServerProcess:
        port = free_port()
        # The config file says everything: environment overrides would make runs differ.
        env = {k: v for k, v in os.environ.items() if not k.startswith("TTS_GATEWAY_")}
        command = [sys.executable, "-m", "pipecat_tts_gateway", "serve", "--port", str(port)]
        with self._log_path.open("wb") as log:
            self._process = subprocess.Popen(
                [*command, "--config", str(self._config_path)],
                cwd=self._cwd,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
        self.url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"server exited during start; see {self._log_path}")
            try:
                if httpx.get(f"{self.url}/health", timeout=2.0).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        self.__exit__()
        raise RuntimeError(f"server not ready in {START_TIMEOUT_S:g} s; see {self._log_path}")

    def __exit__(self, *exc: object) -> None:
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()

    def rss_mb(self) -> float:
        """The server's resident memory."""
        assert self._process is not None
        return psutil.Process(self._process.pid).memory_info().rss / 2**20


async def http_sample(client: httpx.AsyncClient, text: str, sample_rate: int) -> Sample:
    """POST /synthesize with streaming 16-bit PCM; times the first and last body bytes.

    Raises:
        httpx.HTTPStatusError: The server answered with an error.
    """
    body = {"text": text, "format": "s16le", "sample_rate": sample_rate, "stream": True}
    start = time.perf_counter()
    first: float | None = None
    received = 0
    async with client.stream("POST", "/synthesize", json=body) as response:
        response.raise_for_status()
        async for data in response.aiter_raw():
            if data and first is None:
                first = time.perf_counter()
            received += len(data)
    end = time.perf_counter()
    if first is None:
        raise RuntimeError("no audio in the response body")
    return Sample((first - start) * 1000.0, (end - start) * 1000.0, received / 2 / sample_rate)
