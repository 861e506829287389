"""Pipecat's own Kokoro and Piper services, pointed at exactly our weights and voices.

Neither may download anything: KokoroTTSService gets `model_path`/`voices_path`, and
PiperTTSService finds `<voice>.onnx` in its `download_dir`. kokoro-onnx wants every voice in
one `voices-v1.0.bin` (an np.savez of the same [510, 1, 256] arrays we keep as separate files),
so one is written into a scratch directory; Piper's Russian stand-in pairs joe's English .onnx
with the stand-in config, as our gateway does.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from pipecat_tts_gateway.config import GatewayConfig
from pipecat_tts_gateway.engines.factory import piper_voices
from pipecat_tts_gateway.engines.kokoro import VOICE_SHAPE

if TYPE_CHECKING:
    from pipecat.services.tts_service import TTSService


def kokoro_voices_file(voices_dir: Path, scratch: Path) -> Path:
    """Pack `<voice>.bin` files into kokoro-onnx's single npz voices file."""
    path = scratch / "voices-v1.0.bin"
    arrays = {
        p.stem: np.fromfile(p, dtype="<f4").reshape(VOICE_SHAPE)
        for p in sorted(voices_dir.glob("*.bin"))
    }
    with path.open("wb") as f:  # a file object, so np.savez does not append ".npz"
        np.savez(f, **arrays)
    return path


def kokoro_peer(config: GatewayConfig, scratch: Path, voice: str) -> TTSService:
    """pipecat's KokoroTTSService on our Kokoro model and voice (espeak phonemes, its own)."""
    from pipecat.services.kokoro.tts import KokoroTTSService

    p = config.primary_tts
    return KokoroTTSService(
        model_path=p.model_path,
        voices_path=str(kokoro_voices_file(Path(p.voices_dir), scratch)),
        settings=KokoroTTSService.Settings(voice=voice),
    )


def piper_peer(config: GatewayConfig, scratch: Path, language: str) -> TTSService:
    """pipecat's PiperTTSService on the Piper voice our routes use for `language`."""
    from pipecat.services.piper.tts import PiperTTSService

    spec = next(s for s in piper_voices(config) if s.language == language)
    directory = scratch / "piper"
    directory.mkdir(exist_ok=True)
    for source, target in (
        (spec.model_path, directory / f"{spec.name}.onnx"),
        (spec.config_path, directory / f"{spec.name}.onnx.json"),
    ):
        if not target.exists():
            target.symlink_to(source.resolve())
    return PiperTTSService(
        settings=PiperTTSService.Settings(voice=spec.name), download_dir=directory
    )
