"""Piper voices through piper-tts: one ONNX session per model file, voices per language.

Piper peak-normalizes every sentence on its own by default, so a quiet sentence after a loud
one jumps in level. We synthesize unnormalized instead, which keeps loudness steady across chunks
and, as measured, already matches Kokoro's (speech RMS about 0.05-0.07 for both). Models are
patched in memory to report phoneme alignments, which give word timestamps.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort
from loguru import logger

from pipecat_tts_gateway.engines.alignment import PhonemeSpan, align_words
from pipecat_tts_gateway.engines.base import (
    CancelToken,
    Engine,
    EngineAudio,
    InferenceCancelled,
    file_identity,
)
from pipecat_tts_gateway.engines.espeak_lock import ESPEAK_LOCK
from pipecat_tts_gateway.errors import ModelMissingError, UnknownVoiceError
from pipecat_tts_gateway.memory import IdleReclaimer


@dataclass(frozen=True)
class PiperVoiceSpec:
    """One configured Piper voice.

    Attributes:
        name: Voice name used in requests (the config file's stem, e.g. "en_US-joe-medium").
        language: Language it is routed for ("en", "ru").
        model_path: The `.onnx` file.
        config_path: The `.onnx.json` file.
        standin: True for the offline Russian stand-in (an English model reading Russian
            phonemes): flagged in logs, /health and `models list`.
    """

    name: str
    language: str
    model_path: Path
    config_path: Path
    standin: bool = False


class PiperEngine(Engine):
    """Piper voices; models shared between voices that use the same `.onnx` file."""

    name = "piper"

    def __init__(self, voices: list[PiperVoiceSpec], *, threads: int = 2) -> None:
        if not voices:
            raise ValueError("PiperEngine needs at least one voice")
        self._specs = {v.name: v for v in voices}
        self._threads = threads
        self._voices: dict[str, object] = {}
        self._ids: dict[str, str] = {}
        self.languages = tuple(dict.fromkeys(v.language for v in voices))
        self.sample_rate = 22050
        self._reclaimer = IdleReclaimer()

    def load(self) -> None:
        from piper import PiperVoice
        from piper.config import PiperConfig

        sessions: dict[Path, ort.InferenceSession] = {}
        for spec in self._specs.values():
            for what, path in (
                ("Piper model", spec.model_path),
                ("Piper config", spec.config_path),
            ):
                if not path.exists():
                    raise ModelMissingError(what, str(path))
            if spec.model_path not in sessions:
                sessions[spec.model_path] = self._session(spec.model_path)
            config = PiperConfig.from_dict(json.loads(spec.config_path.read_text("utf-8")))
            self._voices[spec.name] = PiperVoice(session=sessions[spec.model_path], config=config)
            self._ids[spec.name] = file_identity(spec.model_path) + ":" + spec.config_path.name
            if spec.standin:
                logger.warning(
                    "Piper voice {} is the offline STAND-IN ({} reading {} phonemes), not a "
                    "native {} voice",
                    spec.name,
                    spec.model_path.name,
                    spec.language,
                    spec.language,
                )
        self.sample_rate = next(iter(self._voices.values())).config.sample_rate  # type: ignore[attr-defined]
        logger.info(
            "Piper loaded: {}", ", ".join(f"{n} ({s.language})" for n, s in self._specs.items())
        )

    def _session(self, model_path: Path) -> ort.InferenceSession:
        """A session whose graph also outputs samples per phoneme id (for word times)."""
        import onnx
        from piper.patch_voice_with_alignment import add_alignment_output

        options = ort.SessionOptions()
        options.intra_op_num_threads = self._threads
        options.inter_op_num_threads = 1
        options.enable_mem_pattern = False
        # The arena keeps every block it ever grew to; without it freed tensors go back to the
        # heap, which the idle reclaimer trims (about 130 MB less after varied texts).
        options.enable_cpu_mem_arena = False
        model = onnx.load(str(model_path))
        try:
            add_alignment_output(model)
            source: bytes | str = model.SerializeToString()
        except ValueError:  # already patched, or no alignment tensor: use as is
            source = str(model_path)
        return ort.InferenceSession(
            source, sess_options=options, providers=["CPUExecutionProvider"]
        )

    def specs(self) -> tuple[PiperVoiceSpec, ...]:
        return tuple(self._specs.values())

    def voices(self) -> tuple[str, ...]:
        return tuple(self._specs)

    def voice_language(self, voice: str) -> str:
        self.check_voice(voice)
        return self._specs[voice].language

    def default_voice(self, language: str) -> str:
        for spec in self._specs.values():
            if spec.language == language:
                return spec.name
        raise UnknownVoiceError(f"no Piper voice is configured for language {language!r}")

    def model_id(self, voice: str) -> str:
        return self._ids[voice]

    def describe(self) -> dict[str, object]:
        info = super().describe()
        info["standin_voices"] = [s.name for s in self._specs.values() if s.standin]
        return info

    def pieces(
        self, text: str, voice: str, speed: float, cancel: CancelToken
    ) -> Iterator[EngineAudio]:
        from piper.config import SynthesisConfig

        self.check_voice(voice)
        piper_voice = self._voices[voice]
        config = piper_voice.config  # type: ignore[attr-defined]
        syn = SynthesisConfig(length_scale=config.length_scale / speed, normalize_audio=False)
        with ESPEAK_LOCK:
            sentences = piper_voice.phonemize(text)  # type: ignore[attr-defined]
        # espeak's sentences are not ours: word times are matched against all of the text's words.
        words = text.split()
        audio_parts: list[np.ndarray] = []
        spans: list[PhonemeSpan] = []
        offset = 0
        for phonemes in sentences:
            if cancel.cancelled:
                raise InferenceCancelled
            if not phonemes:
                continue
            ids = piper_voice.phonemes_to_ids(phonemes)  # type: ignore[attr-defined]
            with self._reclaimer.running():
                result = piper_voice.phoneme_ids_to_audio(ids, syn, include_alignments=True)  # type: ignore[attr-defined]
            audio, per_id = result if isinstance(result, tuple) else (result, None)
            audio = np.clip(np.asarray(audio, dtype=np.float32).reshape(-1), -1.0, 1.0)
            if per_id is not None:
                spans.extend(
                    PhonemeSpan(offset + s.start, offset + s.end, s.phonemes)
                    for s in _word_spans(phonemes, ids, per_id, config)
                )
            offset += len(audio)
            audio_parts.append(audio)
        if not audio_parts:
            return
        samples = np.concatenate(audio_parts)
        timings = align_words(words, spans, self.sample_rate)
        yield EngineAudio(samples=samples, sample_rate=self.sample_rate, text=text, words=timings)


def _word_spans(
    phonemes: list[str], ids: list[int], per_id: np.ndarray, config: object
) -> list[PhonemeSpan]:
    """Sample ranges and sizes of the space-separated phoneme words of one sentence.

    Piper's ids are BOS, then each phoneme followed by a PAD, then EOS; a phoneme's samples are
    its own id's plus its PAD's. Words are the runs between space phonemes.
    """
    id_map: dict[str, list[int]] = config.phoneme_id_map  # type: ignore[attr-defined]
    samples = np.asarray(per_id).reshape(-1).astype(np.int64)
    if len(samples) != len(ids):
        return []
    pos = len(id_map.get("^", [])) + len(id_map.get("_", []))
    cursor = int(samples[:pos].sum())
    spans: list[PhonemeSpan] = []
    start: int | None = None
    count = 0
    for phoneme in phonemes:
        if phoneme not in id_map:  # piper drops unknown phonemes, PAD included
            continue
        n = len(id_map[phoneme]) + len(id_map.get("_", []))
        width = int(samples[pos : pos + n].sum())
        if phoneme == " ":
            if start is not None:
                spans.append(PhonemeSpan(start, cursor, count))
                start, count = None, 0
        elif phoneme.isalpha():
            start = cursor if start is None else start
            count += 1
        cursor += width
        pos += n
    if start is not None:
        spans.append(PhonemeSpan(start, cursor, count))
    return spans
