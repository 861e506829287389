"""Tests of resampling, encodings, WAV headers and fades."""

from __future__ import annotations

import io
import itertools
import struct
import wave

import av
import numpy as np
import pytest

from pipecat_tts_gateway.audio import (
    COMPRESSED_FORMATS,
    MEDIA_TYPES,
    SUPPORTED_SAMPLE_RATES,
    AudioEncoder,
    AudioFormat,
    encode_whole,
    fade,
    mulaw_decode,
    mulaw_encode,
    resample,
    to_s16,
    validate_output,
    wav_header,
)
from pipecat_tts_gateway.errors import InvalidAudioFormatError


def _sine(freq: float, rate: int, seconds: float, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(round(rate * seconds)) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def _reference_mulaw(sample: int) -> int:
    """Scalar port of the classic C linear-to-μ-law encoder (bias 0x84, clip 32635)."""
    exp_lut = [0, 0] + [i.bit_length() - 1 for i in range(2, 256)]
    sign = (sample >> 8) & 0x80
    if sign:
        sample = -sample
    sample = min(sample, 32635) + 0x84
    exponent = exp_lut[(sample >> 7) & 0xFF]
    mantissa = (sample >> (exponent + 3)) & 0x0F
    return ~(sign | (exponent << 4) | mantissa) & 0xFF


# ---------------------------------------------------------------------------------------------
# Formats


class TestValidateOutput:
    @pytest.mark.parametrize(
        ("rate", "fmt"), list(itertools.product(SUPPORTED_SAMPLE_RATES, list(AudioFormat)))
    )
    def test_supported(self, rate: int, fmt: AudioFormat) -> None:
        assert validate_output(rate, fmt.value) is fmt

    def test_case_and_aliases(self) -> None:
        assert validate_output(8000, " MuLaw ") is AudioFormat.MULAW
        assert validate_output(8000, "ulaw") is AudioFormat.MULAW
        assert validate_output(24000, "pcm") is AudioFormat.S16LE
        assert validate_output(np.int64(16000), "wav") is AudioFormat.WAV

    @pytest.mark.parametrize("rate", [0, -8000, 11025, 96000, 8000.0, "8000", True, None])
    def test_bad_rate_names_supported_rates(self, rate: object) -> None:
        with pytest.raises(InvalidAudioFormatError, match="8000, 16000, 22050, 24000"):
            validate_output(rate, "wav")  # type: ignore[arg-type]

    @pytest.mark.parametrize("fmt", ["vorbis", "", "ogg", "f32", None, 3])
    def test_bad_format_names_supported_formats(self, fmt: object) -> None:
        with pytest.raises(
            InvalidAudioFormatError, match="f32le, s16le, wav, mulaw, mp3, opus, aac, flac"
        ):
            validate_output(16000, fmt)  # type: ignore[arg-type]

    def test_media_types(self) -> None:
        assert set(MEDIA_TYPES) == set(AudioFormat)
        assert MEDIA_TYPES[AudioFormat.WAV] == "audio/wav"
        assert MEDIA_TYPES[AudioFormat.MULAW] == "audio/basic"
        assert MEDIA_TYPES[AudioFormat.S16LE] == "application/octet-stream"
        assert AudioEncoder("f32le", 24000).media_type == "application/octet-stream"


# ---------------------------------------------------------------------------------------------
# Resampling


class TestResample:
    @pytest.mark.parametrize(
        ("src", "dst"), list(itertools.product(SUPPORTED_SAMPLE_RATES, repeat=2))
    )
    def test_lengths_for_all_rate_pairs(self, src: int, dst: int) -> None:
        for n in (1, 100, src // 10, 12_345):
            out = resample(np.zeros(n, dtype=np.float32), src, dst)
            assert out.dtype == np.float32
            assert abs(out.size - n * dst / src) <= 1

    def test_same_rate_returns_input(self) -> None:
        x = _sine(440, 24000, 0.1)
        assert resample(x, 24000, 24000) is x

    def test_empty(self) -> None:
        assert resample(np.zeros(0, dtype=np.float32), 24000, 8000).size == 0

    @pytest.mark.parametrize(("src", "dst"), [(24000, 8000), (22050, 16000), (24000, 48000)])
    def test_preserves_tone(self, src: int, dst: int) -> None:
        x = _sine(440, src, 1.0)
        y = resample(x, src, dst)
        expected = _sine(440, dst, 1.0)
        middle = slice(dst // 10, -dst // 10)  # skip filter edges
        assert np.max(np.abs(y[middle] - expected[middle])) < 0.01

    def test_rejects_bad_input(self) -> None:
        with pytest.raises(ValueError):
            resample(np.zeros(10, dtype=np.float32), 0, 8000)
        with pytest.raises(ValueError, match="mono"):
            resample(np.zeros((10, 2), dtype=np.float32), 24000, 8000)


# ---------------------------------------------------------------------------------------------
# Sample encodings


class TestS16:
    def test_scale_and_clip(self) -> None:
        x = np.array([0.0, 0.5, -0.5, 1.0, -1.0, 1.7, -3.0, np.nan, np.inf, -np.inf])
        assert to_s16(x).tolist() == [
            0,
            16384,
            -16384,
            32767,
            -32767,
            32767,
            -32767,
            0,
            32767,
            -32767,
        ]
        assert to_s16(x).dtype == np.int16


class TestMulaw:
    @pytest.mark.parametrize(
        ("value", "code"),
        [(0.0, 0xFF), (1.0, 0x80), (-1.0, 0x00), (-1 / 32767, 0x7F), (2.0, 0x80), (-2.0, 0x00)],
    )
    def test_reference_values(self, value: float, code: int) -> None:
        assert mulaw_encode(np.array([value], dtype=np.float32)) == bytes([code])

    def test_matches_reference_encoder_on_every_16_bit_value(self) -> None:
        pcm = np.arange(-32768, 32768)
        ours = np.frombuffer(mulaw_encode((pcm / 32767).astype(np.float32)), dtype=np.uint8)
        # -32768 clips to -32767 in to_s16; both encode to 0x00.
        expected = np.array([_reference_mulaw(max(int(s), -32767)) for s in pcm], dtype=np.uint8)
        assert np.array_equal(ours, expected)

    def test_decode_reference_values(self) -> None:
        decoded = mulaw_decode(bytes([0xFF, 0x7F, 0x80, 0x00, 0xF0, 0x70])) * 32768
        assert decoded.tolist() == [0, 0, 32124, -32124, 120, -120]
        assert mulaw_decode(b"").size == 0
        assert mulaw_decode(b"\x00").dtype == np.float32

    def test_every_code_round_trips(self) -> None:
        codes = bytes(code for code in range(256) if code != 0x7F)  # 0x7F is "-0", encodes as 0xFF
        assert mulaw_encode(mulaw_decode(codes)) == codes

    def test_round_trip_error_is_small(self) -> None:
        rng = np.random.default_rng(0)
        x = rng.uniform(-1, 1, 48000).astype(np.float32)
        y = mulaw_decode(mulaw_encode(x))
        error = np.abs(y - x)
        # The step doubles each segment: the error is at most about 1/32 of the magnitude.
        assert np.all(error <= np.abs(x) / 30 + 5e-4)
        assert error.max() < 0.02

    def test_snr_of_speech_level_tone(self) -> None:
        x = _sine(440, 8000, 1.0, amplitude=0.3)
        y = mulaw_decode(mulaw_encode(x))
        snr_db = 10 * np.log10(np.sum(x**2) / np.sum((y - x) ** 2))
        assert snr_db > 35  # G.711 gives about 38 dB


# ---------------------------------------------------------------------------------------------
# WAV


def _read_wav(data: bytes) -> tuple[wave._wave_params, bytes]:
    with wave.open(io.BytesIO(data), "rb") as reader:
        return reader.getparams(), reader.readframes(1 << 30)


class TestWav:
    def test_exact_header_fields(self) -> None:
        header = wav_header(16000, 100)
        assert len(header) == 44
        fields = struct.unpack("<4sI4s4sIHHIIHH4sI", header)
        assert fields == (
            b"RIFF",
            236,
            b"WAVE",
            b"fmt ",
            16,
            1,
            1,
            16000,
            32000,
            2,
            16,
            b"data",
            200,
        )

    def test_streaming_header_uses_unknown_sizes(self) -> None:
        fields = struct.unpack("<4sI4s4sIHHIIHH4sI", wav_header(24000, None))
        assert fields[1] == 0xFFFFFFFF
        assert fields[-1] == 0xFFFFFFFF

    @pytest.mark.parametrize("rate", SUPPORTED_SAMPLE_RATES)
    def test_whole_wav_is_readable(self, rate: int) -> None:
        x = _sine(440, rate, 0.25)
        params, frames = _read_wav(encode_whole(x, rate, AudioFormat.WAV))
        assert (params.nchannels, params.sampwidth, params.framerate) == (1, 2, rate)
        assert params.nframes == x.size
        assert np.array_equal(np.frombuffer(frames, dtype="<i2"), to_s16(x))

    def test_streaming_wav_is_readable_by_wave(self) -> None:
        encoder = AudioEncoder(AudioFormat.WAV, 16000)
        chunks = [_sine(440, 16000, 0.1), _sine(880, 16000, 0.05)]
        data = encoder.header() + b"".join(encoder.encode(chunk) for chunk in chunks)
        params, frames = _read_wav(data)
        assert params.framerate == 16000
        # wave reports the size field over the frame size, not the real count (documented).
        assert params.nframes == 0xFFFFFFFF // 2
        assert np.array_equal(np.frombuffer(frames, dtype="<i2"), to_s16(np.concatenate(chunks)))

    def test_empty_wav(self) -> None:
        params, frames = _read_wav(encode_whole(np.zeros(0, dtype=np.float32), 8000, "wav"))
        assert params.nframes == 0
        assert frames == b""

    def test_bad_arguments(self) -> None:
        with pytest.raises(ValueError):
            wav_header(0, 10)
        with pytest.raises(ValueError):
            wav_header(16000, -1)
        with pytest.raises(ValueError):
            wav_header(16000, 2**31)


# ---------------------------------------------------------------------------------------------
# Encoder


class TestAudioEncoder:
    def test_f32le_round_trip_is_exact(self) -> None:
        x = np.random.default_rng(1).uniform(-1.5, 1.5, 1000).astype(np.float32)
        data = AudioEncoder(AudioFormat.F32LE, 24000).encode(x)
        assert len(data) == 4 * x.size
        assert np.array_equal(np.frombuffer(data, dtype="<f4"), x)

    def test_f32le_accepts_float64(self) -> None:
        x = np.linspace(-1, 1, 11)
        data = AudioEncoder("f32le", 24000).encode(x)
        assert np.allclose(np.frombuffer(data, dtype="<f4"), x)

    def test_s16le(self) -> None:
        x = np.array([0.0, 1.0, -1.0, 0.25], dtype=np.float32)
        data = AudioEncoder(AudioFormat.S16LE, 16000).encode(x)
        assert data == struct.pack("<4h", 0, 32767, -32767, 8192)

    def test_mulaw_is_one_byte_per_sample(self) -> None:
        x = _sine(440, 8000, 0.02)
        assert len(AudioEncoder(AudioFormat.MULAW, 8000).encode(x)) == x.size

    @pytest.mark.parametrize("fmt", [AudioFormat.F32LE, AudioFormat.S16LE, AudioFormat.MULAW])
    def test_raw_formats_have_no_header(self, fmt: AudioFormat) -> None:
        assert AudioEncoder(fmt, 8000).header() == b""
        assert AudioEncoder(fmt, 8000).header(100) == b""

    def test_wav_header(self) -> None:
        encoder = AudioEncoder(AudioFormat.WAV, 22050)
        assert encoder.header(10) == wav_header(22050, 10)
        assert encoder.header() == wav_header(22050, None)

    @pytest.mark.parametrize("fmt", sorted(set(AudioFormat) - COMPRESSED_FORMATS))
    def test_encode_whole_matches_header_plus_encode(self, fmt: AudioFormat) -> None:
        x = _sine(300, 16000, 0.05)
        encoder = AudioEncoder(fmt, 16000)
        assert encode_whole(x, 16000, fmt) == encoder.header(x.size) + encoder.encode(x)


# ---------------------------------------------------------------------------------------------
# Fades


class TestFade:
    def test_ramps_reach_zero_at_the_edges(self) -> None:
        x = np.ones(1000, dtype=np.float32)
        y = fade(x, 1000, fade_in_ms=10, fade_out_ms=20)
        assert y[0] == 0.0 and y[-1] == 0.0
        assert np.all(np.diff(y[:10]) > 0)
        assert np.all(np.diff(y[-20:]) < 0)
        assert np.array_equal(y[10:-20], x[10:-20])
        assert np.array_equal(x, np.ones(1000, dtype=np.float32))  # input untouched

    def test_no_fade_is_identity(self) -> None:
        x = _sine(440, 24000, 0.01)
        assert np.array_equal(fade(x, 24000), x)

    def test_ramp_longer_than_audio(self) -> None:
        y = fade(np.ones(5, dtype=np.float32), 1000, fade_in_ms=100, fade_out_ms=100)
        assert y.size == 5 and y[0] == 0.0 and y[-1] == 0.0
        assert fade(np.zeros(0, dtype=np.float32), 1000, fade_in_ms=5).size == 0

    def test_join_has_no_click(self) -> None:
        rate = 24000
        a = fade(np.full(2400, 0.8, dtype=np.float32), rate, fade_out_ms=5)
        b = fade(np.full(2400, -0.8, dtype=np.float32), rate, fade_in_ms=5)
        joined = np.concatenate([a, b])
        # Without fades the step at the join would be 1.6; with them no step exceeds 0.02.
        assert np.max(np.abs(np.diff(joined))) < 0.02

    def test_negative_length_rejected(self) -> None:
        with pytest.raises(ValueError):
            fade(np.ones(10, dtype=np.float32), 1000, fade_in_ms=-1)


class TestCompressed:
    """mp3, Opus, AAC and FLAC through PyAV, decoded back by FFmpeg's own decoders."""

    RATE = 24000

    @staticmethod
    def decode(data: bytes) -> tuple[np.ndarray, int]:
        with av.open(io.BytesIO(data)) as container:
            frames = list(container.decode(audio=0))
        samples = np.concatenate([f.to_ndarray().reshape(-1) for f in frames]).astype(np.float32)
        if frames[0].format.name.startswith("s16"):
            samples /= 32768.0
        return samples, frames[0].sample_rate

    def tone(self, seconds: float) -> np.ndarray:
        t = np.arange(int(seconds * self.RATE)) / self.RATE
        return (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)

    @pytest.mark.parametrize("fmt", ["mp3", "opus", "aac", "flac"])
    def test_chunks_streamed_decode_to_the_whole(self, fmt: str) -> None:
        chunks = [self.tone(0.7), self.tone(0.05), self.tone(1.3)]
        encoder = AudioEncoder(fmt, self.RATE)
        parts = [encoder.header()] + [encoder.encode(chunk) for chunk in chunks]
        parts.append(encoder.finish())
        samples, rate = self.decode(b"".join(parts))
        seconds = sum(chunk.size for chunk in chunks) / self.RATE
        # Lossy codecs add their delay and last-frame padding; none loses audio.
        assert seconds - 0.005 <= samples.size / rate <= seconds + 2 * 1152 / rate
        assert abs(np.sqrt(np.mean(samples**2)) - 0.3 / np.sqrt(2)) < 0.03  # the tone's level
        if fmt != "flac":  # streamed formats give bytes before the end
            assert len(parts[1]) > 0, "the first chunk was held back"

    def test_flac_is_lossless(self) -> None:
        audio = self.tone(0.5)
        samples, rate = self.decode(encode_whole(audio, self.RATE, "flac"))
        assert rate == self.RATE and samples.size == audio.size
        # Within one 16-bit step of our s16 (FFmpeg scales by 32768, `to_s16` by 32767).
        assert np.max(np.abs(samples - to_s16(audio) / 32768.0)) <= 1.5 / 32768

    def test_opus_takes_rates_it_has_not(self) -> None:
        # Opus has no 22,050 Hz: resampled to 48 kHz, which its decoders give anyway.
        samples, rate = self.decode(encode_whole(self.tone(1.0), 22050, "opus"))
        assert rate == 48000 and abs(samples.size / rate - 24000 / 22050) < 0.05
