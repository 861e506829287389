"""Piece edges: model padding trimmed, pauses sized by punctuation, word times shifted."""

import numpy as np
import pytest

from pipecat_tts_gateway.engines.base import EngineAudio, WordTiming
from pipecat_tts_gateway.engines.pauses import (
    CLAUSE_PAUSE_S,
    LEAD_KEEP_S,
    SENTENCE_PAUSE_S,
    WORD_PAUSE_S,
    trim_padding,
)

RATE = 1000


def padded(text: str) -> EngineAudio:
    speech = np.full(500, 0.5, dtype=np.float32)
    samples = np.concatenate([np.zeros(350), speech, np.zeros(500)]).astype(np.float32)
    return EngineAudio(samples, RATE, text, (WordTiming("word", 0.35, 0.85),))


@pytest.mark.parametrize(
    ("text", "pause"),
    [
        ("It is done.", SENTENCE_PAUSE_S),
        ("Really?", SENTENCE_PAUSE_S),
        ('He said "yes."', SENTENCE_PAUSE_S),
        ("Well,", CLAUSE_PAUSE_S),
        ("Thanks for calling the", WORD_PAUSE_S),
    ],
)
def test_padding_becomes_the_pause_punctuation_asks_for(text: str, pause: float) -> None:
    piece = trim_padding(padded(text))
    expected = LEAD_KEEP_S + 0.5 + pause
    assert abs(len(piece.samples) / RATE - expected) < 0.003
    assert piece.words is not None
    assert abs(piece.words[0].start_s - LEAD_KEEP_S) < 0.002


def test_silent_piece_is_left_alone() -> None:
    piece = EngineAudio(np.zeros(100, dtype=np.float32), RATE, "x.", None)
    assert trim_padding(piece) is piece
