"""`tts-gateway` as a user runs it: a real subprocess, real models, files on disk."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

from pipecat_tts_gateway.intelligibility import transcribe, word_error_rate
from tests.speech import HELP, KOKORO_WER_BOUND

CLI = [sys.executable, "-m", "pipecat_tts_gateway"]


def run(*args: str, env: dict[str, str] | None = None, prefix: list[str] | None = None):
    return subprocess.run(
        [*(prefix or []), *CLI, *args],
        capture_output=True,
        text=True,
        timeout=300,
        # No file tier: these runs must neither read nor leave entries in the repo's cache.
        env={**os.environ, "TTS_GATEWAY_CACHE__FILE_MAX_BYTES": "0", **(env or {})},
    )


def last_json(stdout: str) -> dict:
    return json.loads(stdout.strip().splitlines()[-1])


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path)) as w:
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
        return data.astype(np.float32) / 32768.0, w.getframerate()


def test_say_english_and_russian(tmp_path: Path) -> None:
    text = HELP
    en = run("say", text, "-o", str(tmp_path / "hello.wav"))
    assert en.returncode == 0, en.stderr
    result = last_json(en.stdout)
    for key in ("engine", "voice", "language", "sample_rate", "duration_s", "first_audio_ms"):
        assert key in result
    assert result["cache"] == "miss"
    assert (result["engine"], result["language"]) == ("kokoro", "en")
    audio, rate = read_wav(tmp_path / "hello.wav")
    assert rate == result["sample_rate"] and abs(len(audio) / rate - result["duration_s"]) < 0.01
    assert word_error_rate(text, transcribe(audio, rate)) <= KOKORO_WER_BOUND

    ru = run("say", "Добрый день!", "-o", str(tmp_path / "ru.wav"), "--sample-rate", "8000")
    assert ru.returncode == 0, ru.stderr
    result = last_json(ru.stdout)
    assert (result["engine"], result["language"], result["sample_rate"]) == ("piper", "ru", 8000)
    assert [s["engine"] for s in result["segments"]] == ["piper"]


def test_say_mixed_reports_every_segment(tmp_path: Path) -> None:
    out = tmp_path / "mixed.raw"
    proc = run("say", "Ваш номер заказа — ABC-123, thank you!", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    result = last_json(proc.stdout)
    assert [(s["language"], s["engine"]) for s in result["segments"]] == [
        ("ru", "piper"),
        ("en", "kokoro"),
    ]
    assert result["format"] == "f32le"
    samples = np.frombuffer(out.read_bytes(), dtype="<f4")
    assert abs(len(samples) / result["sample_rate"] - result["duration_s"]) < 0.01


def test_bad_input_exits_2_with_a_json_error(tmp_path: Path) -> None:
    proc = run("say", "Hello", "--voice", "af_nobody", "-o", str(tmp_path / "x.wav"))
    assert proc.returncode == 2
    error = last_json(proc.stdout)["error"]
    assert error["code"] == "unknown_voice" and "af_heart" in error["message"]
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "x.wav").exists()


def test_missing_models_give_one_clear_error(tmp_path: Path) -> None:
    env = {
        "TTS_GATEWAY_PRIMARY_TTS__MODEL_PATH": str(tmp_path / "nope.onnx"),
        "TTS_GATEWAY_PRIMARY_TTS__DURATION_MODEL_PATH": str(tmp_path / "nope2.onnx"),
        "TTS_GATEWAY_FALLBACK_TTS__ENABLED": "false",
    }
    proc = run("say", "Hello", "-o", str(tmp_path / "x.wav"), env=env)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert "nope.onnx" in proc.stderr and "tts-gateway models fetch" in proc.stderr
    assert "error" in last_json(proc.stdout)


@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs util-linux unshare")
def test_say_works_with_the_network_off(tmp_path: Path) -> None:
    probe = subprocess.run(["unshare", "-n", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("cannot create a network namespace here")
    proc = run(
        "say", "Offline speech works.", "-o", str(tmp_path / "o.wav"), prefix=["unshare", "-n"]
    )
    assert proc.returncode == 0, proc.stderr
    assert last_json(proc.stdout)["duration_s"] > 0.5


def test_models_list_flags_the_stand_in() -> None:
    proc = run("models", "list")
    assert proc.returncode == 0, proc.stdout
    standin = [line for line in proc.stdout.splitlines() if "standin" in line]
    assert standin and "STAND-IN" in standin[0]
