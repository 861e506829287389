"""Input text validation: the one place that decides what text an engine may receive.

Engines (Kokoro's phonemizer, Piper's espeak) misbehave in odd ways on control characters,
lone surrogates or invisible format characters, so every door runs text through
:func:`clean_text` first and turns its typed errors into a 4xx/ErrorFrame.
"""

from __future__ import annotations

import re
import unicodedata

from pipecat_tts_gateway.errors import EmptyTextError, InvalidTextError, TextTooLongError

__all__ = ["clean_text"]

# Control characters (category Cc) that are NOT Unicode White_Space, plus every surrogate code
# point (in a Python str any surrogate is necessarily lone). \t \n \v \f \r and U+0085 (NEL) are
# whitespace and are allowed. U+001C-U+001F count as whitespace for str.isspace() but are not
# Unicode White_Space; they are file/record separators, so they are rejected here.
_INVALID_CHAR = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f\ud800-\udfff]")

# A letter or a digit in any script: `\w` minus the underscore.
_SPEAKABLE = re.compile(r"[^\W_]")


def clean_text(text: object, *, max_chars: int) -> str:
    """Validate and normalize text before it reaches an engine.

    The length check runs first, on the raw input, so an oversized request (say 1 MB) is
    rejected in constant time instead of being normalized first.

    Args:
        text: The caller's text; anything that is not a ``str`` is treated as missing text.
        max_chars: The largest accepted length in code points of the raw input.

    Returns:
        NFC-normalized text with format characters (Cf, e.g. zero-width joiners, soft
        hyphens, BOMs) removed, whitespace runs collapsed to one space, and ends stripped.

    Raises:
        EmptyTextError: Not a string, empty, whitespace only, or nothing speakable (no letter
            and no digit, e.g. ``"..."``).
        TextTooLongError: Longer than ``max_chars``.
        InvalidTextError: Holds a control character other than whitespace, or a surrogate.
    """
    if not isinstance(text, str):
        raise EmptyTextError(f"text must be a non-empty string, got {type(text).__name__}")
    if not text:
        raise EmptyTextError("text is empty")
    if len(text) > max_chars:
        raise TextTooLongError(
            f"text is {len(text)} characters long; the limit is {max_chars} characters"
        )
    if text.isspace():
        raise EmptyTextError("text is whitespace only")

    bad = _INVALID_CHAR.search(text)
    if bad is not None:
        char = bad.group()
        raise InvalidTextError(
            f"text contains an unspeakable character U+{ord(char):04X} "
            f"({_char_name(char)}) at position {bad.start()}"
        )

    # Cf removal must precede NFC: a ZWJ between a base and a combining mark blocks composition.
    # ASCII has no Cf characters, so the common case skips the per-character loop.
    if not text.isascii():
        text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
        text = unicodedata.normalize("NFC", text)
    text = " ".join(text.split())

    if not _SPEAKABLE.search(text):
        raise EmptyTextError("text has nothing speakable (no letters or digits)")
    return text


def _char_name(char: str) -> str:
    """Return a readable name for an offending character (control characters have none)."""
    names = {
        "\x00": "NUL",
        "\x07": "BEL",
        "\x08": "BACKSPACE",
        "\x1b": "ESCAPE",
        "\x7f": "DELETE",
    }
    if char in names:
        return names[char]
    if 0xD800 <= ord(char) <= 0xDFFF:
        return "lone surrogate"
    return unicodedata.name(char, "control character")
