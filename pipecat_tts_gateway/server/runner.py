"""`tts-gateway serve`: warm the engines, start prerendering, then serve HTTP with uvicorn
(and Wyoming on its own port when asked), all doors over one gateway.

The gateway starts before the sockets are bound, so the first request never waits for a model
to load; the ready line is logged once uvicorn is listening, with the bound address, and before
the event loop can answer any request (a client that sees /health answer sees the line too).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
from collections.abc import Callable, Iterator

import uvicorn
from loguru import logger

from pipecat_tts_gateway.config import GatewayConfig
from pipecat_tts_gateway.gateway import Gateway
from pipecat_tts_gateway.server.app import create_app
from pipecat_tts_gateway.server.wyoming_door import start_wyoming

# Open streams get this long to finish on shutdown before they are cut.
GRACEFUL_SHUTDOWN_S = 5
_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class _Server(uvicorn.Server):
    """uvicorn's server, except that a signal only stops serving, and `on_ready` is told the
    bound address as soon as the sockets listen.

    uvicorn re-raises SIGINT/SIGTERM once it has stopped, which for SIGTERM (docker stop,
    systemd) kills the process before the gateway is closed and the cache's pending
    write-backs are lost. Here the signal ends `serve()` and the caller closes the gateway.
    """

    def __init__(self, config: uvicorn.Config, on_ready: Callable[[str, int], None]) -> None:
        super().__init__(config)
        self._on_ready = on_ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        # No await between binding and here: no connection has been served yet.
        if self.started:
            self._on_ready(*self.servers[0].sockets[0].getsockname()[:2])

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        loop = asyncio.get_running_loop()
        for sig in _SIGNALS:
            loop.add_signal_handler(sig, self.handle_exit, sig, None)
        try:
            yield
        finally:
            for sig in _SIGNALS:
                loop.remove_signal_handler(sig)


class _ToLoguru(logging.Handler):
    """Send uvicorn's standard-library logging (startup, access log) through loguru."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            level: str | int = logger.level(record.levelname).name
        except ValueError:
            level = record.levelno
        logger.patch(
            lambda r: r.update(name=record.name, function=record.funcName, line=record.lineno)
        ).opt(exception=record.exc_info).log(level, "{}", record.getMessage())


def serve(
    config: GatewayConfig,
    host: str | None = None,
    port: int | None = None,
    wyoming_port: int | None = None,
) -> None:
    """Run the server until interrupted.

    Args:
        config: The whole configuration; `config.server` has the defaults for host and port.
        host: Overrides `server.host`.
        port: Overrides `server.port` (0 picks a free port; the ready line names it).
        wyoming_port: Overrides `wyoming.port` (0: no Wyoming door).
    """
    logging.basicConfig(handlers=[_ToLoguru()], level=logging.INFO, force=True)
    asyncio.run(
        _serve(
            config,
            host or config.server.host,
            config.server.port if port is None else port,
            config.wyoming.port if wyoming_port is None else wyoming_port,
        )
    )


async def _serve(config: GatewayConfig, host: str, port: int, wyoming_port: int) -> None:
    gateway = Gateway(config)
    await gateway.start()
    wyoming = None
    try:
        gateway.start_prerender()
        if wyoming_port:
            wyoming = await start_wyoming(gateway, host, wyoming_port)
            logger.info("Wyoming TTS on tcp://{}:{}", host, wyoming_port)

        def ready(bound_host: str, bound_port: int) -> None:
            logger.info(
                "TTS gateway ready on http://{}:{} (engines: {}; languages: {}; auth: {})",
                bound_host,
                bound_port,
                ", ".join(gateway.engines),
                ", ".join(gateway.router.languages),
                "API key" if config.server.api_key else "off",
            )

        server = _Server(
            uvicorn.Config(
                create_app(gateway, config.server),
                host=host,
                port=port,
                log_config=None,
                lifespan="off",
                timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
                ws_max_size=config.server.max_body_bytes,
            ),
            on_ready=ready,
        )
        await server.serve()
    finally:
        if wyoming is not None:
            await wyoming.stop()
        await gateway.close()
        logger.info("TTS gateway stopped")
