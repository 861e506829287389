"""How fast an engine renders on this machine, and how much audio a listener has left.

A stream never runs dry when each chunk is ready before the audio queued ahead of it has played.
That needs two numbers nobody can configure: the engine's compute per character here (it differs
3x between machines) and the playback clock of the stream. `ComputeModel` learns the first from
every call the engine makes; `Playback` keeps the second, assuming a player that starts at the
first byte and plays in real time. Calls that run at the same time share the cores and each
takes longer: `CoreShare` says by how much, so the model learns the speed of a call alone and
predicts for the sharing of late.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator

import numpy as np

# Observations the compute model fits; old ones fall out as the machine's load changes.
_WINDOW = 24
# Before two calls of different lengths were seen: Kokoro's cost on a slow 2-core CPU.
_PRIOR_FIXED_S = 0.5
_PRIOR_PER_CHAR_S = 0.012
# Share of the audio still queued that the next chunk's compute may use, and a fixed allowance
# for resampling, queueing and the event loop.
_SAFETY = 0.7
_SLACK_S = 0.05
# Weight of the latest call in the running mean of how many calls share the cores.
_SHARING_WEIGHT = 0.3


class CoreShare:
    """How many inference calls ran at once, as each call saw it on average.

    Two calls running together on two cores each take about twice as long as alone. Timings
    taken under such load, fitted as they are, teach the compute model a machine that is slow
    for short calls and fast for long ones (measured: after eight streams, a 283-character
    chunk predicted at 0.64 s took 3.5 s, and the listener sat in 1.1 s of silence). Dividing
    each call's time by its sharing gives the speed of a call alone; predictions multiply it
    by `expected`, the sharing recent calls saw.

    Args:
        clock: Seconds on a monotonic clock (tests pass their own).
    """

    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._active = 0
        self._since = clock()
        self._integral = 0.0  # ∫ active dt since construction
        self._expected = 1.0

    def _advance(self) -> float:
        now = self._clock()
        self._integral += self._active * (now - self._since)
        self._since = now
        return now

    @contextlib.contextmanager
    def running(self) -> Iterator[Callable[[], float]]:
        """Count one call as running; yields a function giving the mean number of calls that
        ran during it (so far, or in all once it ended), itself included: 1.0 for a call alone."""
        with self._lock:
            started = self._advance()
            self._active += 1
            integral = self._integral
        ended: list[float] = []

        def mean_locked() -> float:
            elapsed = self._advance() - started
            return (self._integral - integral) / elapsed if elapsed > 0 else 1.0

        def sharing() -> float:
            if ended:
                return ended[0]
            with self._lock:
                return mean_locked()

        try:
            yield sharing
        finally:
            with self._lock:
                seen = max(1.0, mean_locked())
                ended.append(seen)
                self._active -= 1
                self._expected += _SHARING_WEIGHT * (seen - self._expected)

    @property
    def expected(self) -> float:
        """The sharing the next call will likely see: a running mean over recent calls."""
        with self._lock:
            return max(1.0, self._expected)


# All inference of this process shares one machine's cores, whichever engine or gateway runs it.
CORES = CoreShare()


class ComputeModel:
    """Seconds of compute a call takes, as fixed cost + cost per character, fitted online.

    Every call of an engine adds one (characters, seconds alone) observation; a least-squares
    line over the most recent ones gives a call's time alone, and predictions scale it by the
    sharing of late (`CoreShare.expected`). Thread-safe: inference threads observe while the
    event loop predicts.

    Args:
        cores: Who tells how many calls share the cores (the process-wide `CORES` by default).
    """

    def __init__(self, cores: CoreShare = CORES) -> None:
        self.cores = cores
        self._lock = threading.Lock()
        self._samples: deque[tuple[int, float]] = deque(maxlen=_WINDOW)
        self._fixed_s = _PRIOR_FIXED_S
        self._per_char_s = _PRIOR_PER_CHAR_S
        self._chars = 0
        self._audio_s = 0.0

    def observe(self, chars: int, seconds: float, audio_s: float, sharing: float = 1.0) -> None:
        """Record one call: `chars` characters took `seconds` and gave `audio_s` of audio,
        while `sharing` calls ran at once on average (itself included)."""
        if chars <= 0:
            return
        seconds /= max(1.0, sharing)
        with self._lock:
            self._chars += chars
            self._audio_s += audio_s
            self._samples.append((chars, seconds))
            x = np.array([c for c, _ in self._samples], dtype=np.float64)
            y = np.array([s for _, s in self._samples], dtype=np.float64)
            if len(x) >= 2 and np.ptp(x) > 0:
                per_char, fixed = np.polyfit(x, y, 1)
                self._per_char_s = max(float(per_char), 1e-5)
                self._fixed_s = max(float(fixed), 0.0)
            else:  # one length seen: keep the slope, move the line through the mean
                self._fixed_s = max(float(y.mean() - self._per_char_s * x.mean()), 0.0)

    def seconds(self, chars: int) -> float:
        """Predicted compute for a call of `chars` characters, shared as calls are of late."""
        sharing = self.cores.expected
        with self._lock:
            return (self._fixed_s + self._per_char_s * chars) * sharing

    def chars_within(self, seconds: float) -> int:
        """The most characters one call can render in `seconds`, shared as calls are of late
        (0 when not even the fixed cost fits)."""
        seconds /= self.cores.expected
        with self._lock:
            return max(0, int((seconds - self._fixed_s) / self._per_char_s))

    def efficient_chars(self, realtime_factor: float) -> int:
        """The fewest characters one call needs to render audio at `realtime_factor` or better,
        shared as calls are of late.

        A shorter chunk costs more in fixed overhead than it buys in audio: when a stream is
        short of time, cutting its chunks that small only makes it fall further behind.
        """
        alone = realtime_factor / self.cores.expected
        with self._lock:
            if not self._chars:
                return 0
            margin = alone * self._audio_s / self._chars - self._per_char_s
            return int(self._fixed_s / margin) if margin > 0 else 1 << 30

    def realtime_factor(self, chars: int) -> float | None:
        """Compute seconds per second of audio for calls of `chars` characters running alone;
        None before any call was observed."""
        with self._lock:
            if not self._chars:
                return None
            audio_s = chars * self._audio_s / self._chars
            seconds = self._fixed_s + self._per_char_s * chars
        return seconds / max(audio_s, 1e-9)


class Playback:
    """The clock of a listener who starts playing at the first byte, in real time.

    Args:
        clock: Seconds on a monotonic clock (tests pass their own).

    Attributes:
        requested_at: When the stream was asked for (`clock` seconds).
        first_audio_at: When its first audio was handed over, or None before that.
        audio_s: Seconds of audio handed over so far.
        underruns: How often the listener would have run dry before the next chunk came.
        stall_s: Total silence those underruns caused.
    """

    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        self._clock = clock
        self.requested_at = clock()
        self.first_audio_at: float | None = None
        self.audio_s = 0.0
        self.underruns = 0
        self.stall_s = 0.0

    def runs_dry_at(self) -> float:
        """When the audio handed over so far will have played; the request time before any.

        This is the deadline of the next chunk: the inference queue serves the earliest first.
        """
        if self.first_audio_at is None:
            return self.requested_at
        return self.first_audio_at + self.stall_s + self.audio_s

    def buffered_s(self) -> float:
        """Seconds of audio the listener still has queued (0 before the first chunk)."""
        if self.first_audio_at is None:
            return 0.0
        return max(0.0, self.runs_dry_at() - self._clock())

    def budget_s(self) -> float:
        """Compute the next chunk may take and still be ready before the listener runs dry."""
        return _SAFETY * self.buffered_s() - _SLACK_S

    def handed_over(self, seconds: float) -> float:
        """Count a chunk of `seconds` as handed to the listener now.

        Returns:
            The silence the listener sat through before it (0.0 when it came in time).
        """
        now = self._clock()
        late = 0.0
        if self.first_audio_at is None:
            self.first_audio_at = now
        else:
            late = max(0.0, now - self.runs_dry_at())
            if late:
                self.underruns += 1
                self.stall_s += late
        self.audio_s += seconds
        return late


class PacingStats:
    """What every stream's listener clock says, summed for /health and the metrics.

    Attributes:
        underruns: Times a listener would have run dry, over all streams since start.
        stall_s: The silence those underruns caused.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.underruns = 0
        self.stall_s = 0.0

    def add(self, underruns: int, stall_s: float) -> None:
        with self._lock:
            self.underruns += underruns
            self.stall_s += stall_s


# Characters of a word with its space, on average (English runs 5-6): sizes a first chunk.
CHARS_PER_WORD = 6


def realtime_capacity_streams(models: list[ComputeModel], first_chunk_chars: int) -> float | None:
    """How many streams the engines can keep in real time at once, at their measured speed.

    By the schedule's own rule at its tightest moment: a stream's second chunk must render
    within `_SAFETY` of its first chunk's audio, and n calls at once on the same cores each
    take n times as long. So n = `_SAFETY` / the real-time factor of a call alone of
    `first_chunk_chars` (later chunks are longer and cheaper per second of audio); the slowest
    engine decides, and the figure falls when other processes slow the machine down. Taken at
    a sentence-sized chunk without the safety share, it read 6.2 on the project's 2-core
    machine, where 4 streams of the bench's turn stalled 0.3 s and 2 never did. None before
    any engine has rendered anything.
    """
    factors = [f for m in models if (f := m.realtime_factor(first_chunk_chars)) is not None]
    return round(_SAFETY / max(factors), 2) if factors else None
