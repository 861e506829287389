"""Kokoro-82M: misaki phonemes in, 24 kHz float32 out, on ONNX Runtime or OpenVINO.

The model's inputs are read from the graph rather than assumed, so the official fp32 file and
the int8 one both load. When the duration-output variant is present it is used instead (its
audio is bit-identical) and gives word timestamps for free. Which backend runs the graph is
`kokoro_runtime.load_runtime`'s choice.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from loguru import logger

from pipecat_tts_gateway.engines.base import (
    CancelToken,
    Engine,
    EngineAudio,
    InferenceCancelled,
    WordTiming,
    file_identity,
)
from pipecat_tts_gateway.engines.kokoro_g2p import EnglishG2P, PhonemizedToken
from pipecat_tts_gateway.engines.kokoro_runtime import KokoroRuntime, load_runtime
from pipecat_tts_gateway.engines.pauses import trim_padding
from pipecat_tts_gateway.errors import ModelMissingError, UnknownVoiceError
from pipecat_tts_gateway.memory import IdleReclaimer, trim_heap
from pipecat_tts_gateway.text import split_to_fit

SAMPLE_RATE = 24000
MAX_TOKENS = 510
# The duration predictor counts frames of 600 samples (hop 300, upsampled x2) at 24 kHz.
SAMPLES_PER_FRAME = 600
VOICE_SHAPE = (510, 1, 256)
VOICE_PREFIXES = ("af_", "am_", "bf_", "bm_")
_BLEND_PART = re.compile(r"^\s*([a-z]{2}_[a-z0-9_]+)\s*(?::\s*([0-9]*\.?[0-9]+))?\s*$")


@dataclass(frozen=True)
class KokoroFiles:
    """Where Kokoro's files are.

    Attributes:
        model_path: The int8 ONNX model.
        duration_model_path: Same model with a `duration` output; preferred when present.
        vocab_path: Phoneme → token id JSON.
        voices_dir: `<voice>.bin` files, float32 [510, 1, 256].
        fp32_model_path: The duration model dequantized to fp32, for OpenVINO.
    """

    model_path: Path
    duration_model_path: Path
    vocab_path: Path
    voices_dir: Path
    fp32_model_path: Path


class KokoroEngine(Engine):
    """English speech from Kokoro-82M; 28 voices (af_, am_, bf_, bm_) and weighted blends."""

    name = "kokoro"
    languages = ("en",)
    sample_rate = SAMPLE_RATE

    def __init__(
        self,
        files: KokoroFiles,
        *,
        default_voice: str = "af_heart",
        threads: int = 2,
        backend: str = "auto",
    ):
        self._files = files
        self._default_voice = default_voice
        self._threads = threads
        self._backend = backend
        self._runtime: KokoroRuntime | None = None
        self._vocab: dict[str, int] = {}
        self._voices: dict[str, np.ndarray] = {}
        self._g2p: EnglishG2P | None = None
        self._has_durations = False
        self._model_id = ""
        self._reclaimer = IdleReclaimer(trim=self._reclaim)

    def _reclaim(self) -> None:
        """Idle: the backend's run-only memory first, then the heap pages that freed."""
        if self._runtime is not None:
            self._runtime.release_idle_memory()
        trim_heap()

    def load(self) -> None:
        files = self._files
        for what, path in (
            ("Kokoro vocab", files.vocab_path),
            ("Kokoro voices directory", files.voices_dir),
        ):
            if not path.exists():
                raise ModelMissingError(what, str(path))
        model = files.duration_model_path if files.duration_model_path.exists() else None
        if model is None:
            if not files.model_path.exists():
                raise ModelMissingError("Kokoro model", str(files.model_path))
            model = files.model_path
            logger.info("Kokoro duration model absent: no word timestamps from Kokoro")
        vocab = json.loads(files.vocab_path.read_text(encoding="utf-8"))
        self._vocab = vocab.get("vocab", vocab)  # kokoro-onnx's config.json nests it
        paths = [
            p for p in sorted(files.voices_dir.glob("*.bin")) if p.stem.startswith(VOICE_PREFIXES)
        ]
        if not paths:
            raise ModelMissingError("Kokoro voices", str(files.voices_dir / "af_heart.bin"))
        self._voices = {p.stem: self._read_voice(p) for p in paths}
        runtime = load_runtime(
            self._backend, int8_path=model, fp32_path=files.fp32_model_path, threads=self._threads
        )
        self._runtime = runtime
        self._has_durations = "duration" in runtime.outputs
        self._audio_output = next(o for o in runtime.outputs if o != "duration")
        if runtime.path == model:
            # The duration model's audio is bit-identical to the plain int8 file's.
            self._model_id = file_identity(files.model_path if files.model_path.exists() else model)
        else:
            self._model_id = ":".join([*map(file_identity, runtime.files), runtime.name])
        self._g2p = EnglishG2P()
        self.check_voice(self._default_voice)
        logger.info(
            "Kokoro loaded: {} voices, model {} on {}{}",
            len(self._voices),
            runtime.path.name,
            runtime.name,
            " (with durations)" if self._has_durations else "",
        )

    @staticmethod
    def _read_voice(path: Path) -> np.ndarray:
        data = np.fromfile(path, dtype="<f4")
        if data.size != np.prod(VOICE_SHAPE):
            raise ModelMissingError(f"valid Kokoro voice (got {data.size} floats)", str(path))
        return data.reshape(VOICE_SHAPE)

    @property
    def has_durations(self) -> bool:
        return self._has_durations

    @property
    def model_path(self) -> Path:
        """The model file the backend runs (after `load()`)."""
        assert self._runtime is not None, "load() first"
        return self._runtime.path

    @property
    def backend(self) -> str:
        """The backend that runs the graph, e.g. "openvino-bf16" (after `load()`)."""
        assert self._runtime is not None, "load() first"
        return self._runtime.name

    def describe(self) -> dict[str, object]:
        return {**super().describe(), "backend": self.backend}

    def voices(self) -> tuple[str, ...]:
        return tuple(self._voices)

    def voice_language(self, voice: str) -> str:
        self._blend(voice)
        return "en"

    def default_voice(self, language: str) -> str:
        return self._default_voice

    def model_id(self, voice: str) -> str:
        return self._model_id

    def check_voice(self, voice: str) -> None:
        self._blend(voice)

    def _blend(self, voice: str) -> tuple[np.ndarray, bool]:
        """Parse `a:0.7+b:0.3` (weights normalized) into a style table and British flag."""
        parts = voice.split("+")
        names: list[tuple[str, float]] = []
        for part in parts:
            match = _BLEND_PART.match(part)
            if not match or match.group(1) not in self._voices:
                raise UnknownVoiceError(
                    f"unknown Kokoro voice {part.strip()!r}; valid voices: "
                    f"{', '.join(self._voices)} (blend as 'af_heart:0.7+am_michael:0.3')"
                )
            names.append((match.group(1), float(match.group(2) or 1.0)))
        total = sum(w for _, w in names)
        if total <= 0:
            raise UnknownVoiceError(f"voice blend {voice!r} has no positive weight")
        style = sum(self._voices[n] * (w / total) for n, w in names)
        return np.asarray(style, dtype=np.float32), names[0][0].startswith("b")

    def tokenize(self, phonemes: str) -> list[int]:
        return [self._vocab[c] for c in phonemes if c in self._vocab]

    def pieces(
        self, text: str, voice: str, speed: float, cancel: CancelToken
    ) -> Iterator[EngineAudio]:
        g2p = self._g2p
        assert g2p is not None, "load() first"
        style_table, british = self._blend(voice)
        phonemized: dict[str, tuple[list[int], list[PhonemizedToken]]] = {}

        def fits(part: str) -> bool:
            phonemes, tokens = g2p(part, british=british)
            phonemized[part] = (self.tokenize(phonemes), tokens)
            return len(phonemized[part][0]) <= MAX_TOKENS

        # Text over 510 tokens is split at sentence, clause, then word boundaries, never cut.
        for part in split_to_fit(text, fits):
            if cancel.cancelled:
                raise InferenceCancelled
            if part not in phonemized:
                fits(part)
            ids, tokens = phonemized[part]
            if not ids:
                continue
            # Only a single word with over 510 phoneme tokens can still be too long here.
            audio, durations = self._infer(ids[:MAX_TOKENS], style_table, speed, cancel)
            words = _word_times(tokens, durations, self.tokenize) if durations is not None else None
            yield trim_padding(
                EngineAudio(samples=audio, sample_rate=SAMPLE_RATE, text=part, words=words)
            )

    def _infer(
        self, ids: list[int], style_table: np.ndarray, speed: float, cancel: CancelToken
    ) -> tuple[np.ndarray, np.ndarray | None]:
        runtime = self._runtime
        assert runtime is not None, "load() first"
        # Row i of a voice table is the style for an input of i + 1 tokens (before padding).
        style = style_table[len(ids) - 1]
        feeds: dict[str, np.ndarray] = {}
        for name, element_type in runtime.inputs.items():
            if name in ("tokens", "input_ids"):
                feeds[name] = np.array([[0, *ids, 0]], dtype=np.int64)
            elif name == "style":
                feeds[name] = style.reshape(1, -1).astype(np.float32)
            elif name == "speed":
                dtype = np.int32 if "int" in element_type else np.float32
                feeds[name] = np.array([speed], dtype=dtype)
            else:
                raise RuntimeError(f"Kokoro model has an unexpected input {name!r}")
        with self._reclaimer.running():
            outputs = runtime.run(feeds, cancel)
        audio = np.asarray(outputs[self._audio_output], dtype=np.float32).reshape(-1)
        durations = np.asarray(outputs["duration"]).reshape(-1) if self._has_durations else None
        return audio, durations


def _word_times(
    tokens: list[PhonemizedToken], durations: np.ndarray, tokenize: Callable[[str], list[int]]
) -> tuple[WordTiming, ...]:
    """Map per-token frame counts back to the words that produced those tokens."""
    seconds = durations.astype(np.float64) * SAMPLES_PER_FRAME / SAMPLE_RATE
    position = 1  # skip the leading pad token
    words: list[WordTiming] = []
    for token in tokens:
        n = len(tokenize(token.phonemes))
        start = float(seconds[:position].sum())
        end = float(seconds[: position + n].sum())
        if token.is_word and n:
            words.append(WordTiming(token.text, start, end))
        position += n
    return tuple(words)
