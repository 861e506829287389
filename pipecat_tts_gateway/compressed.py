"""Compressed output encodings (mp3, Ogg Opus, ADTS AAC, FLAC) through PyAV.

PyAV's wheel bundles FFmpeg with libmp3lame, libopus and its own AAC and FLAC encoders, so
every format OpenAI's speech API offers comes from one maintained, pip-installable library,
with no system FFmpeg and no hand-written codec. The muxer writes into a sink that cannot seek,
so each container is laid out for streaming: what `encode` returns can be sent at once and the
concatenation of everything returned is a valid file.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import av
import numpy as np

__all__ = ["CODECS", "Codec", "CompressedEncoder"]


@dataclass(frozen=True)
class Codec:
    """How one compressed format is produced.

    Attributes:
        container: FFmpeg muxer name.
        codec: FFmpeg encoder name.
        bit_rate: Target bits per second (mono speech); None for lossless.
        rates: Sample rates the encoder takes; None for any. Others are resampled to the
            highest (by PyAV, as frames are encoded).
        options: Muxer options.
    """

    container: str
    codec: str
    bit_rate: int | None
    rates: tuple[int, ...] | None = None
    options: dict[str, str] = field(default_factory=dict)

    def rate_for(self, sample_rate: int) -> int:
        if self.rates is None or sample_rate in self.rates:
            return sample_rate
        return max(self.rates)


CODECS: dict[str, Codec] = {
    "mp3": Codec("mp3", "libmp3lame", 64_000),
    # Ogg holds packets for a second by default; 20 ms pages let each chunk leave at once.
    "opus": Codec(
        "ogg", "libopus", 32_000, (8000, 12000, 16000, 24000, 48000), {"page_duration": "20000"}
    ),
    "aac": Codec("adts", "aac", 64_000),
    "flac": Codec("flac", "flac", None),
}


class _Sink:
    """A write-only file for the muxer: without `seek` it never goes back to patch a header."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        data = b"".join(self._parts)
        self._parts.clear()
        return data


class CompressedEncoder:
    """One encoded stream: float32 mono chunks in, container bytes out as they are ready.

    Args:
        name: A key of `CODECS`.
        sample_rate: Rate of the samples given to `encode`.
    """

    def __init__(self, name: str, sample_rate: int) -> None:
        codec = CODECS[name]
        self._sink = _Sink()
        self._container = av.open(
            self._sink, mode="w", format=codec.container, options=codec.options
        )
        self._stream = self._container.add_stream(
            codec.codec, rate=codec.rate_for(sample_rate), layout="mono"
        )
        if codec.bit_rate is not None:
            self._stream.bit_rate = codec.bit_rate
        self._sample_rate = sample_rate
        self._finished = False

    def encode(self, samples: np.ndarray) -> bytes:
        """Encode a chunk; returns the bytes the muxer wrote (the encoder keeps a few ms back)."""
        array = np.ascontiguousarray(samples, dtype=np.float32).reshape(1, -1)
        if array.size:
            frame = av.AudioFrame.from_ndarray(array, format="flt", layout="mono")
            frame.sample_rate = self._sample_rate
            self._mux(frame)
        return self._sink.take()

    def finish(self) -> bytes:
        """Flush the encoder and close the container; returns the last bytes. Idempotent."""
        if not self._finished:
            self._finished = True
            self._mux(None)
            self._container.close()
        return self._sink.take()

    def _mux(self, frame: av.AudioFrame | None) -> None:
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
