"""Audio output: resampling, sample encodings, WAV headers and click-free chunk joins.

Engines produce float32 mono at their native rate (Kokoro 24 kHz, Piper 22.05 kHz); callers
want one fixed rate and encoding (16 kHz s16le for Pipecat, 8 kHz μ-law for Twilio, WAV for
browsers). The raw encodings are plain numpy + soxr, cheap to run per streamed chunk; the
compressed ones (mp3, Opus, AAC, FLAC, for OpenAI's clients) go through PyAV (`compressed`).
"""

from __future__ import annotations

import struct
from enum import StrEnum

import numpy as np
import soxr

from pipecat_tts_gateway.compressed import CompressedEncoder
from pipecat_tts_gateway.errors import InvalidAudioFormatError

__all__ = [
    "COMPRESSED_FORMATS",
    "MEDIA_TYPES",
    "STREAMABLE_FORMATS",
    "SUPPORTED_SAMPLE_RATES",
    "AudioEncoder",
    "AudioFormat",
    "encode_whole",
    "fade",
    "mulaw_decode",
    "mulaw_encode",
    "resample",
    "to_s16",
    "validate_output",
    "wav_header",
]

SUPPORTED_SAMPLE_RATES: tuple[int, ...] = (8000, 16000, 22050, 24000, 44100, 48000)


class AudioFormat(StrEnum):
    """Output encodings; all are mono."""

    F32LE = "f32le"  # raw little-endian float32 in [-1, 1]
    S16LE = "s16le"  # raw little-endian signed 16-bit PCM
    WAV = "wav"  # RIFF/WAVE header + s16le payload
    MULAW = "mulaw"  # raw G.711 μ-law, one byte per sample (Twilio media streams)
    MP3 = "mp3"  # MPEG-1/2 Layer III (LAME), 64 kbit/s
    OPUS = "opus"  # Opus in Ogg, 32 kbit/s
    AAC = "aac"  # AAC-LC in ADTS frames, 64 kbit/s
    FLAC = "flac"  # lossless; sent whole so the header carries the length


COMPRESSED_FORMATS = frozenset(
    {AudioFormat.MP3, AudioFormat.OPUS, AudioFormat.AAC, AudioFormat.FLAC}
)
# Formats whose bytes can go out chunk by chunk (a streamed WAV has an open-ended header).
STREAMABLE_FORMATS = frozenset(AudioFormat) - {AudioFormat.FLAC}


MEDIA_TYPES: dict[AudioFormat, str] = {
    AudioFormat.F32LE: "application/octet-stream",
    AudioFormat.S16LE: "application/octet-stream",
    AudioFormat.WAV: "audio/wav",
    AudioFormat.MULAW: "audio/basic",
    AudioFormat.MP3: "audio/mpeg",
    AudioFormat.OPUS: "audio/ogg; codecs=opus",
    AudioFormat.AAC: "audio/aac",
    AudioFormat.FLAC: "audio/flac",
}

# Common spellings of the same encodings used by other APIs (OpenAI's "pcm" is s16le).
_FORMAT_ALIASES: dict[str, AudioFormat] = {
    "pcm": AudioFormat.S16LE,
    "ulaw": AudioFormat.MULAW,
    "pcm_mulaw": AudioFormat.MULAW,
}


def validate_output(sample_rate: int, fmt: str) -> AudioFormat:
    """Check a requested output rate and encoding before any synthesis starts.

    Args:
        sample_rate: The requested output rate in Hz.
        fmt: The encoding name (case-insensitive); the aliases ``pcm`` (s16le), ``ulaw`` and
            ``pcm_mulaw`` (mulaw) are accepted too.

    Returns:
        The encoding as an :class:`AudioFormat`.

    Raises:
        InvalidAudioFormatError: The rate or encoding is not supported; the message lists
            the supported values.
    """
    if (
        isinstance(sample_rate, bool)
        or not isinstance(sample_rate, int | np.integer)
        or int(sample_rate) not in SUPPORTED_SAMPLE_RATES
    ):
        supported = ", ".join(str(rate) for rate in SUPPORTED_SAMPLE_RATES)
        raise InvalidAudioFormatError(
            f"unsupported sample rate {sample_rate!r}; supported rates: {supported}"
        )
    name = fmt.strip().lower() if isinstance(fmt, str) else None
    if name in _FORMAT_ALIASES:
        return _FORMAT_ALIASES[name]
    try:
        return AudioFormat(name)
    except ValueError:
        supported = ", ".join(f.value for f in AudioFormat)
        raise InvalidAudioFormatError(
            f"unsupported audio format {fmt!r}; supported formats: {supported}"
        ) from None


def _as_f32(samples: np.ndarray) -> np.ndarray:
    """View samples as a 1-D float32 array (no copy when they already are)."""
    array = np.asarray(samples, dtype=np.float32)
    if array.ndim != 1:
        raise ValueError(f"expected mono (1-D) samples, got shape {array.shape}")
    return array


def resample(samples: np.ndarray, src_rate: int, dst_rate: int) -> np.ndarray:
    """Resample mono float32 audio with soxr's "HQ" quality.

    Each chunk is resampled on its own; the chunks are separate sentences joined with short
    fades, so the filter's edge effects at chunk borders are not audible.

    Args:
        samples: Mono samples.
        src_rate: Their rate in Hz.
        dst_rate: The wanted rate in Hz.

    Returns:
        float32 samples at ``dst_rate`` (length ``round(len * dst_rate / src_rate)``); the
        input itself when the rates are equal and it is already float32.
    """
    if src_rate <= 0 or dst_rate <= 0:
        raise ValueError(f"sample rates must be positive, got {src_rate} -> {dst_rate}")
    array = _as_f32(samples)
    if src_rate == dst_rate:
        return array
    if array.size == 0:
        return np.zeros(0, dtype=np.float32)
    return np.asarray(soxr.resample(array, src_rate, dst_rate, quality="HQ"), dtype=np.float32)


def to_s16(samples: np.ndarray) -> np.ndarray:
    """Convert float samples to int16, clipping to [-1, 1] (NaN becomes silence).

    Engines can overshoot slightly after resampling; clipping avoids int16 wrap-around, which
    would be a loud click.
    """
    array = np.nan_to_num(_as_f32(samples), nan=0.0, posinf=1.0, neginf=-1.0)
    return np.rint(np.clip(array, -1.0, 1.0) * 32767.0).astype(np.int16)


_MULAW_BIAS = 0x84
_MULAW_CLIP = 32635
# Segment (exponent) of a biased magnitude, indexed by its bits 7..14: floor(log2(i)), 0 for 0/1.
_MULAW_EXPONENT = np.array([0] + [i.bit_length() - 1 for i in range(1, 256)], dtype=np.int32)


def mulaw_encode(samples: np.ndarray) -> bytes:
    """Encode float samples as ITU-T G.711 μ-law bytes.

    This is the classic bias-0x84 / clip-32635 algorithm (Sun g711.c, what Twilio and
    Asterisk expect), vectorized: silence encodes as 0xFF, full-scale positive as 0x80,
    full-scale negative as 0x00.
    """
    pcm = to_s16(samples).astype(np.int32)
    sign = np.where(pcm < 0, 0x80, 0).astype(np.int32)
    magnitude = np.minimum(np.abs(pcm), _MULAW_CLIP) + _MULAW_BIAS
    exponent = _MULAW_EXPONENT[(magnitude >> 7) & 0xFF]
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    return (~(sign | (exponent << 4) | mantissa) & 0xFF).astype(np.uint8).tobytes()


def _mulaw_decode_table() -> np.ndarray:
    """Build the 256-entry μ-law → float32 table (G.711 decoding, scaled by 1/32768)."""
    code = ~np.arange(256, dtype=np.int32) & 0xFF
    exponent = (code >> 4) & 0x07
    mantissa = code & 0x0F
    magnitude = (((mantissa << 3) + _MULAW_BIAS) << exponent) - _MULAW_BIAS
    linear = np.where(code & 0x80, -magnitude, magnitude)
    return (linear / 32768.0).astype(np.float32)


_MULAW_DECODE = _mulaw_decode_table()


def mulaw_decode(data: bytes) -> np.ndarray:
    """Decode G.711 μ-law bytes to float32 samples in [-1, 1]."""
    return _MULAW_DECODE[np.frombuffer(data, dtype=np.uint8)]


_WAV_UNKNOWN_SIZE = 0xFFFFFFFF


def wav_header(sample_rate: int, num_samples: int | None) -> bytes:
    """Build a 44-byte RIFF/WAVE header for 16-bit mono PCM.

    For streaming the length is unknown when the header is sent, so ``num_samples=None`` sets
    the RIFF and data sizes to 0xFFFFFFFF ("as long as the stream"), the convention ffmpeg,
    libsndfile/soundfile and browsers accept for piped WAV. Python's ``wave`` module accepts
    it too: ``readframes(n)`` returns the frames actually present, but ``getnframes()``
    reports 0x7FFFFFFF (the size field over the frame size), so count the frames you read.
    A size of 0 would be worse: ``wave`` would then read no frames at all.

    Args:
        sample_rate: The rate in Hz.
        num_samples: The exact number of samples that follow, or None when streaming.

    Raises:
        ValueError: Non-positive rate, negative count, or more data than a WAV can hold.
    """
    if sample_rate <= 0:
        raise ValueError(f"sample rate must be positive, got {sample_rate}")
    if num_samples is None:
        riff_size = data_size = _WAV_UNKNOWN_SIZE
    else:
        if num_samples < 0:
            raise ValueError(f"num_samples must not be negative, got {num_samples}")
        data_size = num_samples * 2
        riff_size = 36 + data_size
        if riff_size >= _WAV_UNKNOWN_SIZE:
            raise ValueError(f"{num_samples} samples are too many for a WAV file")
    channels, bits = 1, 16
    block_align = channels * bits // 8
    return struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF",
        riff_size,
        b"WAVE",
        b"fmt ",
        16,  # fmt chunk size for PCM
        1,  # WAVE_FORMAT_PCM
        channels,
        sample_rate,
        sample_rate * block_align,  # byte rate
        block_align,
        bits,
        b"data",
        data_size,
    )


class AudioEncoder:
    """Turn float32 chunks into the bytes of one output encoding.

    A stream is ``header()``, then ``encode(chunk)`` for each chunk, then ``finish()``; the
    bytes can be sent as they are produced. Raw encodings are stateless per chunk; compressed
    ones keep a few milliseconds in the encoder until ``finish()``.
    """

    def __init__(self, fmt: AudioFormat | str, sample_rate: int) -> None:
        """Create an encoder.

        Args:
            fmt: The output encoding.
            sample_rate: The rate of the samples to encode (WAV and compressed formats record
                it).
        """
        self.fmt = AudioFormat(fmt)
        self.sample_rate = sample_rate
        self._compressed = (
            CompressedEncoder(self.fmt.value, sample_rate)
            if self.fmt in COMPRESSED_FORMATS
            else None
        )

    @property
    def media_type(self) -> str:
        """The HTTP media type of the encoded stream."""
        return MEDIA_TYPES[self.fmt]

    def header(self, num_samples: int | None = None) -> bytes:
        """Return the bytes that precede the audio: a WAV header for WAV, else nothing.

        Args:
            num_samples: The exact total sample count, or None for a streaming header.
        """
        if self.fmt is AudioFormat.WAV:
            return wav_header(self.sample_rate, num_samples)
        return b""

    def encode(self, samples: np.ndarray) -> bytes:
        """Encode a chunk of float32 mono samples (no header)."""
        if self._compressed is not None:
            return self._compressed.encode(_as_f32(samples))
        if self.fmt is AudioFormat.F32LE:
            return _as_f32(samples).astype("<f4", copy=False).tobytes()
        if self.fmt is AudioFormat.MULAW:
            return mulaw_encode(samples)
        return to_s16(samples).astype("<i2", copy=False).tobytes()  # S16LE and WAV payload

    def finish(self) -> bytes:
        """The bytes that end the stream: what a compressed encoder held back, else nothing."""
        return b"" if self._compressed is None else self._compressed.finish()


def fade(
    samples: np.ndarray,
    sample_rate: int,
    *,
    fade_in_ms: float = 0.0,
    fade_out_ms: float = 0.0,
) -> np.ndarray:
    """Apply raised-cosine fade-in/fade-out ramps.

    Chunks are synthesized separately, so a chunk may start or end off zero; played back to
    back, that step is an audible click. A few milliseconds of ramp removes it without being
    heard as a fade.

    Args:
        samples: Mono samples (not modified).
        sample_rate: Their rate in Hz.
        fade_in_ms: Ramp length at the start; the first sample becomes exactly 0.
        fade_out_ms: Ramp length at the end; the last sample becomes exactly 0.

    Returns:
        A new float32 array; ramps longer than the audio are shortened to fit.
    """
    if fade_in_ms < 0 or fade_out_ms < 0:
        raise ValueError("fade lengths must not be negative")
    out = np.array(samples, dtype=np.float32, copy=True)
    if out.ndim != 1:
        raise ValueError(f"expected mono (1-D) samples, got shape {out.shape}")
    fade_in = min(round(sample_rate * fade_in_ms / 1000.0), out.size)
    fade_out = min(round(sample_rate * fade_out_ms / 1000.0), out.size)
    if fade_in > 0:
        out[:fade_in] *= _ramp(fade_in)
    if fade_out > 0:
        out[out.size - fade_out :] *= _ramp(fade_out)[::-1]
    return out


def _ramp(length: int) -> np.ndarray:
    """A raised-cosine ramp rising from exactly 0 towards 1 over ``length`` samples."""
    return (0.5 - 0.5 * np.cos(np.pi * np.arange(length) / length)).astype(np.float32)


def encode_whole(samples: np.ndarray, sample_rate: int, fmt: AudioFormat | str) -> bytes:
    """Encode a complete clip; for WAV the header carries the exact length.

    Args:
        samples: All the float32 mono samples of the clip.
        sample_rate: Their rate in Hz.
        fmt: The output encoding.
    """
    encoder = AudioEncoder(fmt, sample_rate)
    array = _as_f32(samples)
    return encoder.header(array.size) + encoder.encode(array) + encoder.finish()
