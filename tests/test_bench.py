"""`tts-gateway bench` in its smallest mode: it runs, and the report has every table."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipecat_tts_gateway.bench.results import MemoryResult, Sample


def rows_named(data: dict, scenario: str) -> dict:
    (row,) = [r for r in data["timings"] if r["scenario"] == scenario]
    return row


def test_quick_bench_writes_the_report(tmp_path: Path) -> None:
    out = tmp_path / "bench"
    result = subprocess.run(
        [
            *(sys.executable, "-m", "pipecat_tts_gateway", "bench", "--quick"),
            *("--scenarios", "greeting", "--requests", "2", "--skip-peers", "--skip-http"),
            *("--out", str(out)),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={k: v for k, v in os.environ.items() if not k.startswith("TTS_GATEWAY_")},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {"report": str(out / "RESULTS.md")}
    report = (out / "RESULTS.md").read_text(encoding="utf-8")
    for heading in (
        "## Targets (issues 6 and 10)",
        "## Kokoro backends",
        "## First audio and real-time factor: Kokoro, English",
        "## First audio and real-time factor: Piper, Russian",
        "## Concurrent streams",
        "## Compute floor",
        "## Piper sub-sentence decoding (streaming-vits, evaluated)",
        "## Resident memory",
    ):
        assert heading in report
    assert "| greeting | in-process | off |" in report
    assert "| greeting | pipecat | hit |" in report
    assert "AMD" in report or "Intel" in report or "cores" in report
    data = json.loads((out / "results.json").read_text(encoding="utf-8"))
    # Services built per call share the loaded engines; LLM text streamed in is timed.
    assert data["construction"]["shared"] is True and data["construction"]["ms"]
    for rate in (8, 30):
        (streamed,) = [t for t in data["timings"] if t["scenario"] == f"streamed {rate} tok/s"]
        assert streamed["samples"] and streamed["errors"] == 0
    rows = {(r["door"], r["engine"], r["cached"]): r for r in data["timings"]}
    for key in [
        (door, e, c)
        for door in ("in-process", "pipecat")
        for e in ("kokoro", "piper")
        for c in (False, True)
    ]:
        assert rows[key]["samples"] and rows[key]["errors"] == 0, key
        assert all(s["first_audio_ms"] > 0 and s["audio_s"] > 0.5 for s in rows[key]["samples"])
    assert [c["streams"] for c in data["concurrency"]] == [1, 2]
    backends = data["backends"]
    assert [b["backend"].split("-")[0] for b in backends] == ["onnxruntime", "openvino"]
    for backend in backends:
        assert backend["first_chunk_ms"] and all(0 < rtf < 5 for rtf in backend["rtf"])
        assert backend["words"] > 20 and backend["word_errors"] <= backend["words"]
    opener = rows_named(data, "opener")
    assert opener["samples"] and opener["errors"] == 0
    (subsentence,) = data["subsentence"]
    assert subsentence["sentence"] == "Здравствуйте!" and subsentence["frames"] > 20
    assert all(ms > 0 for ms in subsentence["frontend_ms"] + subsentence["first_decode_ms"])
    assert len(data["memory"]["trend"]) == 3  # before, after 1, after 2 requests
    for plot in ("first_audio.png", "memory.png"):
        assert (out / plot).read_bytes()[:4] == b"\x89PNG"


def test_rtf_and_memory_slope() -> None:
    assert Sample(first_audio_ms=100, total_ms=500, audio_s=2.0).rtf == 0.25
    flat = MemoryResult(trend=[(0, 500.0), (100, 900.0), (200, 900.0), (300, 900.0)])
    assert flat.slope_mb_per_1000 == pytest.approx(
        0.0, abs=1e-9
    )  # the warm-up jump before the first point is skipped
    growing = MemoryResult(trend=[(0, 500.0), (100, 600.0), (200, 700.0), (300, 800.0)])
    assert growing.slope_mb_per_1000 == pytest.approx(1000.0)
