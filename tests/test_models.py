"""Models directory: real files from a real fetch, checked against independent expectations.

Expected hashes and sizes are written out here rather than read from the catalog, so a wrong
pin in the catalog fails a test instead of agreeing with itself.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from pipecat_tts_gateway.errors import ModelMissingError
from pipecat_tts_gateway.models import (
    KOKORO_DURATION_MODEL,
    KOKORO_MODEL,
    KOKORO_VOCAB,
    KOKORO_VOICES_DIR,
    PIPER_EN_MODEL,
    PIPER_RU_MODEL,
    PIPER_RU_STANDIN_CONFIG,
    ModelStatus,
    fetch_models,
    list_models,
    russian_piper_voice,
)
from pipecat_tts_gateway.models.catalog import KOKORO_FP32_MODEL, KOKORO_OPENVINO_MODEL

MODELS_DIR = Path(__file__).resolve().parents[1] / "models"
KOKORO_SHA256 = "6e742170d309016e5891a994e1ce1559c702a2ccd0075e67ef7157974f6406cb"
KOKORO_SIZE = 92_361_271
VOICE_SIZE = 522_240
STANDIN_REMAP = {"r": "ɾ", "ɭ": "l", "y": "ᵻ", "ɕ": "ʃ", "ɵ": "o", "ʑ": "ʒ"}


@pytest.fixture(scope="module")
def statuses() -> list[ModelStatus]:
    """Fetch into the repository's models/ once (a no-op when it is already complete)."""
    return fetch_models(MODELS_DIR, allow_download=False, progress=False)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _snapshot(folder: Path) -> dict[Path, tuple[int, int]]:
    return {
        path: (path.stat().st_mtime_ns, path.stat().st_size)
        for path in folder.rglob("*")
        if path.is_file()
    }


def _hardlink_tree(source: Path, dest: Path) -> None:
    """A cheap copy of models/: every later write there replaces, never edits, so the
    real files stay untouched as long as the test itself only unlinks."""
    for path in source.rglob("*"):
        if path.is_file() and not path.name.startswith("."):
            target = dest / path.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.link(path, target)


def _kokoro(path: Path, tokens: np.ndarray, style: np.ndarray) -> dict[str, np.ndarray]:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    feed = {"tokens": tokens, "style": style, "speed": np.ones(1, dtype=np.float32)}
    names = [output.name for output in session.get_outputs()]
    return dict(zip(names, session.run(None, feed), strict=True))


def test_expected_files_present(statuses: list[ModelStatus]) -> None:
    by_name = {status.name: status for status in statuses}
    optional = {PIPER_RU_MODEL, PIPER_RU_MODEL + ".json"}
    assert all(s.present and s.size_bytes > 0 for n, s in by_name.items() if n not in optional)
    assert by_name[KOKORO_MODEL].size_bytes == KOKORO_SIZE
    assert by_name[PIPER_EN_MODEL].size_bytes == 63_201_294
    assert by_name[PIPER_RU_STANDIN_CONFIG].standin

    voices = {path.stem: path for path in (MODELS_DIR / KOKORO_VOICES_DIR).glob("*.bin")}
    assert len(voices) == 28
    assert {"af_heart", "am_michael", "bf_emma", "bm_george"} <= voices.keys()
    assert all(name[:3] in {"af_", "am_", "bf_", "bm_"} for name in voices)
    assert {path.stat().st_size for path in voices.values()} == {VOICE_SIZE}
    assert by_name[KOKORO_VOICES_DIR].size_bytes == 28 * VOICE_SIZE

    vocab = json.loads((MODELS_DIR / KOKORO_VOCAB).read_text(encoding="utf-8"))
    assert len(vocab) == 114
    assert all(isinstance(k, str) and type(v) is int for k, v in vocab.items())


def test_kokoro_model_sha256(statuses: list[ModelStatus]) -> None:
    assert _sha256(MODELS_DIR / KOKORO_MODEL) == KOKORO_SHA256


def _probe(phonemes: str) -> tuple[np.ndarray, np.ndarray]:
    """Kokoro's inputs for `phonemes`: tokens wrapped in the pads, and af_heart's style row."""
    vocab = json.loads((MODELS_DIR / KOKORO_VOCAB).read_text(encoding="utf-8"))
    ids = [vocab[symbol] for symbol in phonemes]
    voice = np.fromfile(MODELS_DIR / KOKORO_VOICES_DIR / "af_heart.bin", dtype="<f4")
    return np.array([[0, *ids, 0]], dtype=np.int64), voice.reshape(510, 1, 256)[len(ids) - 1]


def test_duration_model_keeps_audio_and_counts_frames(statuses: list[ModelStatus]) -> None:
    tokens, style = _probe("ðɪs ɪz ə tˈɛst.")

    original = _kokoro(MODELS_DIR / KOKORO_MODEL, tokens, style)
    patched = _kokoro(MODELS_DIR / KOKORO_DURATION_MODEL, tokens, style)

    assert set(patched) == {"audio", "duration"}
    assert np.array_equal(patched["audio"], original["audio"])
    duration = patched["duration"]
    assert duration.dtype == np.int64
    assert duration.size == tokens.shape[1]
    assert int(duration.sum()) * 600 == len(original["audio"])


def test_fp32_model_is_float_with_the_int8_timing(statuses: list[ModelStatus]) -> None:
    """On the fetch's probe: on other text a frame count near x.5 may round the other way."""
    ops = Counter(node.op_type for node in onnx.load(MODELS_DIR / KOKORO_FP32_MODEL).graph.node)
    tokens, style = _probe("həlˈO wˈɜɹld")

    int8 = _kokoro(MODELS_DIR / KOKORO_DURATION_MODEL, tokens, style)
    fp32 = _kokoro(MODELS_DIR / KOKORO_FP32_MODEL, tokens, style)

    assert ops["ConvInteger"] == ops["MatMulInteger"] == ops["DynamicQuantizeLinear"] == 0
    assert (ops["Conv"], ops["MatMul"], ops["DynamicQuantizeLSTM"]) == (1 + 87, 26 + 148, 6)
    assert set(fp32) == {"audio", "duration"}
    assert np.array_equal(fp32["duration"], int8["duration"])
    assert fp32["audio"].shape == int8["audio"].shape
    rms = [
        float(np.sqrt(np.mean(np.square(out["audio"], dtype=np.float64)))) for out in (fp32, int8)
    ]
    assert rms[0] == pytest.approx(rms[1], rel=0.1)
    assert not np.array_equal(fp32["audio"], int8["audio"])


def test_openvino_ir_speaks_like_the_fp32_model(statuses: list[ModelStatus]) -> None:
    """Both on OpenVINO in f32 (ONNX Runtime renders the same file 16 % louder on the probe)."""
    import openvino as ov

    tokens, style = _probe("həlˈO wˈɜɹld")
    core = ov.Core()
    graph = MODELS_DIR / KOKORO_OPENVINO_MODEL
    ir = core.read_model(str(graph), str(graph.with_suffix(".bin")))
    fp16_weights = {
        op.get_element_type().get_type_name()
        for op in ir.get_ops()
        if op.get_type_name() == "Constant"
        and op.get_output_size()
        and op.get_element_type().is_real()
    }
    outputs = []
    for model in (ir, core.read_model(str(MODELS_DIR / KOKORO_FP32_MODEL))):
        compiled = core.compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
        values = compiled({"tokens": tokens, "style": style, "speed": np.ones(1, np.float32)})
        outputs.append({port.get_any_name(): values[port] for port in compiled.outputs})
    converted, source = outputs

    assert "f16" in fp16_weights  # the weights are stored as fp16
    assert set(converted) == {"audio", "duration"}
    assert np.array_equal(converted["duration"], source["duration"])
    assert converted["audio"].shape == source["audio"].shape
    rms = [float(np.sqrt(np.mean(np.square(out["audio"], dtype=np.float64)))) for out in outputs]
    assert rms[0] == pytest.approx(rms[1], rel=0.1)


def test_second_fetch_changes_nothing(statuses: list[ModelStatus]) -> None:
    before = _snapshot(MODELS_DIR)
    again = fetch_models(MODELS_DIR, allow_download=False, progress=False)

    assert again == statuses
    assert _snapshot(MODELS_DIR) == before


def test_fetch_replaces_partial_and_truncated_files(
    statuses: list[ModelStatus], tmp_path: Path
) -> None:
    _hardlink_tree(MODELS_DIR, tmp_path)
    model = tmp_path / KOKORO_MODEL
    model.unlink()
    with (MODELS_DIR / KOKORO_MODEL).open("rb") as original:
        model.write_bytes(original.read(1 << 20))
    vocab = tmp_path / KOKORO_VOCAB
    vocab.unlink()
    vocab.write_text('{"a": 1', encoding="utf-8")
    fp32 = tmp_path / KOKORO_FP32_MODEL
    fp32.unlink()
    with (MODELS_DIR / KOKORO_FP32_MODEL).open("rb") as original:
        fp32.write_bytes(original.read(1 << 20))
    weights = (tmp_path / KOKORO_OPENVINO_MODEL).with_suffix(".bin")
    weights.unlink()
    weights.write_bytes(b"\0" * 4096)
    (tmp_path / f".{KOKORO_OPENVINO_MODEL}.q7w1r.part").mkdir()  # a killed IR conversion's
    stale = [
        tmp_path / f".{KOKORO_MODEL}.k3x9q.part",
        tmp_path / KOKORO_VOICES_DIR / ".af_heart.bin.z8w2e.part",
    ]
    for path in stale:
        path.write_bytes(b"left by a killed fetch")

    fetch_models(tmp_path, allow_download=False, progress=False)

    assert not list(tmp_path.rglob("*.part"))
    assert (
        weights.stat().st_size
        == (MODELS_DIR / KOKORO_OPENVINO_MODEL).with_suffix(".bin").stat().st_size
    )
    assert model.stat().st_size == KOKORO_SIZE
    assert _sha256(model) == KOKORO_SHA256
    assert len(json.loads(vocab.read_text(encoding="utf-8"))) == 114
    assert fp32.stat().st_size > 250_000_000
    assert "ConvInteger" not in {node.op_type for node in onnx.load(fp32).graph.node}
    assert (MODELS_DIR / KOKORO_MODEL).stat().st_size == KOKORO_SIZE


def test_russian_voice_falls_back_to_the_standin(
    statuses: list[ModelStatus], tmp_path: Path
) -> None:
    for name in (PIPER_EN_MODEL, PIPER_RU_STANDIN_CONFIG):
        os.link(MODELS_DIR / name, tmp_path / name)

    model, config_path, is_standin = russian_piper_voice(tmp_path)

    assert (model, config_path, is_standin) == (
        tmp_path / PIPER_EN_MODEL,
        tmp_path / PIPER_RU_STANDIN_CONFIG,
        True,
    )
    config = json.loads(config_path.read_text(encoding="utf-8"))
    joe = json.loads((MODELS_DIR / (PIPER_EN_MODEL + ".json")).read_text(encoding="utf-8"))
    assert config["espeak"]["voice"] == "ru"
    assert config["standin"] is True
    assert isinstance(config["standin_note"], str)
    id_map, joe_map = config["phoneme_id_map"], joe["phoneme_id_map"]
    assert {ru: id_map[ru] for ru in STANDIN_REMAP} == {
        ru: joe_map[en] for ru, en in STANDIN_REMAP.items()
    }
    assert {k: v for k, v in id_map.items() if k not in STANDIN_REMAP} == {
        k: v for k, v in joe_map.items() if k not in STANDIN_REMAP
    }


def test_missing_models_dir_names_the_fetch_command(tmp_path: Path) -> None:
    absent = tmp_path / "absent"
    assert not any(status.present or status.size_bytes for status in list_models(absent))
    with pytest.raises(ModelMissingError, match="tts-gateway models fetch"):
        russian_piper_voice(absent)
