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

# Letters only: \w minus digits and underscore, then sorted into scripts by code point.
_LETTER = re.compile(r"[^\W\d_]")
_WORD = re.compile(r"\S+")


def _script(char: str) -> str | None:
    """Return the language whose script ``char`` (a letter) belongs to, or None."""
    code = ord(char)
    if code < 0x80:
        return _LATIN
    if 0x0400 <= code <= 0x052F or 0x1C80 <= code <= 0x1C8F or 0x2DE0 <= code <= 0x2DFF:
        return _CYRILLIC
    if 0xA640 <= code <= 0xA69F:
        return _CYRILLIC
    if (
        0x00C0 <= code <= 0x024F  # Latin-1 letters, Latin Extended-A/B
        or 0x1E00 <= code <= 0x1EFF  # Latin Extended Additional (Vietnamese etc.)
        or 0x2C60 <= code <= 0x2C7F
        or 0xA720 <= code <= 0xA7FF
        or 0xAB30 <= code <= 0xAB6F
        or 0xFF21 <= code <= 0xFF5A  # full-width A-Z / a-z
    ):
        return _LATIN
    return None


def detect_language(text: str) -> str | None:
    """Guess the language of ``text`` from the script its letters are written in.

    Args:
        text: Any text.

    Returns:
        ``"ru"`` when Cyrillic letters outnumber Latin ones, ``"en"`` when Latin letters
        outnumber Cyrillic ones, the script of the first such letter on a tie, and None when
        there is no Cyrillic or Latin letter at all (``"12:30"``, ``"+7 999"``, ``"..."``).
    """
    cyrillic = latin = 0
    first: str | None = None
    for match in _LETTER.finditer(text):
        script = _script(match.group())
        if script is None:
            continue
        if first is None:
            first = script
        if script == _CYRILLIC:
            cyrillic += 1
        else:
            latin += 1
    if cyrillic > latin:
        return _CYRILLIC
    if latin > cyrillic:
        return _LATIN
    return first


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
