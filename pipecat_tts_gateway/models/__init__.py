"""Model files of the gateway: what they are (catalog) and how they get onto disk (fetch)."""

from pipecat_tts_gateway.models.catalog import (
    CATALOG,
    DEFAULT_MODELS_DIR,
    KOKORO_DURATION_MODEL,
    KOKORO_DURATION_OUTPUT,
    KOKORO_MODEL,
    KOKORO_SAMPLES_PER_FRAME,
    KOKORO_VOCAB,
    KOKORO_VOICE_SHAPE,
    KOKORO_VOICES_DIR,
    PIPER_EN_MODEL,
    PIPER_RU_MODEL,
    PIPER_RU_STANDIN_CONFIG,
    STANDIN_PHONEME_REMAP,
    ModelFile,
    ModelStatus,
)
from pipecat_tts_gateway.models.fetch import fetch_models, list_models, russian_piper_voice

__all__ = [
    "CATALOG",
    "DEFAULT_MODELS_DIR",
    "KOKORO_DURATION_MODEL",
    "KOKORO_DURATION_OUTPUT",
    "KOKORO_MODEL",
    "KOKORO_SAMPLES_PER_FRAME",
    "KOKORO_VOCAB",
    "KOKORO_VOICES_DIR",
    "KOKORO_VOICE_SHAPE",
    "PIPER_EN_MODEL",
    "PIPER_RU_MODEL",
    "PIPER_RU_STANDIN_CONFIG",
    "STANDIN_PHONEME_REMAP",
    "ModelFile",
    "ModelStatus",
    "fetch_models",
    "list_models",
    "russian_piper_voice",
]
