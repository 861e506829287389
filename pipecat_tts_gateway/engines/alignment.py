"""Word times from phoneme-word spans when the two do not pair up one to one.

espeak joins function words ("in the" → one phoneme word) and expands numbers ("123" → three),
so the phoneme words Piper aligns rarely match the text's words exactly. A monotone alignment
that matches letter counts to phoneme counts recovers which text words each span covers; a
span shared by several words is divided by their letter counts.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from pipecat_tts_gateway.engines.base import WordTiming


@dataclass(frozen=True)
class PhonemeSpan:
    """A phoneme word: its sample range and how many phonemes it has."""

    start: int
    end: int
    phonemes: int


def _letters(word: str) -> int:
    """Rough phoneme count of a written word; a digit reads as about six ("123": "one hundred…")."""
    return max(1, sum(6 if c.isdigit() else 1 for c in word if c.isalnum()))


def _blocks(sizes: Sequence[int], targets: Sequence[int]) -> list[tuple[int, int]]:
    """Split `sizes` into len(targets) consecutive non-empty blocks whose sums track `targets`.

    Returns (first, last + 1) index pairs into `sizes`, one per target.
    """
    n, k = len(sizes), len(targets)
    scale = sum(sizes) / sum(targets)  # compare shares, not absolute counts
    prefix = [0]
    for s in sizes:
        prefix.append(prefix[-1] + s)

    @cache
    def best(i: int, j: int) -> tuple[float, tuple[int, ...]]:
        # Cost of splitting sizes[i:] over targets[j:]; returns block ends.
        if j == k:
            return (0.0, ()) if i == n else (math.inf, ())
        result: tuple[float, tuple[int, ...]] = (math.inf, ())
        for end in range(i + 1, n - (k - j - 1) + 1):
            here = abs(math.log((prefix[end] - prefix[i]) / (targets[j] * scale)))
            rest, ends = best(end, j + 1)
            if here + rest < result[0]:
                result = (here + rest, (end, *ends))
        return result

    ends = best(0, 0)[1]
    starts = (0, *ends[:-1])
    return list(zip(starts, ends, strict=True))


def align_words(
    words: Sequence[str], spans: Sequence[PhonemeSpan], sample_rate: int
) -> tuple[WordTiming, ...] | None:
    """Times for `words` from phoneme-word spans; None when there is nothing to align."""
    if not words or not spans or len(words) * len(spans) > 40_000:
        return None
    rate = float(sample_rate)
    letters = [_letters(w) for w in words]
    timings: list[WordTiming] = []
    if len(spans) >= len(words):
        # Each word covers one or more spans (numbers, abbreviations read out).
        for word, (a, b) in zip(words, _blocks([s.phonemes for s in spans], letters), strict=True):
            timings.append(WordTiming(word, spans[a].start / rate, spans[b - 1].end / rate))
        return tuple(timings)
    # Each span covers one or more words (espeak's joined function words).
    for span, (a, b) in zip(spans, _blocks(letters, [s.phonemes for s in spans]), strict=True):
        total = sum(letters[a:b])
        cursor = span.start
        for i in range(a, b):
            end = cursor + (span.end - span.start) * letters[i] / total
            timings.append(WordTiming(words[i], cursor / rate, end / rate))
            cursor = end
    return tuple(timings)
