"""Cache keys: one hash over everything that changes a text's audio.

The seed keyed its files by md5(text) alone, so changing the voice, the speed or the model
silently served the old audio. Here the key covers the engine, the model identity behind the
voice, the voice (or blend), the speed, the language and the text, plus a format version so a
change of the entry layout never reads old entries as new ones. Keys are lowercase hex only,
which is all that ever reaches a file name or a Redis key.

A whole language run and a single chunk of one share this key space: an entry is a complete
rendering of its text by its route, whether it was rendered as a run (possibly cut into
chunks) or as one chunk, and either serves a request for that text in that voice. So a
one-chunk run is stored once, a prerendered phrase is a hit as a chunk of a longer text, and a
prerendered opener is a hit as a whole request.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata

from pipecat_tts_gateway.cache.entry import FORMAT_VERSION
from pipecat_tts_gateway.routing import Route

_KEY = re.compile(r"[0-9a-f]{64}")


def normalize_text(text: str) -> str:
    """NFC with whitespace runs collapsed: spellings that speak the same share one entry."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def segment_key(route: Route, model_id: str, language: str, text: str) -> str:
    """The key of a language run, or of one chunk of a run, spoken by one route.

    Args:
        route: Engine, voice and speed that speak the text.
        model_id: `engine.model_id(route.voice)`, so a new model file never serves old audio.
        language: The run's language (the same letters read differently per language).
        text: The run's or the chunk's text.

    Returns:
        64 lowercase hex characters (sha256).
    """
    fields = [
        FORMAT_VERSION,
        route.engine,
        model_id,
        route.voice,
        f"{route.speed:.3f}",  # 1.0 and 1.0000001 sound the same
        language,
        normalize_text(text),
    ]
    encoded = json.dumps(fields, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return hashlib.sha256(encoded).hexdigest()


def is_key(value: str) -> bool:
    """True for a well-formed key (what file names in the cache directory must be)."""
    return _KEY.fullmatch(value) is not None
