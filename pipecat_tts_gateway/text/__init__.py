"""Text handling before synthesis: validation, language routing and streaming chunks."""

from pipecat_tts_gateway.text.chunking import (
    chunk_text,
    next_chunk,
    settled_first_chunk,
    split_sentences,
    split_to_fit,
)
from pipecat_tts_gateway.text.language import LanguageRun, detect_language, split_language_runs
from pipecat_tts_gateway.text.streamed import TextStreamChunker
from pipecat_tts_gateway.text.validation import clean_text

__all__ = [
    "LanguageRun",
    "TextStreamChunker",
    "chunk_text",
    "clean_text",
    "detect_language",
    "next_chunk",
    "settled_first_chunk",
    "split_language_runs",
    "split_sentences",
    "split_to_fit",
]
