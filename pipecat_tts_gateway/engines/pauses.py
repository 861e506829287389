"""Silence at piece edges, sized by punctuation instead of by the model's padding.

Kokoro pads every call with about 0.35 s of silence before the speech and 0.5 s after it. One
sentence per call that is harmless, but a stream is cut into pieces (a short first clause, then
sentences), and untouched padding would put almost a second of silence after the first clause
and delay first audible speech by a third of a second. So leading silence is trimmed to a few
milliseconds, and trailing silence to the pause the piece's last punctuation calls for.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from pipecat_tts_gateway.engines.base import EngineAudio, WordTiming

# Below this absolute level a sample counts as silence (speech peaks are around 0.3-0.7).
SILENCE_LEVEL = 0.01
LEAD_KEEP_S = 0.05  # soft onsets (a quiet "p") start below the silence level
SENTENCE_PAUSE_S = 0.30
CLAUSE_PAUSE_S = 0.15
WORD_PAUSE_S = 0.05


def trailing_pause_s(text: str) -> float:
    """The pause after a piece: longest after a sentence, short where a clause was cut."""
    end = text.rstrip().rstrip("\"'»”)]")[-1:]
    if end in ".!?…":
        return SENTENCE_PAUSE_S
    if end in ",;:—–-":
        return CLAUSE_PAUSE_S
    return WORD_PAUSE_S


def trim_padding(piece: EngineAudio) -> EngineAudio:
    """Trim edge silence of a piece, shifting its word times by what was cut at the front."""
    loud = np.flatnonzero(np.abs(piece.samples) > SILENCE_LEVEL)
    if loud.size == 0:
        return piece
    rate = piece.sample_rate
    start = max(0, int(loud[0]) - int(LEAD_KEEP_S * rate))
    end = min(len(piece.samples), int(loud[-1]) + 1 + int(trailing_pause_s(piece.text) * rate))
    shift, length = start / rate, (end - start) / rate
    words = None
    if piece.words is not None:
        # The last word's duration includes the model's padding: clamp it to the new end.
        words = tuple(
            WordTiming(
                w.word,
                min(length, max(0.0, w.start_s - shift)),
                min(length, max(0.0, w.end_s - shift)),
            )
            for w in piece.words
        )
    return replace(piece, samples=piece.samples[start:end], words=words)
