"""The engine speed model and the listener's clock that size paced chunks."""

from __future__ import annotations

import pytest

from pipecat_tts_gateway.pacing import (
    ComputeModel,
    CoreShare,
    Playback,
    realtime_capacity_streams,
)


def _engine(fixed_s: float, per_char_s: float) -> ComputeModel:
    model = ComputeModel(CoreShare())  # its own cores: the process-wide ones saw other tests
    for chars in (10, 40, 80, 160, 20):
        model.observe(chars, fixed_s + per_char_s * chars, audio_s=0.07 * chars)
    return model


def test_compute_model_learns_fixed_cost_and_cost_per_character() -> None:
    model = _engine(0.3, 0.01)
    assert model.seconds(100) == pytest.approx(1.3, rel=1e-6)
    assert model.chars_within(0.8) == pytest.approx(50, abs=1)
    assert model.chars_within(0.2) == 0  # not even the fixed cost fits
    assert model.realtime_factor(100) == pytest.approx(1.3 / 7.0, rel=1e-6)


def test_compute_model_follows_a_machine_that_slows_down() -> None:
    model = ComputeModel(CoreShare())  # its own cores: the process-wide ones saw other tests
    for chars in (10, 80) * 20:
        model.observe(chars, 0.3 + 0.01 * chars, audio_s=0.07 * chars)
    for chars in (10, 80) * 20:  # another stream now shares the cores
        model.observe(chars, 2 * (0.3 + 0.01 * chars), audio_s=0.07 * chars)
    assert model.seconds(80) == pytest.approx(2.2, rel=1e-6)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_core_share_is_the_mean_number_of_calls_running_during_a_call() -> None:
    clock = Clock()
    cores = CoreShare(clock)
    assert cores.expected == 1.0
    with cores.running() as alone:
        clock.now += 1.0
        assert alone() == pytest.approx(1.0)
    with cores.running() as first:
        clock.now += 1.0  # alone for 1 s
        with cores.running() as second:
            clock.now += 1.0  # both for 1 s
        clock.now += 2.0  # alone again for 2 s
        assert first() == pytest.approx(5.0 / 4.0)
    assert second() == pytest.approx(2.0)
    # A running mean over calls: moved toward 2.0 and 1.25, never below one call.
    assert 1.0 < cores.expected < 2.0


def test_compute_model_learns_a_call_alone_from_calls_that_shared_the_cores() -> None:
    cores = CoreShare(Clock())
    shared, alone = ComputeModel(cores), ComputeModel(cores)
    for chars in (10, 40, 80, 160, 20):
        seconds = 0.3 + 0.01 * chars
        # Under two streams, short calls overlapped another call (twice as long) and long
        # ones mostly ran alone: fitted raw, that line would be flat and far too cheap.
        sharing = 2.0 if chars < 50 else 1.1
        shared.observe(chars, seconds * sharing, 0.07 * chars, sharing)
        alone.observe(chars, seconds, 0.07 * chars)
    assert shared.seconds(283) == pytest.approx(alone.seconds(283), rel=1e-6)
    assert shared.realtime_factor(100) == pytest.approx(1.3 / 7.0, rel=1e-6)


def test_compute_model_predicts_for_the_sharing_of_late() -> None:
    clock = Clock()
    cores = CoreShare(clock)
    model = ComputeModel(cores)
    for chars in (10, 80):
        model.observe(chars, 0.3 + 0.01 * chars, audio_s=0.07 * chars)
    alone_chars = model.chars_within(1.1)
    for _ in range(20):  # two calls at a time from now on
        with cores.running():
            with cores.running():
                clock.now += 1.0
    assert cores.expected == pytest.approx(2.0, rel=1e-3)
    assert model.seconds(80) == pytest.approx(2 * 1.1, rel=1e-3)
    assert model.chars_within(2 * 1.1) == pytest.approx(alone_chars, abs=1)
    assert model.realtime_factor(80) == pytest.approx(1.1 / 5.6, rel=1e-6)  # alone: unchanged


def test_capacity_is_the_streams_whose_second_chunks_render_while_first_ones_play() -> None:
    fast, slow = _engine(0.3, 0.01), _engine(0.6, 0.02)
    assert realtime_capacity_streams([], 30) is None
    assert realtime_capacity_streams([ComputeModel(CoreShare())], 30) is None  # nothing run yet
    # A 30-character call: 0.6 s for 2.1 s of audio. n at once take n × 0.6 s, and the
    # schedule gives a chunk 70% of the audio ahead of it: n = 0.7 × 2.1 / 0.6.
    assert realtime_capacity_streams([fast], 30) == pytest.approx(2.45)
    # Twice as slow carries half as many; the slowest engine decides.
    assert realtime_capacity_streams([slow], 30) == pytest.approx(1.23, abs=0.01)
    assert realtime_capacity_streams([fast, slow], 30) == realtime_capacity_streams([slow], 30)
    # Longer first chunks spread the fixed cost over more audio.
    assert realtime_capacity_streams([fast], 120) > realtime_capacity_streams([fast], 30)


def test_compute_model_before_any_call_is_conservative() -> None:
    model = ComputeModel(CoreShare())  # its own cores: the process-wide ones saw other tests
    assert model.realtime_factor(50) is None
    assert model.seconds(50) > 0.5


def test_playback_counts_underruns_and_their_silence() -> None:
    clock = Clock()
    playback = Playback(clock)
    assert playback.runs_dry_at() == 100.0  # a first chunk is due at once
    assert playback.buffered_s() == 0.0
    clock.now = 100.5
    playback.handed_over(0.05)  # first audio after 0.5 s
    assert playback.first_audio_at == 100.5
    assert playback.runs_dry_at() == pytest.approx(100.55)
    clock.now = 100.65  # the listener ran dry 0.1 s ago
    assert playback.handed_over(10.0) == pytest.approx(0.1)
    assert playback.underruns == 1
    assert playback.stall_s == pytest.approx(0.1)
    # The silence moved the clock: 10 s are queued from now on, not from before the stall.
    assert playback.buffered_s() == pytest.approx(10.0)
    assert playback.budget_s() == pytest.approx(0.7 * 10.0 - 0.05)
    clock.now = 105.0
    assert playback.handed_over(1.0) == 0.0  # in time: 5.65 s were still queued
    assert (playback.underruns, playback.buffered_s()) == (1, pytest.approx(6.65))
