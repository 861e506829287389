"""What a bench run measured: raw samples grouped into rows, plus machine facts."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any

import numpy as np


def percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile (linear interpolation); None for no values."""
    return float(np.percentile(values, q)) if values else None


@dataclass
class Sample:
    """One request, timed from the moment its text was handed over.

    Attributes:
        first_audio_ms: Until the first audio arrived (chunk, frame or body byte).
        total_ms: Until the last audio arrived.
        audio_s: Seconds of audio received.
    """

    first_audio_ms: float
    total_ms: float
    audio_s: float

    @property
    def rtf(self) -> float:
        """Real-time factor: wall time over audio time (below 1 is faster than real time)."""
        return self.total_ms / 1000.0 / self.audio_s if self.audio_s else float("nan")


@dataclass
class TimingRow:
    """Samples of one (door, system, engine, scenario, cache) combination.

    Attributes:
        door: "in-process", "pipecat" or "http".
        system: "ours" or the peer's class name.
        engine: "kokoro" or "piper".
        scenario: Scenario name.
        cached: Whether the text was in our cache (peers have no cache).
        samples: The measured requests.
        errors: Requests that failed or timed out.
    """

    door: str
    system: str
    engine: str
    scenario: str
    cached: bool
    samples: list[Sample] = field(default_factory=list)
    errors: int = 0

    def first_audio(self, q: float) -> float | None:
        return percentile([s.first_audio_ms for s in self.samples], q)

    @property
    def rtf(self) -> float | None:
        return statistics.median(s.rtf for s in self.samples) if self.samples else None


@dataclass
class ConcurrencyRow:
    """N simultaneous Kokoro streams of one scenario's text, repeated `rounds` times.

    Attributes:
        streams: Streams started at once.
        rounds: How many times the batch was run.
        scenario: The text every stream speaks ("turn", "paragraph").
        first_audio_ms: First audio of every stream of every round.
        audio_s: Audio received over all rounds.
        wall_s: Sum of the rounds' wall times (first start to last audio).
        underruns: Streams whose audio fell behind real time after their first chunk.
        stall_ms: Per stream, the total silence a player started at its first chunk would
            have played (how bad the underruns were, not just how many).
        errors: Streams that failed.
    """

    streams: int
    rounds: int
    scenario: str = "turn"
    first_audio_ms: list[float] = field(default_factory=list)
    stall_ms: list[float] = field(default_factory=list)
    audio_s: float = 0.0
    wall_s: float = 0.0
    underruns: int = 0
    errors: int = 0

    @property
    def throughput(self) -> float:
        """Seconds of audio produced per wall-clock second."""
        return self.audio_s / self.wall_s if self.wall_s else 0.0


@dataclass
class BackendRow:
    """Kokoro on one inference backend, alone, on the same texts as the other backend.

    Attributes:
        backend: What ran ("onnxruntime", "openvino-bf16").
        model: The model file it ran.
        rss_mb: Resident memory the engine added when loaded and warmed.
        first_chunk_ms: Bare calls on the LLM turn's first chunk.
        rtf: Compute over audio of each sentence of the turn and the paragraph, one call each.
        word_errors: Recognizer word errors over those sentences (pocketsphinx, 16 kHz).
        words: Words in those sentences.
    """

    backend: str
    model: str
    rss_mb: float = 0.0
    first_chunk_ms: list[float] = field(default_factory=list)
    rtf: list[float] = field(default_factory=list)
    word_errors: int = 0
    words: int = 0


@dataclass
class FloorRow:
    """The bare engine call for a scenario's first chunk against the gateway's first audio.

    Attributes:
        engine: "kokoro" or "piper".
        scenario: Scenario name.
        first_chunk: The text of the first chunk the gateway synthesizes.
        floor_ms: Bare `Engine.pieces` times for that chunk.
    """

    engine: str
    scenario: str
    first_chunk: str
    floor_ms: list[float] = field(default_factory=list)


@dataclass
class MemoryResult:
    """Resident memory of the bench process with both engines loaded (before any peer loads).

    Attributes:
        idle_mb: After loading and warming the engines.
        load_peak_mb: Highest RSS sampled while the concurrency batches ran.
        trend: (requests done, RSS MB) every `every` requests of the memory trend.
        requests: Requests in the trend.
        errors: Failed requests in the trend.
        server_idle_mb: The HTTP server process after start (its own engines only).
        server_after_mb: The HTTP server process after its requests.
    """

    idle_mb: float = 0.0
    load_peak_mb: float = 0.0
    trend: list[tuple[int, float]] = field(default_factory=list)
    requests: int = 0
    errors: int = 0
    server_idle_mb: float | None = None
    server_after_mb: float | None = None

    @property
    def slope_mb_per_1000(self) -> float | None:
        """Least-squares slope of RSS over requests, skipping the first point (warm-up)."""
        points = self.trend[1:] if len(self.trend) > 2 else self.trend
        if len(points) < 2:
            return None
        x, y = np.array(points, dtype=float).T
        return float(np.polyfit(x, y, 1)[0] * 1000.0)


@dataclass
class SweepRow:
    """One `streaming.first_chunk_words` value: first audio and intelligibility.

    Attributes:
        words: The first_chunk_words setting.
        first_audio_ms: Uncached in-process first audio of the English turn and paragraph.
        wer: Word error rate of the recognizer on the whole turn, as streamed.
        first_chunk_wer: Word error rate on the first chunk alone.
        stall_ms: Silence between the end of the first chunk's audio and the second chunk's
            arrival, for a player started at the first chunk (0 when the second came in time).
    """

    words: int
    first_audio_ms: list[float] = field(default_factory=list)
    stall_ms: list[float] = field(default_factory=list)
    wer: list[float] = field(default_factory=list)
    first_chunk_wer: list[float] = field(default_factory=list)


@dataclass
class SubsentenceRow:
    """One sentence: streaming-vits's first audio, split into its two parts.

    Attributes:
        scenario: Scenario name.
        sentence: The scenario's first sentence, given whole to streaming-vits.
        frames: Decoder frames of the whole sentence (256 samples each).
        first_frames: Frames in the first decoded chunk.
        right_frames: Frames of right-hand context decoded with it (and discarded).
        frontend_ms: Phonemes and the frontend on the whole sentence.
        first_decode_ms: The decoder on the first chunk of frames (with its context).
    """

    scenario: str
    sentence: str
    frames: int = 0
    first_frames: int = 0
    right_frames: int = 0
    frontend_ms: list[float] = field(default_factory=list)
    first_decode_ms: list[float] = field(default_factory=list)

    @property
    def first_audio_ms(self) -> list[float]:
        return [a + b for a, b in zip(self.frontend_ms, self.first_decode_ms, strict=True)]


@dataclass
class ConstructionResult:
    """`GatewayTTSService(config=...)` built while its engines are already loaded.

    Attributes:
        ms: Time of each construction.
        rss_mb: Resident memory the services added together.
        shared: Whether every service got the loaded engine objects themselves.
    """

    ms: list[float] = field(default_factory=list)
    rss_mb: float | None = None
    shared: bool | None = None


@dataclass
class Results:
    """Everything one run produced."""

    command: str
    machine: dict[str, Any]
    options: dict[str, Any]
    timings: list[TimingRow] = field(default_factory=list)
    floors: list[FloorRow] = field(default_factory=list)
    backends: list[BackendRow] = field(default_factory=list)
    concurrency: list[ConcurrencyRow] = field(default_factory=list)
    memory: MemoryResult = field(default_factory=MemoryResult)
    sweep: list[SweepRow] = field(default_factory=list)
    subsentence: list[SubsentenceRow] = field(default_factory=list)
    greeting_after_start_ms: list[float] = field(default_factory=list)
    construction: ConstructionResult = field(default_factory=ConstructionResult)
    notes: list[str] = field(default_factory=list)
    duration_s: float = 0.0

    def row(self, door: str, system: str, engine: str, scenario: str, cached: bool) -> TimingRow:
        """The row for a combination, created on first use."""
        row = self.find(door, system, engine, scenario, cached)
        if row is None:
            row = TimingRow(door, system, engine, scenario, cached)
            self.timings.append(row)
        return row

    def find(
        self, door: str, system: str, engine: str, scenario: str, cached: bool
    ) -> TimingRow | None:
        """The row for a combination, or None when it was not measured."""
        return next(
            (
                r
                for r in self.timings
                if (r.door, r.system, r.engine, r.scenario, r.cached)
                == (door, system, engine, scenario, cached)
            ),
            None,
        )
