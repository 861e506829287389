"""Kokoro on both backends: ONNX Runtime (int8 model) and OpenVINO (dequantized fp32, bf16)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import numpy as np
import pytest

from pipecat_tts_gateway import Gateway, GatewayConfig
from pipecat_tts_gateway.engines import CancelToken, KokoroEngine
from pipecat_tts_gateway.engines.base import InferenceCancelled
from pipecat_tts_gateway.engines.factory import build_engines
from pipecat_tts_gateway.engines.kokoro_runtime import openvino_bf16_available
from pipecat_tts_gateway.intelligibility import transcribe, word_error_rate
from tests.conftest import ROOT
from tests.residency import resident_kib
from tests.speech import GREETING, HOLD, KOKORO_WER_BOUND, SCHEDULE

pytest.importorskip("openvino")

BACKENDS = ("onnxruntime", "openvino")


def config_for(backend: str) -> GatewayConfig:
    """Kokoro alone on `backend` ("openvino-bf16" names its family), nothing cached."""
    return GatewayConfig.load(
        ROOT / "config.yaml",
        environ={
            "TTS_GATEWAY_KOKORO__BACKEND": backend.split("-")[0],
            "TTS_GATEWAY_FALLBACK_TTS__ENABLED": "false",
            "TTS_GATEWAY_CACHE__ENABLED": "false",
        },
    )


@pytest.fixture(scope="module", params=BACKENDS)
def kokoro(request: pytest.FixtureRequest) -> Iterator[KokoroEngine]:
    engine = build_engines(config_for(request.param))["kokoro"]
    assert isinstance(engine, KokoroEngine)
    yield engine


def test_the_backend_asked_for_runs(kokoro: KokoroEngine) -> None:
    assert kokoro.backend.split("-")[0] in BACKENDS
    assert kokoro.describe()["backend"] == kokoro.backend
    assert kokoro.has_durations  # both model files keep the duration output for word times
    if kokoro.backend.startswith("openvino"):
        assert kokoro._runtime is not None
        assert kokoro._runtime.path.suffix == ".xml"  # the IR `models fetch` wrote, mapped


@pytest.mark.parametrize("sentence", [HOLD, SCHEDULE, " ".join(GREETING)])
def test_both_backends_speak_intelligibly(kokoro: KokoroEngine, sentence: str) -> None:
    """Worst WER of 20 renders per sentence on each backend: tests/speech.py.

    The engine renders the sentence whole: a paced stream's cuts follow the machine's speed
    (on a slow one "Let me check" became a chunk of its own, heard as "when he checked").
    """
    pieces = list(kokoro.pieces(sentence, kokoro.default_voice("en"), 1.0, CancelToken()))
    heard = transcribe(np.concatenate([p.samples for p in pieces]), kokoro.sample_rate)
    assert word_error_rate(sentence, heard) <= KOKORO_WER_BOUND, (kokoro.backend, heard)


def test_speaks_the_same_after_giving_its_memory_back(kokoro: KokoroEngine) -> None:
    """Idle, the heap is trimmed under the backend; the next run must render the same speech."""
    reclaimer = kokoro._reclaimer
    first = np.concatenate([p.samples for p in kokoro.pieces(HOLD, "af_heart", 1.0, CancelToken())])
    released = reclaimer.reclaims
    deadline = time.monotonic() + 30
    while reclaimer.reclaims == released:
        assert time.monotonic() < deadline, "the idle backend's heap was never trimmed"
        time.sleep(0.05)
    assert kokoro._runtime is not None
    if kokoro._runtime.path.suffix == ".xml":  # OpenVINO's mapped weights went back too
        assert resident_kib(kokoro._runtime.path.with_suffix(".bin")) < 16 << 10
    again = np.concatenate([p.samples for p in kokoro.pieces(HOLD, "af_heart", 1.0, CancelToken())])
    assert again.size == first.size  # same durations: the graph ran on the same inputs
    heard = transcribe(again, kokoro.sample_rate)
    assert word_error_rate(HOLD, heard) <= KOKORO_WER_BOUND, (kokoro.backend, heard)


def test_cancel_stops_a_run_in_flight(kokoro: KokoroEngine) -> None:
    # One piece of about 350 phoneme tokens: seconds of inference on any CPU.
    text = " ".join(["wonderful appointments"] * 20)
    started = time.perf_counter()
    whole = list(kokoro.pieces(text, "af_heart", 1.0, CancelToken()))
    full_s = time.perf_counter() - started
    assert len(whole) == 1

    cancel = CancelToken()
    timer = threading.Timer(0.1 * full_s, cancel.cancel)
    started = time.perf_counter()
    timer.start()
    with pytest.raises(InferenceCancelled):
        list(kokoro.pieces(text, "af_heart", 1.0, cancel))
    stopped_s = time.perf_counter() - started
    # Stopped mid-graph, not at the end of the run (a ratio within one test, not a timing).
    assert stopped_s < 0.6 * full_s, (stopped_s, full_s)
    # And the engine keeps working after a cancelled run.
    assert list(kokoro.pieces("Still here.", "af_heart", 1.0, CancelToken()))


def test_auto_picks_openvino_where_the_cpu_has_bf16(gateway: Gateway) -> None:
    engine = gateway.engines["kokoro"]  # the session's gateway runs config.yaml's "auto"
    assert gateway.config.kokoro.backend == "auto"
    assert isinstance(engine, KokoroEngine)
    expected = "openvino-bf16" if openvino_bf16_available() else "onnxruntime"
    assert engine.backend == expected
