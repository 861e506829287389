"""The Redis tier: a cache shared by every gateway process pointed at one Redis.

This is how the gateway scales past one machine: a phrase rendered (or prerendered) by one
process is a hit in all the others. Redis is optional and may vanish at any time, so no Redis
error ever reaches a caller: the first failure logs one warning and takes the tier out of
service, a background probe pings every `retry_s` seconds, and one line is logged when it is
back. While it is down, requests skip it entirely instead of each waiting for a timeout.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit, urlunsplit

import redis.asyncio as aioredis
from loguru import logger
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from pipecat_tts_gateway.errors import ConfigError

PREFIX = "tts:"

# OSError covers refused connections and socket timeouts that surface below redis-py.
_FAILURES = (RedisError, OSError)


class RedisTier:
    """Entries under `tts:<key>` with a TTL, through short timeouts.

    Args:
        url: e.g. `redis://localhost:6379/0`.
        timeout_s: Connect and read timeout of each call; slower counts as down.
        retry_s: How often a down Redis is probed.

    Raises:
        ConfigError: The URL cannot be parsed.
    """

    def __init__(self, url: str, *, timeout_s: float, retry_s: float) -> None:
        self.where = _redact(url)
        try:
            self._client = aioredis.Redis.from_url(
                url,
                socket_timeout=timeout_s,
                socket_connect_timeout=timeout_s,
                # One retry on a fresh connection hides a pooled socket that went stale when
                # Redis restarted; more would only multiply the wait while it is down.
                retry=Retry(NoBackoff(), 1),
            )
        except ValueError as exc:
            raise ConfigError(f"cache.redis_url {self.where!r}: {exc}") from exc
        self._retry_s = retry_s
        self._down = False
        self._probe: asyncio.Task[None] | None = None

    @property
    def available(self) -> bool:
        """False from a failure until a probe reaches Redis again."""
        return not self._down

    async def get(self, key: str) -> bytes | None:
        if self._down:
            return None
        try:
            return await self._client.get(PREFIX + key)
        except _FAILURES as exc:
            self._went_down(exc)
            return None

    async def put(self, key: str, data: bytes, ttl_s: float) -> None:
        """Store with a TTL of `ttl_s` seconds (0 or less: no expiry)."""
        if self._down:
            return
        try:
            await self._client.set(
                PREFIX + key, data, px=max(1, round(ttl_s * 1000)) if ttl_s > 0 else None
            )
        except _FAILURES as exc:
            self._went_down(exc)

    async def delete(self, key: str) -> None:
        if self._down:
            return
        try:
            await self._client.delete(PREFIX + key)
        except _FAILURES as exc:
            self._went_down(exc)

    async def close(self) -> None:
        if self._probe is not None:
            self._probe.cancel()
            await asyncio.gather(self._probe, return_exceptions=True)
        await self._client.aclose()

    def _went_down(self, error: BaseException) -> None:
        if not self._down:
            self._down = True
            logger.warning(
                "Redis cache at {} is unavailable; going on without it (retrying every {:g} s): "
                "{}: {}",
                self.where,
                self._retry_s,
                type(error).__name__,
                error,
            )
        if self._probe is None or self._probe.done():
            self._probe = asyncio.get_running_loop().create_task(self._reconnect())

    async def _reconnect(self) -> None:
        while self._down:
            await asyncio.sleep(self._retry_s)
            try:
                await self._client.ping()
            except _FAILURES as exc:
                logger.debug("Redis cache at {} still down: {}", self.where, exc)
            else:
                self._down = False
                logger.info("Redis cache at {} is back", self.where)


def _redact(url: str) -> str:
    """The URL without its password, for logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"***@{host}"))
