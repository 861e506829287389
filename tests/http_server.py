"""A real `tts-gateway serve` subprocess for the HTTP tests, and small clients' helpers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.redis_server import free_port

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT_S = 180.0


class ServerProcess:
    """A running server: its URL, its log, and a client factory."""

    def __init__(self, url: str, log_path: Path, process: subprocess.Popen[bytes]) -> None:
        self.url = url
        self.log_path = log_path
        self.process = process

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=300.0, **kwargs)

    def metric(self, name: str, headers: dict[str, str] | None = None, **labels: str) -> float:
        """Sum of the samples of `name` whose labels include `labels`."""
        text = httpx.get(f"{self.url}/metrics", headers=headers, timeout=30.0).text
        return sum(
            sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if sample.name == name and labels.items() <= sample.labels.items()
        )


def _merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


@contextmanager
def run_server(
    directory: Path,
    overrides: dict[str, Any],
    env: dict[str, str] | None = None,
    stop: signal.Signals = signal.SIGINT,
    args: tuple[str, ...] = (),
) -> Iterator[ServerProcess]:
    """Start `python -m pipecat_tts_gateway serve` on a free port and wait for /health.

    Args:
        directory: Holds the config, the file cache and the log.
        overrides: Merged into the repository's config.yaml.
        env: Extra environment (TTS_GATEWAY_* from the caller's environment are dropped).
        stop: The signal that stops it.
        args: More `serve` arguments.
    """
    base = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))
    config = _merge(base, {"prerender": {"cache_dir": str(directory / "cache")}} | overrides)
    config_path = directory / "config.yaml"
    config_path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    environ = {k: v for k, v in os.environ.items() if not k.startswith("TTS_GATEWAY_")}
    port = free_port()
    log_path = directory / "server.log"
    command = [sys.executable, "-m", "pipecat_tts_gateway", "serve", "--port", str(port)]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [*command, "--config", str(config_path), *args],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=environ | (env or {}),
        )
    server = ServerProcess(f"http://127.0.0.1:{port}", log_path, process)
    try:
        _wait_ready(server)
        yield server
    finally:
        process.send_signal(stop)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_ready(server: ServerProcess) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"server exited during start:\n{server.log()[-4000:]}")
        try:
            if httpx.get(f"{server.url}/health", timeout=2.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"server not ready in {START_TIMEOUT_S} s:\n{server.log()[-4000:]}")


def wait_until(condition: Any, timeout_s: float = 60.0, what: str = "condition") -> None:
    """Poll `condition()` until it is true."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)
