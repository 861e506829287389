"""Script-based language detection and splitting of mixed Russian/English text.

The gateway routes English to Kokoro and Russian to Piper, and neither voice can read the
other's script, so a mixed utterance ("Ваш заказ ABC-123 готов") must be cut into runs that
each go to the right engine. Only two languages are routed, so the script of the letters
(Cyrillic or Latin) is a reliable, dependency-free and instant detector; a statistical
language identifier would add latency and still be wrong on two-word fragments.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["LanguageRun", "detect_language", "split_language_runs"]

_CYRILLIC = "ru"
_LATIN = "en"

# Letters only: \w minus digits and underscore.
_LETTER = re.compile(r"[^\W\d_]")
_WORD = re.compile(r"\S+")

_CYRILLIC_RANGES = ((0x0400, 0x052F), (0x1C80, 0x1C8F), (0x2DE0, 0x2DFF), (0xA640, 0xA69F))
_LATIN_RANGES = (
    (0x0000, 0x007F),  # ASCII
    (0x00C0, 0x024F),  # Latin-1 letters, Latin Extended-A/B
    (0x1E00, 0x1EFF),  # Latin Extended Additional (Vietnamese etc.)
    (0x2C60, 0x2C7F),
    (0xA720, 0xA7FF),
    (0xAB30, 0xAB6F),
    (0xFF21, 0xFF5A),  # full-width A-Z / a-z
)


def _letters_of(ranges: tuple[tuple[int, int], ...]) -> re.Pattern[str]:
    """One character class of the letters in ``ranges``: matching runs in C, not per char."""
    letters = (chr(c) for lo, hi in ranges for c in range(lo, hi + 1))
    return re.compile("[" + "".join(re.escape(ch) for ch in letters if _LETTER.match(ch)) + "]")


_CYRILLIC_LETTER = _letters_of(_CYRILLIC_RANGES)
_LATIN_LETTER = _letters_of(_LATIN_RANGES)


def detect_language(text: str) -> str | None:
    """Guess the language of ``text`` from the script its letters are written in.

    Args:
        text: Any text.

    Returns:
        ``"ru"`` when Cyrillic letters outnumber Latin ones, ``"en"`` when Latin letters
        outnumber Cyrillic ones, the script of the first such letter on a tie, and None when
        there is no Cyrillic or Latin letter at all (``"12:30"``, ``"+7 999"``, ``"..."``).
    """
    cyrillic = len(_CYRILLIC_LETTER.findall(text))
    latin = len(_LATIN_LETTER.findall(text))
    if cyrillic > latin:
        return _CYRILLIC
    if latin > cyrillic:
        return _LATIN
    first_cyrillic = _CYRILLIC_LETTER.search(text)
    first_latin = _LATIN_LETTER.search(text)
    if first_cyrillic is None or first_latin is None:
        return None  # a tie with letters of both scripts always finds both
    return _CYRILLIC if first_cyrillic.start() < first_latin.start() else _LATIN


@dataclass(frozen=True)
class LanguageRun:
    """A stretch of text in one language, to be spoken by one engine.

    Attributes:
        language: The language code (``"en"``, ``"ru"`` or the caller's default).
        text: The run's text, a verbatim slice of the input (inner spacing preserved).
    """

    language: str
    text: str


def split_language_runs(text: str, default_language: str) -> list[LanguageRun]:
    """Split text into maximal runs of one language, at word level.

    Each whitespace-separated word takes the language of its letters (a word mixing scripts
    takes the majority). Words without letters (numbers, dashes, punctuation) join the run
    before them, or the first run when they lead the text, so "ABC-123" or "—" never becomes
    a run of its own that no engine could voice naturally. A run's text is a verbatim slice of
    the input, so punctuation and spacing inside it survive; whitespace between runs is
    dropped.

    Args:
        text: The text to split.
        default_language: The language of the single run returned when the text has no
            Cyrillic or Latin letter at all (e.g. ``"12:30"``).

    Returns:
        The runs in order; empty for empty or whitespace-only text. The words of all runs,
        joined, equal the words of the input.
    """
    has_cyrillic = _CYRILLIC_LETTER.search(text) is not None
    has_latin = _LATIN_LETTER.search(text) is not None
    if not (has_cyrillic and has_latin):
        # One script (or none): one run, without looking at each word (the common case).
        whole = text.strip()
        if not whole:
            return []
        language = _CYRILLIC if has_cyrillic else _LATIN if has_latin else default_language
        return [LanguageRun(language, whole)]
    spans: list[tuple[int, int, str | None]] = [
        (m.start(), m.end(), detect_language(m.group())) for m in _WORD.finditer(text)
    ]
    if not spans:
        return []

    # Words without letters inherit from the previous word; leading ones from the first word
    # that has a language (or the default when no word has one).
    first_language = next((lang for _, _, lang in spans if lang is not None), default_language)
    runs: list[tuple[str, int, int]] = []  # (language, start, end) in ``text``
    current = first_language
    for start, end, language in spans:
        if language is not None:
            current = language
        if runs and runs[-1][0] == current:
            runs[-1] = (current, runs[-1][1], end)
        else:
            runs.append((current, start, end))
    return [LanguageRun(lang, text[lo:hi]) for lang, lo, hi in runs]
