"""Segment audio cache: memory → files → Redis, keyed by everything that changes the audio."""

from pipecat_tts_gateway.cache.entry import CacheEntry, CacheEntryError, decode_entry, encode_entry
from pipecat_tts_gateway.cache.keys import segment_key
from pipecat_tts_gateway.cache.segment import CachedSegment
from pipecat_tts_gateway.cache.tiered import AudioCache

__all__ = [
    "AudioCache",
    "CacheEntry",
    "CacheEntryError",
    "CachedSegment",
    "decode_entry",
    "encode_entry",
    "segment_key",
]
