"""Run and chunk audio cache: memory → files → Redis, keyed by all that changes the audio."""

from pipecat_tts_gateway.cache.entry import CacheEntry, CacheEntryError, decode_entry, encode_entry
from pipecat_tts_gateway.cache.keys import segment_key
from pipecat_tts_gateway.cache.segment import CachedSegment, SegmentPiece, SegmentPieces
from pipecat_tts_gateway.cache.tiered import AudioCache

__all__ = [
    "AudioCache",
    "CacheEntry",
    "CacheEntryError",
    "CachedSegment",
    "SegmentPiece",
    "SegmentPieces",
    "decode_entry",
    "encode_entry",
    "segment_key",
]
