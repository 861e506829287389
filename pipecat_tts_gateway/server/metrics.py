"""Prometheus metrics of the HTTP door, in a registry of its own.

A registry per app (not the global default) keeps two apps in one process, as in tests, from
colliding over metric names. Label values are bounded: endpoints come from a fixed list, engines
and cache results from the core, error codes from the code tables.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from pipecat_tts_gateway.gateway import Gateway
from pipecat_tts_gateway.server.admission import Admission

ENDPOINTS = ("/synthesize", "/v1/audio/speech", "/v1/stream", "/health", "/voices", "/metrics")

_LATENCY_BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0)
_RTF_BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 4.0)


def endpoint_label(path: str) -> str:
    """A request path as a label value; unknown paths share one value."""
    return path if path in ENDPOINTS else "other"


class Metrics:
    """Counters and histograms the door updates, rendered by GET /metrics.

    Args:
        admission: Read at scrape time for the running and queued gauges.
        gateway: Read at scrape time for the listeners' underruns and the real-time capacity.
    """

    def __init__(self, admission: Admission, gateway: Gateway) -> None:
        self.registry = CollectorRegistry()
        registry = self.registry
        registry.register(_RealtimeCollector(gateway))
        self._requests = Counter(
            "tts_gateway_requests",
            "Syntheses by endpoint, engine of the first segment, cache result and outcome "
            "(completed, cancelled by a client disconnect, failed mid-stream)",
            ["endpoint", "engine", "cache", "outcome"],
            registry=registry,
        )
        self._errors = Counter(
            "tts_gateway_errors",
            "Error responses by endpoint and error code",
            ["endpoint", "code"],
            registry=registry,
        )
        self._first_audio = Histogram(
            "tts_gateway_first_audio_seconds",
            "Request received to first audio ready, queueing included",
            ["engine"],
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self._queue_wait = Histogram(
            "tts_gateway_queue_wait_seconds",
            "Time a request waited for a synthesis slot",
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self._rtf = Histogram(
            "tts_gateway_real_time_factor",
            "Wall time of a completed synthesis over the duration of its audio",
            ["engine"],
            buckets=_RTF_BUCKETS,
            registry=registry,
        )
        self._audio = Counter(
            "tts_gateway_audio_seconds",
            "Seconds of audio produced",
            ["engine"],
            registry=registry,
        )
        self._cache = {"hit": 0, "miss": 0}
        Gauge(
            "tts_gateway_cache_hit_ratio",
            "Share of syntheses served from the cache since start",
            registry=registry,
        ).set_function(self._hit_ratio)
        Gauge(
            "tts_gateway_active_syntheses", "Syntheses holding a slot", registry=registry
        ).set_function(lambda: admission.active)
        Gauge(
            "tts_gateway_queued_requests", "Requests waiting for a slot", registry=registry
        ).set_function(lambda: admission.queued)

    def error(self, path: str, code: str) -> None:
        self._errors.labels(endpoint_label(path), code).inc()

    def queued(self, seconds: float) -> None:
        self._queue_wait.observe(seconds)

    def first_audio(self, engine: str, seconds: float) -> None:
        self._first_audio.labels(engine).observe(seconds)

    def finished(
        self, endpoint: str, summary: dict[str, Any], outcome: str, elapsed_s: float
    ) -> None:
        """Record one synthesis from the core's `SynthesisStream.summary()`."""
        engine = summary.get("engine") or "none"
        cache = summary.get("cache") or "miss"
        audio_s = float(summary.get("duration_s") or 0.0)
        self._requests.labels(endpoint_label(endpoint), engine, cache, outcome).inc()
        self._audio.labels(engine).inc(audio_s)
        if cache in self._cache:
            self._cache[cache] += 1
        if outcome == "completed" and audio_s > 0:
            self._rtf.labels(engine).observe(elapsed_s / audio_s)

    def _hit_ratio(self) -> float:
        total = self._cache["hit"] + self._cache["miss"]
        return self._cache["hit"] / total if total else 0.0

    def render(self) -> tuple[bytes, str]:
        """The exposition text and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class _RealtimeCollector:
    """The core's pacing figures, read when scraped (every door's streams count, not just HTTP)."""

    def __init__(self, gateway: Gateway) -> None:
        self._gateway = gateway

    def collect(self) -> Iterator[Metric]:
        pacing = self._gateway.pacing
        yield CounterMetricFamily(
            "tts_gateway_underruns",
            "Times a listener playing from the first byte would have run dry mid-stream",
            value=pacing.underruns,
        )
        yield CounterMetricFamily(
            "tts_gateway_stall_seconds",
            "Silence those underruns caused",
            value=pacing.stall_s,
        )
        capacity = self._gateway.realtime_capacity_streams()
        yield GaugeMetricFamily(
            "tts_gateway_realtime_capacity_streams",
            "Streams the engines can keep in real time at their measured speed (NaN: unknown)",
            value=math.nan if capacity is None else capacity,
        )
