"""One cache entry: a segment's native-rate audio, its piece boundaries and word times.

The seed pickled its cache files, so anyone able to write one could run code in the gateway.
An entry here is plain data in a fixed layout (all little-endian):

    magic "TTSA" | version u16 | sample rate u32 | sample count u64 | created f64 (unix s)
    | metadata length u32 | sha256(key) 32 B | sha256(everything before it and after it) 32 B
    | metadata: UTF-8 JSON {"pieces": [{"text", "samples", "words": [[word, start, end]]}]}
    | samples: float32 PCM

Decoding checks every field and the checksum, so a truncated or corrupted entry (a crash
mid-write, a bad disk, a wrong Redis value) raises CacheEntryError instead of being played.
The key digest binds an entry to its key: a file renamed onto another key is rejected too.
"""

from __future__ import annotations

import hashlib
import json
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from pipecat_tts_gateway.engines.base import EngineAudio, WordTiming

MAGIC = b"TTSA"
FORMAT_VERSION = 1
_HEADER = struct.Struct("<4sHIQdI32s")
_CHECKSUM_SIZE = 32
_PCM = np.dtype("<f4")
_MAX_RATE = 384_000
_MAX_METADATA = 16 * 2**20


class CacheEntryError(ValueError):
    """Bytes that are not a valid entry for the key they were read under."""


@dataclass(frozen=True)
class CachedPiece:
    """Where one engine piece lies in the entry's audio.

    Attributes:
        text: The text the piece speaks (a streamed hit yields the same chunks as the miss).
        length: Its number of samples.
        words: Word times relative to the piece, or None.
    """

    text: str
    length: int
    words: tuple[WordTiming, ...] | None


@dataclass(frozen=True)
class CacheEntry:
    """A segment's audio as one read-only array plus its piece boundaries.

    Attributes:
        samples: Mono float32 at `sample_rate` (the engine's native rate; conversion to a
            request's rate happens on the way out, so one entry serves every output rate).
        sample_rate: The engine's rate.
        pieces: The engine pieces, in order; their lengths add up to `len(samples)`.
        created: Unix time of the synthesis; the TTL counts from here in every tier.
    """

    samples: np.ndarray
    sample_rate: int
    pieces: tuple[CachedPiece, ...]
    created: float

    @classmethod
    def from_audio(cls, pieces: Sequence[EngineAudio], created: float) -> CacheEntry:
        """Join the pieces of one completed segment (all from one engine, so one rate)."""
        rates = {p.sample_rate for p in pieces}
        if len(rates) != 1:
            raise ValueError(f"an entry needs pieces at one sample rate, got {sorted(rates)}")
        samples = np.concatenate([np.asarray(p.samples, dtype=np.float32) for p in pieces])
        samples.flags.writeable = False  # shared by every hit
        return cls(
            samples=samples,
            sample_rate=rates.pop(),
            pieces=tuple(CachedPiece(p.text, len(p.samples), p.words) for p in pieces),
            created=created,
        )

    @property
    def nbytes(self) -> int:
        """Approximate memory held (the audio dominates)."""
        return self.samples.nbytes + sum(len(p.text) + 64 for p in self.pieces)

    def expired(self, ttl_s: float, now: float) -> bool:
        """True once older than `ttl_s` (0 or less: never)."""
        return ttl_s > 0 and now - self.created >= ttl_s

    def audio(self) -> Iterator[EngineAudio]:
        """The pieces again, as views of the shared array (no copy)."""
        start = 0
        for piece in self.pieces:
            yield EngineAudio(
                samples=self.samples[start : start + piece.length],
                sample_rate=self.sample_rate,
                text=piece.text,
                words=piece.words,
            )
            start += piece.length


def encode_entry(key: str, entry: CacheEntry) -> bytes:
    """The entry's bytes, bound to `key` (a hex cache key)."""
    metadata = json.dumps(
        {"pieces": [_piece_to_json(p) for p in entry.pieces]},
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode("utf-8")
    header = _HEADER.pack(
        MAGIC,
        FORMAT_VERSION,
        entry.sample_rate,
        len(entry.samples),
        entry.created,
        len(metadata),
        hashlib.sha256(key.encode("ascii")).digest(),
    )
    payload = np.ascontiguousarray(entry.samples, dtype=_PCM).tobytes()
    checksum = hashlib.sha256(header + metadata + payload).digest()
    return b"".join((header, checksum, metadata, payload))


def decode_entry(key: str, data: bytes) -> CacheEntry:
    """Parse and verify an entry read under `key`.

    Raises:
        CacheEntryError: Wrong magic, version or key, a size that does not add up (truncated
            or padded), a checksum mismatch, or metadata that does not describe the audio.
    """
    if len(data) < _HEADER.size + _CHECKSUM_SIZE:
        raise CacheEntryError(f"truncated: {len(data)} bytes is shorter than the header")
    magic, version, rate, count, created, meta_len, key_digest = _HEADER.unpack_from(data)
    if magic != MAGIC:
        raise CacheEntryError(f"bad magic {magic!r}")
    if version != FORMAT_VERSION:
        raise CacheEntryError(f"format version {version}, expected {FORMAT_VERSION}")
    if key_digest != hashlib.sha256(key.encode("ascii")).digest():
        raise CacheEntryError("entry belongs to another key")
    if not 0 < rate <= _MAX_RATE or meta_len > _MAX_METADATA:
        raise CacheEntryError(f"implausible header (rate {rate}, metadata {meta_len} bytes)")
    meta_start = _HEADER.size + _CHECKSUM_SIZE
    pcm_start = meta_start + meta_len
    expected = pcm_start + count * _PCM.itemsize
    if len(data) != expected:
        raise CacheEntryError(f"size {len(data)} bytes, header says {expected} (truncated?)")
    view = memoryview(data)
    checksum = hashlib.sha256()
    checksum.update(view[: _HEADER.size])
    checksum.update(view[meta_start:])
    if checksum.digest() != view[_HEADER.size : meta_start]:
        raise CacheEntryError("checksum mismatch")
    pieces = _pieces_from_json(bytes(view[meta_start:pcm_start]), count)
    samples = np.frombuffer(data, dtype=_PCM, count=count, offset=pcm_start)
    return CacheEntry(samples=samples, sample_rate=rate, pieces=pieces, created=created)


def _piece_to_json(piece: CachedPiece) -> dict[str, Any]:
    words = None if piece.words is None else [[w.word, w.start_s, w.end_s] for w in piece.words]
    return {"text": piece.text, "samples": piece.length, "words": words}


def _pieces_from_json(raw: bytes, count: int) -> tuple[CachedPiece, ...]:
    try:
        items = json.loads(raw.decode("utf-8"))["pieces"]
        pieces = tuple(
            CachedPiece(
                text=_typed(item["text"], str),
                length=_typed(item["samples"], int),
                words=None
                if item["words"] is None
                else tuple(
                    WordTiming(_typed(w, str), float(s), float(e)) for w, s, e in item["words"]
                ),
            )
            for item in items
        )
    except (UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        raise CacheEntryError(f"bad metadata: {type(exc).__name__}: {exc}") from exc
    if not pieces or any(p.length < 0 for p in pieces) or sum(p.length for p in pieces) != count:
        raise CacheEntryError("piece lengths do not add up to the sample count")
    return pieces


def _typed(value: object, kind: type) -> Any:
    if not isinstance(value, kind) or isinstance(value, bool):
        raise TypeError(f"expected {kind.__name__}, got {type(value).__name__}")
    return value
